package cmd

import (
	"context"
	"errors"
	"fmt"
	"maps"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"k8s.io/cli-runtime/pkg/genericiooptions"

	"github.com/kbackup/kbackup/core/catalog"
	"github.com/kbackup/kbackup/core/export"
	"github.com/kbackup/kbackup/core/repo"
	"github.com/kbackup/kbackup/core/selection"
	"github.com/kbackup/kbackup/kubectl-kbackup/internal/ui"
)

// ExitDrift is the exit code of `export --check` when the directory
// differs from what the backup gives; 1 stays the code of errors.
const ExitDrift = 3

// ExportOptions write a backup as files for Git.
type ExportOptions struct {
	Global *GlobalOptions

	Backup      string
	FromCluster string
	OutputDir   string
	Format      string
	RepoURL     string
	Revision    string
	Project     string
	Secrets     string
	Check       bool

	IncludeNamespaces, ExcludeNamespaces []string
	IncludeResources, ExcludeResources   []string
	Selector                             string
	PreserveNodePorts                    bool
	Report                               string

	namespace string
	changed   func(string) bool
	config    *LoadedConfig
	options   export.Options

	genericiooptions.IOStreams
}

// NewExportOptions returns the options with their defaults.
func NewExportOptions(global *GlobalOptions, streams genericiooptions.IOStreams) *ExportOptions {
	return &ExportOptions{Global: global, IOStreams: streams, Backup: catalog.Latest}
}

// NewCmdExport returns `kubectl kbackup export`.
func NewCmdExport(global *GlobalOptions, streams genericiooptions.IOStreams) *cobra.Command {
	o := NewExportOptions(global, streams)
	cmd := &cobra.Command{
		Use:   "export [ID|latest] --output DIR",
		Short: "Write a backup as a GitOps repository (Kustomize and Argo CD) or as plain manifests",
		Long: `Write the objects of a backup (by default the latest of --from-cluster) into a
directory, cleaned as a person would write them: no server-set metadata, no
status, no defaults the API server adds, nothing a controller makes, no
cluster-specific values (docs/export.md).

--format gitops (the default) writes a Kustomize base per namespace, an
overlay per environment of kbackup.yaml (namespace, label, replica count),
an Argo CD Application per namespace and environment, one for the
cluster-scoped objects the namespaces need, an app-of-apps per environment
and a README on bootstrapping Argo CD. Destinations come from each
environment's cluster_url, or from kbackup.yaml's clusters: overrides per
namespace. --format plain writes <cluster>/<namespace>/<type>/<name>.yaml.

Secrets are left out and listed in SECRETS.md with how to supply each
(Sealed Secrets, External Secrets Operator, SOPS); --secrets include writes
them, with a warning. No Secret value is ever printed.

Exporting again into the same directory rewrites only files whose content
changed and removes the files of objects that are gone, only files it wrote
itself (listed in .kbackup-export.json); a directory holding other files is
refused. --check writes nothing and exits 3 when the directory differs from
what the backup gives, 0 when it does not.`,
		Example: `  # The latest backup of prod-eu as a GitOps repository
  kubectl kbackup export --from-cluster prod-eu --output ./gitops --repo-url https://git.example.com/platform/prod-eu.git

  # In CI: does Git still match the cluster's latest backup?
  kubectl kbackup export --from-cluster prod-eu --output ./gitops --repo-url https://git.example.com/platform/prod-eu.git --check

  # One namespace as plain files
  kubectl kbackup export 20260301T020000Z-1a2b3c --format plain -n shop --output ./manifests`,
		Args: cobra.MaximumNArgs(1),
		RunE: runOptions(o),
	}
	o.AddFlags(cmd.Flags())
	return cmd
}

// AddFlags registers the command's flags.
func (o *ExportOptions) AddFlags(fs *pflag.FlagSet) {
	fs.StringVar(&o.FromCluster, "from-cluster", "", "Cluster of the backup (default: the current context's for latest; an ID is found in any cluster).")
	fs.StringVar(&o.OutputDir, "output", "", "Directory to write into (created when missing; refused when it holds files an export did not write).")
	fs.StringVar(&o.Format, "format", string(export.FormatGitOps), "Layout: gitops (Kustomize overlays per environment and Argo CD Applications) or plain (<cluster>/<namespace>/<type>/<name>.yaml).")
	fs.StringVar(&o.RepoURL, "repo-url", "", "Git repository the Argo CD Applications read (required for --format gitops).")
	fs.StringVar(&o.Revision, "revision", export.DefaultRevision, "Git revision (branch, tag or commit) the Applications track.")
	fs.StringVar(&o.Project, "project", export.DefaultProject, "Argo CD project of the Applications; another than default is written as argocd/project.yaml.")
	fs.StringVar(&o.Secrets, "secrets", export.SecretsOmit, "omit: leave Secrets out and list them in SECRETS.md; include: write them with their values (a warning says so).")
	fs.BoolVar(&o.Check, "check", false, "Write nothing; exit 3 when the directory differs from what the backup gives, 0 when it does not.")
	fs.StringSliceVar(&o.IncludeNamespaces, "include-namespaces", nil, "Namespaces to export: names or patterns (default: all but kube-system, kube-public and kube-node-lease). -n NAMESPACE exports one.")
	fs.StringSliceVar(&o.ExcludeNamespaces, "exclude-namespaces", nil, "Namespaces to leave out.")
	fs.StringSliceVar(&o.IncludeResources, "include-resources", nil, "Resource types to export, as resource.group, plural, kind or short name (default: all).")
	fs.StringSliceVar(&o.ExcludeResources, "exclude-resources", nil, "Resource types to leave out, in the same forms.")
	fs.StringVarP(&o.Selector, "selector", "l", "", "Export only objects whose labels match this selector.")
	fs.BoolVar(&o.PreserveNodePorts, "preserve-nodeports", false, "Keep the node ports of Services (left out by default: each cluster allocates its own).")
	fs.StringVar(&o.Report, "report", "", "Print the result as json or yaml instead of text.")
}

