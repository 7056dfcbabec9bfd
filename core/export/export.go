// Package export writes a backup as files people keep in Git: a GitOps
// repository (Kustomize bases per namespace, an overlay per environment,
// Argo CD Applications and an app-of-apps per environment) or a plain tree
// of cleaned manifests. It reads the backup through catalog, selects with
// selection and cleans with clean.Declared, and writes a directory in
// place: unchanged files keep their bytes, files of objects that are gone
// are removed, and files it did not write are never touched.
package export

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"slices"
	"strings"

	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/kbackup/kbackup/core/catalog"
	"github.com/kbackup/kbackup/core/repo"
	"github.com/kbackup/kbackup/core/selection"
)

// Format is the layout of an export.
type Format string

const (
	// FormatGitOps is a Kustomize and Argo CD repository.
	FormatGitOps Format = "gitops"
	// FormatPlain is <cluster>/<namespace>/<type>/<name>.yaml.
	FormatPlain Format = "plain"
)

// Formats are the accepted formats.
var Formats = []string{string(FormatGitOps), string(FormatPlain)}

// Values of Options.Secrets.
const (
	SecretsOmit    = "omit"
	SecretsInclude = "include"
)

// Field names of Options in error paths.
const (
	FieldFormat       = "format"
	FieldSecrets      = "secrets"
	FieldEnvironments = "environments"
	FieldClusters     = "clusters"
	FieldRepoURL      = "repo_url"
	FieldRevision     = "revision"
	FieldProject      = "project"
	FieldOutput       = "output"
)

// DefaultCluster is the group of Options.Clusters that gives every
// namespace's cluster per environment, unless the namespace has its own.
const DefaultCluster = "default"

// Environment is one stage the GitOps repository deploys to, as
// kbackup.yaml's environments describe it.
type Environment struct {
	Name       string `json:"name"`
	ClusterURL string `json:"clusterURL,omitempty"`
	// AutoSync makes its Applications sync automatically, with prune and
	// self-heal.
	AutoSync bool `json:"autoSync"`
	// Replicas is the replica count of every Deployment and StatefulSet.
	Replicas int `json:"replicas"`
}

// Options say what an export takes and how it writes it.
type Options struct {
	// Selection filters the backup's objects as a restore's does.
	selection.Selection
	Format Format
	// Environments and Clusters are kbackup.yaml's: Clusters maps a group
	// (DefaultCluster, or a namespace name) to an environment's API
	// server, overriding the environment's cluster_url for that namespace.
	Environments []Environment
	Clusters     map[string]map[string]string
	// RepoURL, Revision and Project go into the Argo CD Applications.
	RepoURL, Revision, Project string
	// Secrets is SecretsOmit (the default) or SecretsInclude.
	Secrets string
	// PreserveNodePorts keeps Services' node ports.
	PreserveNodePorts bool
	// Check compares the directory with what the export would write and
	// writes nothing.
	Check bool
	// Concurrency bounds the packs read at once (default 4).
	Concurrency int
}

// Defaults of Options.
const (
	DefaultRevision = "HEAD"
	DefaultProject  = "default"
)

// ErrDrift is returned by nothing; Result.Drift says it. ErrForeignFiles
// is the error of an output directory holding files the export did not
// write.
var ErrForeignFiles = errors.New("the output directory holds files kbackup export did not write")