// Complete reads the argument, the configuration and the flags.
func (o *ExportOptions) Complete(fs *pflag.FlagSet, args []string) error {
	if len(args) > 0 {
		o.Backup = args[0]
	}
	o.namespace = deref(o.Global.ConfigFlags.Namespace)
	o.changed = func(name string) bool { return fs != nil && fs.Changed(name) }
	cfg, err := o.Global.loadConfig()
	if err != nil {
		return err
	}
	o.config = cfg
	o.options = export.Options{
		Selection: selection.Selection{
			IncludeNamespaces: o.IncludeNamespaces,
			ExcludeNamespaces: o.ExcludeNamespaces,
			IncludeResources:  o.IncludeResources,
			ExcludeResources:  o.ExcludeResources,
			LabelSelector:     o.Selector,
		},
		Format:            export.Format(o.Format),
		RepoURL:           o.RepoURL,
		Revision:          o.Revision,
		Project:           o.Project,
		Secrets:           o.Secrets,
		PreserveNodePorts: o.PreserveNodePorts,
		Check:             o.Check,
		Clusters:          maps.Clone(cfg.Clusters),
	}
	for _, e := range cfg.Environments {
		o.options.Environments = append(o.options.Environments, export.Environment{Name: e.Name, ClusterURL: e.ClusterURL, AutoSync: e.AutoSync, Replicas: e.Replicas})
	}
	if o.namespace != "" {
		o.options.IncludeNamespaces = []string{o.namespace}
	}
	return nil
}

// Validate checks the arguments and flags.
func (o *ExportOptions) Validate() error {
	if err := validateBackupArg(o.Backup); err != nil {
		return err
	}
	if o.FromCluster != "" {
		if err := repo.ValidateClusterName(o.FromCluster); err != nil {
			return flagErrors(err, map[string]string{"cluster.name": "--from-cluster"})
		}
	}
	if o.OutputDir == "" {
		return errors.New("--output is required: the directory to export into, like ./gitops")
	}
	if o.namespace != "" && o.changed != nil && o.changed("include-namespaces") {
		return fmt.Errorf("-n/--namespace %s and --include-namespaces exclude each other: give the namespaces in one of them", o.namespace)
	}
	if o.Report != "" {
		if err := ui.ValidateOutput(o.Report, false); err != nil {
			return fmt.Errorf("--report %q is not supported: use json or yaml, or leave it out for text", o.Report)
		}
	}
	return o.fieldErrors(o.options.Validate())
}

// fieldErrors names flags, and kbackup.yaml for the environments.
func (o *ExportOptions) fieldErrors(err error) error {
	if err == nil {
		return nil
	}
	flags := withFlags(map[string]string{
		export.FieldFormat:   "--format",
		export.FieldSecrets:  "--secrets",
		export.FieldRepoURL:  "--repo-url",
		export.FieldRevision: "--revision",
		export.FieldProject:  "--project",
		export.FieldOutput:   "--output",
	})
	if o.namespace != "" {
		flags[selection.FieldIncludeNamespaces] = "-n/--namespace"
	}
	err = flagErrors(err, flags)
	if containsField(err, export.FieldEnvironments) || containsField(err, export.FieldClusters) {
		where := "kbackup.yaml"
		if o.config != nil && o.config.File.Path != "" {
			where = o.config.File.Path
		}
		return fmt.Errorf("%w\n(environments and clusters come from %s)", err, where)
	}
	return err
}

func containsField(err error, prefix string) bool {
	for _, fe := range fieldErrorsIn(err) {
		if fe.Field == prefix || len(fe.Field) > len(prefix) && fe.Field[:len(prefix)] == prefix && (fe.Field[len(prefix)] == '.' || fe.Field[len(prefix)] == '[') {
			return true
		}
	}
	return false
}

// Run exports and reports; drift with --check returns ExitDrift.
func (o *ExportOptions) Run(ctx context.Context) error {
	r, err := openRepository(ctx, o.config)
	if err != nil {
		return err
	}
	m, err := resolveBackup(ctx, r, o.FromCluster, o.Backup, "--from-cluster", func(ctx context.Context) (string, error) {
		return o.Global.clusterName(ctx, o.config, "")
	})
	if err != nil {
		return err
	}
	res, err := export.Run(ctx, r, m, o.OutputDir, o.options)
	if err != nil {
		return o.fieldErrors(err)
	}
	if o.Report != "" {
		for _, w := range res.Warnings {
			fmt.Fprintln(o.ErrOut, "Warning:", ui.Sanitize(w))
		}
		err = ui.PrintObject(o.Out, o.Report, res)
	} else {
		err = ui.RenderExport(o.Out, ui.NewStyles(o.Out), res)
	}
	if err != nil {
		return err
	}
	if res.Check && res.Drift {
		return &ExitError{Code: ExitDrift, Err: fmt.Errorf("%s differs from backup %s: %d files to create, %d to update, %d to delete",
			res.Dir, res.Backup, len(res.Created), len(res.Updated), len(res.Deleted))}
	}
	return nil
}