var dnsLabel = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`)

// withDefaults fills the defaults in.
func (o Options) withDefaults() Options {
	if o.Format == "" {
		o.Format = FormatGitOps
	}
	if o.Secrets == "" {
		o.Secrets = SecretsOmit
	}
	if o.Revision == "" {
		o.Revision = DefaultRevision
	}
	if o.Project == "" {
		o.Project = DefaultProject
	}
	if o.Concurrency <= 0 {
		o.Concurrency = 4
	}
	return o
}

// Validate checks the options; errors name the field.
func (o Options) Validate() error {
	o = o.withDefaults()
	errs := o.Selection.Validate(nil)
	if !slices.Contains(Formats, string(o.Format)) {
		errs = append(errs, field.NotSupported(field.NewPath(FieldFormat), o.Format, Formats))
	}
	if o.Secrets != SecretsOmit && o.Secrets != SecretsInclude {
		errs = append(errs, field.NotSupported(field.NewPath(FieldSecrets), o.Secrets, []string{SecretsOmit, SecretsInclude}))
	}
	if o.Format == FormatGitOps {
		errs = append(errs, o.validateGitOps()...)
	}
	return errs.ToAggregate()
}

func (o Options) validateGitOps() field.ErrorList {
	var errs field.ErrorList
	if o.RepoURL == "" {
		errs = append(errs, field.Required(field.NewPath(FieldRepoURL),
			"the Git repository Argo CD reads the export from, like https://git.example.com/platform/shop-gitops.git"))
	} else if strings.ContainsAny(o.RepoURL, " \t\n") || !(strings.Contains(o.RepoURL, "://") || strings.Contains(o.RepoURL, "@")) {
		errs = append(errs, field.Invalid(field.NewPath(FieldRepoURL), o.RepoURL,
			"want a Git URL Argo CD can clone, like https://git.example.com/platform/shop-gitops.git or git@git.example.com:platform/shop-gitops.git"))
	}
	if strings.ContainsAny(o.Revision, " \t\n") {
		errs = append(errs, field.Invalid(field.NewPath(FieldRevision), o.Revision, "want a branch, tag or commit, like main"))
	}
	for _, msg := range validation.IsDNS1123Subdomain(o.Project) {
		errs = append(errs, field.Invalid(field.NewPath(FieldProject), o.Project, "an Argo CD project name: "+msg))
	}
	envs := field.NewPath(FieldEnvironments)
	if len(o.Environments) == 0 {
		errs = append(errs, field.Required(envs,
			"a GitOps export writes an overlay per environment: define them in kbackup.yaml, like environments: [{name: prod, cluster_url: https://prod.example.com:6443, replicas: 3}]"))
	}
	names := make([]string, 0, len(o.Environments))
	for i, e := range o.Environments {
		p := envs.Index(i)
		switch {
		case !dnsLabel.MatchString(e.Name) || len(e.Name) > 63:
			errs = append(errs, field.Invalid(p.Child("name"), e.Name, "want a DNS label (lowercase letters, digits and -), like prod"))
		case e.Name == "base":
			errs = append(errs, field.Invalid(p.Child("name"), e.Name, "base is the directory of each namespace's cleaned manifests; name the environment otherwise"))
		case slices.Contains(names, e.Name):
			errs = append(errs, field.Duplicate(p.Child("name"), e.Name))
		}
		names = append(names, e.Name)
		if e.Replicas < 0 {
			errs = append(errs, field.Invalid(p.Child("replicas"), e.Replicas, "want 0 or more"))
		}
		server := e.ClusterURL
		if server == "" {
			server = o.Clusters[DefaultCluster][e.Name]
		}
		if server == "" {
			errs = append(errs, field.Required(p.Child("cluster_url"), fmt.Sprintf(
				"environment %q has no cluster_url, and clusters.%s has no %s: its Argo CD Applications need the API server to deploy to, like https://%s.example.com:6443",
				e.Name, DefaultCluster, e.Name, e.Name)))
		} else if err := httpURL(server); err != nil {
			errs = append(errs, field.Invalid(p.Child("cluster_url"), server, err.Error()))
		}
	}
	groups := make([]string, 0, len(o.Clusters))
	for g := range o.Clusters {
		groups = append(groups, g)
	}
	slices.Sort(groups)
	for _, g := range groups {
		envNames := make([]string, 0, len(o.Clusters[g]))
		for e := range o.Clusters[g] {
			envNames = append(envNames, e)
		}
		slices.Sort(envNames)
		for _, e := range envNames {
			p := field.NewPath(FieldClusters).Child(g).Child(e)
			if !slices.Contains(names, e) {
				errs = append(errs, field.Invalid(p, e, fmt.Sprintf("%q is not an environment; defined: %s", e, orNone(names))))
				continue
			}
			if err := httpURL(o.Clusters[g][e]); err != nil {
				errs = append(errs, field.Invalid(p, o.Clusters[g][e], err.Error()))
			}
		}
	}
	return errs
}

func httpURL(s string) error {
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return errors.New("want an absolute http(s) URL of an API server, like https://prod.example.com:6443")
	}
	return nil
}

func orNone(names []string) string {
	if len(names) == 0 {
		return "none"
	}
	return strings.Join(names, ", ")
}

// server returns the API server a namespace's Application of env deploys
// to: the namespace's clusters: override, else the environment's
// cluster_url, else clusters.default.
func (o Options) server(namespace string, env Environment) string {
	if s := o.Clusters[namespace][env.Name]; s != "" && namespace != DefaultCluster {
		return s
	}
	if env.ClusterURL != "" {
		return env.ClusterURL
	}
	return o.Clusters[DefaultCluster][env.Name]
}

// Result is what an export wrote, or would write with Check.
type Result struct {
	Backup  string `json:"backup"`
	Cluster string `json:"cluster"`
	Format  Format `json:"format"`
	Dir     string `json:"dir"`
	Check   bool   `json:"check,omitempty"`

	Namespaces   []string `json:"namespaces"`
	Environments []string `json:"environments,omitempty"`
	// Objects is the number of objects exported, ClusterObjects those of
	// them that are cluster-scoped.
	Objects        int `json:"objects"`
	ClusterObjects int `json:"clusterObjects"`
	// Files is the number of files the export consists of (the index
	// included).
	Files int `json:"files"`
	// Created, Updated and Deleted are paths relative to Dir; with Check,
	// what an export would do.
	Created   []string `json:"created,omitempty"`
	Updated   []string `json:"updated,omitempty"`
	Deleted   []string `json:"deleted,omitempty"`
	Unchanged int      `json:"unchanged"`
	// Drift says, with Check, that the directory differs from the backup.
	Drift bool `json:"drift,omitempty"`

	// Left are the objects left out, with why (not Secrets, which Secrets
	// lists).
	Left []LeftOut `json:"left,omitempty"`
	// Secrets are the Secrets left out (by default) or written (with
	// SecretsInclude), by name and key names: never a value.
	Secrets         []SecretRef `json:"secrets,omitempty"`
	SecretsIncluded bool        `json:"secretsIncluded,omitempty"`
	Warnings        []string    `json:"warnings,omitempty"`
}

// Changed reports whether the export changed (or with Check, would change)
// any file.
func (r *Result) Changed() bool {
	return len(r.Created)+len(r.Updated)+len(r.Deleted) > 0
}

// LeftOut is an object the export does not write.
type LeftOut struct {
	Resource  string `json:"resource"`
	Namespace string `json:"namespace,omitempty"`
	Name      string `json:"name"`
	Reason    string `json:"reason"`
	// Owner is the controller that makes it, "Kind name", if any.
	Owner string `json:"owner,omitempty"`
}

// SecretRef names a Secret and its keys.
type SecretRef struct {
	Namespace string   `json:"namespace"`
	Name      string   `json:"name"`
	Type      string   `json:"type,omitempty"`
	Keys      []string `json:"keys,omitempty"`
}

// Run exports the backup m of repository r into dir.
func Run(ctx context.Context, r *repo.Repository, m *repo.Manifest, dir string, opts Options) (*Result, error) {
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	opts = opts.withDefaults()
	if dir == "" {
		return nil, field.Required(field.NewPath(FieldOutput), "the directory to export into")
	}
	out, err := openOutput(dir)
	if err != nil {
		return nil, err
	}
	sel, err := opts.Selection.Compile(nil, catalog.TypeNames{Backups: []*repo.Manifest{m}}.Resolver())
	if err != nil {
		return nil, err
	}
	if err := catalog.CheckNamespaces(m, sel); err != nil {
		return nil, err
	}
	res := &Result{Backup: m.ID, Cluster: m.Cluster.Name, Format: opts.Format, Dir: dir, Check: opts.Check,
		SecretsIncluded: opts.Secrets == SecretsInclude}
	objs, err := collect(ctx, r, m, sel, opts, res)
	if err != nil {
		return nil, err
	}
	var files map[string][]byte
	switch opts.Format {
	case FormatPlain:
		files = plainLayout(m.Cluster.Name, objs)
	default:
		files, err = gitopsLayout(m.Cluster.Name, objs, opts, res)
		if err != nil {
			return nil, err
		}
	}
	if len(res.Secrets) > 0 {
		files["SECRETS.md"] = secretsGuide(res.Secrets, opts)
	}
	if opts.Secrets == SecretsInclude && len(res.Secrets) > 0 {
		res.Warnings = append(res.Warnings, fmt.Sprintf(
			"%d Secrets are written with their values (base64, not encrypted) under %s: keep them out of any shared repository, or encrypt them (SECRETS.md)",
			len(res.Secrets), out.root))
	}
	if err := out.sync(files, opts.Format, opts.Check, res); err != nil {
		return nil, err
	}
	return res, nil
}
