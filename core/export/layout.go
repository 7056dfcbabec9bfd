package export

import (
	"bytes"
	"fmt"
	"path"
	"slices"
	"strings"
)

// Directories and names of the gitops layout.
const (
	namespacesDir = "namespaces"
	clusterDir    = "cluster"
	argocdDir     = "argocd"
	baseDir       = "base"
	// clusterApp prefixes the Applications of cluster-scoped objects.
	clusterApp = "cluster-scoped"
	// argocdNamespace is where Argo CD's Applications live.
	argocdNamespace = "argocd"
	// inCluster is Argo CD's name for its own cluster.
	inCluster = "https://kubernetes.default.svc"
	// EnvironmentLabel marks every object of an overlay with its
	// environment.
	EnvironmentLabel = "kbackup.io/environment"
)

// fileName makes a name safe as a file name: lower case, and nothing but
// letters, digits, '.', '-' and '_'.
func fileName(s string) string {
	s = strings.ToLower(s)
	return strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9', r == '.', r == '-', r == '_':
			return r
		}
		return '_'
	}, s)
}

// baseFiles names each object's file in a base directory:
// <kind>-<name>.yaml, or <kind>.<group>-<name>.yaml where two objects
// would share a name.
func baseFiles(objs []object) []string {
	names := make([]string, len(objs))
	count := map[string]int{}
	for i, o := range objs {
		names[i] = fileName(o.kind+"-"+o.name) + ".yaml"
		count[names[i]]++
	}
	for i, o := range objs {
		if count[names[i]] > 1 {
			names[i] = fileName(o.kind+"."+o.group+"-"+o.name) + ".yaml"
		}
	}
	// Still shared (names that differ only in characters fileName
	// replaces): number them in object order.
	seen := map[string]int{}
	for i := range names {
		seen[names[i]]++
		if n := seen[names[i]]; n > 1 {
			names[i] = strings.TrimSuffix(names[i], ".yaml") + fmt.Sprintf("-%d.yaml", n)
		}
	}
	return names
}

// plainLayout writes <cluster>/<namespace>/<type>/<name>.yaml, with
// cluster-scoped objects under <cluster>/_cluster (a namespace cannot be
// named so).
func plainLayout(cluster string, objs []object) map[string][]byte {
	files := map[string][]byte{}
	for _, o := range objs {
		ns, resource := o.namespace, o.resource
		if ns == "" || o.kind == "Namespace" && o.group == "" {
			ns = "_cluster"
		}
		files[path.Join(fileName(cluster), ns, fileName(resource), fileName(o.name)+".yaml")] = o.data
	}
	files["README.md"] = plainReadme(cluster)
	return files
}

// gitopsLayout writes the Kustomize bases and overlays and the Argo CD
// Applications.
func gitopsLayout(cluster string, objs []object, opts Options, res *Result) (map[string][]byte, error) {
	files := map[string][]byte{}
	byNamespace := map[string][]object{}
	var namespaces []string
	for _, o := range objs {
		if _, ok := byNamespace[o.namespace]; !ok {
			namespaces = append(namespaces, o.namespace)
		}
		byNamespace[o.namespace] = append(byNamespace[o.namespace], o)
	}
	slices.Sort(namespaces)
	for _, e := range opts.Environments {
		res.Environments = append(res.Environments, e.Name)
	}
	for _, ns := range namespaces {
		if ns != "" && strings.HasPrefix(ns, clusterApp+"-") {
			for _, e := range opts.Environments {
				if ns == clusterApp+"-"+e.Name || strings.HasPrefix(ns, clusterApp+"-"+e.Name+"-") {
					return nil, fmt.Errorf("namespace %s would share its Application's name with the cluster-scoped objects' of environment %s; leave it out (--exclude-namespaces %s) or export it separately", ns, e.Name, ns)
				}
			}
		}
	}

	var apps []application
	for _, ns := range namespaces {
		group := byNamespace[ns]
		dir := path.Join(namespacesDir, ns)
		if ns == "" {
			dir = clusterDir
		}
		writeBase(files, path.Join(dir, baseDir), group)
		hasKind := func(kind string) bool {
			return slices.ContainsFunc(group, func(o object) bool { return o.kind == kind && o.group == "apps" })
		}
		custom := slices.ContainsFunc(group, func(o object) bool { return o.custom })
		for _, e := range opts.Environments {
			var patches []any
			for _, kind := range []string{"Deployment", "StatefulSet"} {
				if hasKind(kind) {
					patches = append(patches, replicaPatch(kind, e.Replicas))
				}
			}
			k := pairs{
				{"apiVersion", "kustomize.config.k8s.io/v1beta1"},
				{"kind", "Kustomization"},
			}
			if ns != "" {
				k = append(k, pair{"namespace", ns})
			}
			k = append(k,
				pair{"resources", []any{"../" + baseDir}},
				pair{"labels", []any{pairs{
					{"pairs", pairs{{EnvironmentLabel, e.Name}}},
					{"includeSelectors", false},
					{"includeTemplates", false},
				}}})
			if len(patches) > 0 {
				k = append(k, pair{"patches", patches})
			}
			files[path.Join(dir, e.Name, "kustomization.yaml")] = encodePairs(k)
		}
		if ns == "" {
			continue
		}
		for _, e := range opts.Environments {
			apps = append(apps, application{name: ns + "-" + e.Name, env: e, namespace: ns, path: path.Join(dir, e.Name),
				server: opts.server(ns, e), customResources: custom})
		}
	}
	if cluster := byNamespace[""]; len(cluster) > 0 {
		for _, e := range opts.Environments {
			// The cluster-scoped objects go to every API server the
			// environment's namespaces deploy to.
			servers := map[string]string{}
			envServer := opts.server(DefaultCluster, e)
			servers[envServer] = clusterApp + "-" + e.Name
			for _, ns := range namespaces {
				if s := opts.server(ns, e); ns != "" && servers[s] == "" {
					servers[s] = clusterApp + "-" + e.Name + "-" + ns
				}
			}
			for server, name := range servers {
				apps = append(apps, application{name: name, env: e, path: path.Join(clusterDir, e.Name), server: server, wave: "-1"})
			}
		}
	}
	slices.SortFunc(apps, func(a, b application) int { return strings.Compare(a.name, b.name) })
	for _, a := range apps {
		files[path.Join(argocdDir, a.env.Name, a.name+".yaml")] = a.encode(opts)
	}
	for _, e := range opts.Environments {
		root := application{name: "apps-" + e.Name, env: e, path: path.Join(argocdDir, e.Name), server: inCluster, namespace: argocdNamespace, root: true}
		files[path.Join(argocdDir, "apps-"+e.Name+".yaml")] = root.encode(opts)
	}
	if opts.Project != DefaultProject {
		files[path.Join(argocdDir, "project.yaml")] = appProject(cluster, objs, apps, opts)
	}
	files["README.md"] = gitopsReadme(cluster, namespaces, apps, opts)
	return files, nil
}

// writeBase writes a base: one file per object and its kustomization.
func writeBase(files map[string][]byte, dir string, objs []object) {
	names := baseFiles(objs)
	resources := make([]any, 0, len(names))
	order := slices.Clone(names)
	slices.Sort(order)
	for i, o := range objs {
		files[path.Join(dir, names[i])] = o.data
	}
	for _, n := range order {
		resources = append(resources, n)
	}
	files[path.Join(dir, "kustomization.yaml")] = encodePairs(pairs{
		{"apiVersion", "kustomize.config.k8s.io/v1beta1"},
		{"kind", "Kustomization"},
		{"resources", resources},
	})
}

// replicaPatch sets the replicas of every object of kind.
func replicaPatch(kind string, replicas int) pairs {
	patch := encodePairs(pairs{
		{"apiVersion", "apps/v1"},
		{"kind", kind},
		{"metadata", pairs{{"name", "all"}}},
		{"spec", pairs{{"replicas", replicas}}},
	})
	return pairs{
		{"target", pairs{{"group", "apps"}, {"version", "v1"}, {"kind", kind}}},
		{"patch", string(patch)},
	}
}

// application is one Argo CD Application.
type application struct {
	name, path, server string
	env                Environment
	// namespace is the destination namespace ("" for cluster-scoped
	// objects).
	namespace       string
	customResources bool
	// wave orders it in its app-of-apps: cluster-scoped objects (CRDs,
	// classes) first.
	wave string
	root bool
}

func (a application) encode(opts Options) []byte {
	meta := pairs{{"name", a.name}, {"namespace", argocdNamespace}, {"labels", pairs{{EnvironmentLabel, a.env.Name}}}}
	if a.wave != "" {
		meta = append(meta, pair{"annotations", pairs{{"argocd.argoproj.io/sync-wave", a.wave}}})
	}
	dest := pairs{{"server", a.server}}
	if a.namespace != "" {
		dest = append(dest, pair{"namespace", a.namespace})
	}
	sync := pairs{}
	if a.env.AutoSync {
		sync = append(sync, pair{"automated", pairs{{"prune", true}, {"selfHeal", true}}})
	}
	var options []any
	if a.namespace != "" && !a.root {
		options = append(options, "CreateNamespace=true")
	}
	if a.customResources {
		// Its CustomResourceDefinitions come with the cluster-scoped
		// Application, which may not have synced at the first dry run.
		options = append(options, "SkipDryRunOnMissingResource=true")
	}
	if len(options) > 0 {
		sync = append(sync, pair{"syncOptions", options})
	}
	spec := pairs{
		{"project", opts.Project},
		{"source", pairs{{"repoURL", opts.RepoURL}, {"targetRevision", opts.Revision}, {"path", a.path}}},
		{"destination", dest},
	}
	if len(sync) > 0 {
		spec = append(spec, pair{"syncPolicy", sync})
	}
	return encodePairs(pairs{
		{"apiVersion", "argoproj.io/v1alpha1"},
		{"kind", "Application"},
		{"metadata", meta},
		{"spec", spec},
	})
}

// appProject allows the Applications' repository, destinations and
// cluster-scoped kinds, and nothing else.
func appProject(cluster string, objs []object, apps []application, opts Options) []byte {
	type dest struct{ server, namespace string }
	var dests []dest
	add := func(d dest) {
		if !slices.Contains(dests, d) {
			dests = append(dests, d)
		}
	}
	for _, a := range apps {
		ns := a.namespace
		if ns == "" {
			ns = "*" // cluster-scoped objects have no namespace; Argo CD wants one named
		}
		add(dest{a.server, ns})
	}
	add(dest{inCluster, argocdNamespace})
	slices.SortFunc(dests, func(a, b dest) int {
		if c := strings.Compare(a.server, b.server); c != 0 {
			return c
		}
		return strings.Compare(a.namespace, b.namespace)
	})
	var destinations []any
	for _, d := range dests {
		destinations = append(destinations, pairs{{"server", d.server}, {"namespace", d.namespace}})
	}
	type gk struct{ group, kind string }
	kinds := []gk{{"", "Namespace"}}
	for _, o := range objs {
		if o.namespace == "" && !slices.Contains(kinds, gk{o.group, o.kind}) {
			kinds = append(kinds, gk{o.group, o.kind})
		}
	}
	slices.SortFunc(kinds, func(a, b gk) int {
		if c := strings.Compare(a.group, b.group); c != 0 {
			return c
		}
		return strings.Compare(a.kind, b.kind)
	})
	var whitelist []any
	for _, k := range kinds {
		whitelist = append(whitelist, pairs{{"group", k.group}, {"kind", k.kind}})
	}
	return encodePairs(pairs{
		{"apiVersion", "argoproj.io/v1alpha1"},
		{"kind", "AppProject"},
		{"metadata", pairs{{"name", opts.Project}, {"namespace", argocdNamespace}}},
		{"spec", pairs{
			{"description", "Applications exported by kbackup from cluster " + cluster},
			{"sourceRepos", []any{opts.RepoURL}},
			{"destinations", destinations},
			{"clusterResourceWhitelist", whitelist},
		}},
	})
}

func gitopsReadme(cluster string, namespaces []string, apps []application, opts Options) []byte {
	var b bytes.Buffer
	p := func(format string, args ...any) { fmt.Fprintf(&b, format, args...) }
	p("# GitOps repository of cluster %s\n\n", cluster)
	p("Generated by `kubectl kbackup export` from a backup of cluster `%s`. Exporting again into this\n", cluster)
	p("directory updates it in place: files of objects that are gone are removed, unchanged files keep their\n")
	p("bytes. `.kbackup-export.json` lists the files the export wrote; it touches no other file.\n\n")
	p("## Layout\n\n")
	p("| path | what |\n|---|---|\n")
	p("| `namespaces/<namespace>/base/` | the namespace's objects, cleaned as a person would write them, one file each (`<kind>-<name>.yaml`) |\n")
	p("| `namespaces/<namespace>/<environment>/` | the environment's overlay: the namespace, the label `%s`, the environment's replica count on every Deployment and StatefulSet |\n", EnvironmentLabel)
	p("| `cluster/base/`, `cluster/<environment>/` | the cluster-scoped objects the namespaces need (CustomResourceDefinitions, classes, cluster roles and bindings) |\n")
	p("| `argocd/<environment>/` | an Argo CD Application per namespace (`<namespace>-<environment>`) and for the cluster-scoped objects (`%s-<environment>`) |\n", clusterApp)
	p("| `argocd/apps-<environment>.yaml` | the environment's app-of-apps: it syncs `argocd/<environment>/` |\n")
	if opts.Project != DefaultProject {
		p("| `argocd/project.yaml` | the Argo CD project `%s`: this repository, the destinations below, the cluster-scoped kinds exported |\n", opts.Project)
	}
	p("| `SECRETS.md` | the Secrets left out, if any, and how to supply each |\n\n")
	p("## Environments\n\n| environment | API server | automated sync (prune, self-heal) | replicas |\n|---|---|---|---|\n")
	for _, e := range opts.Environments {
		p("| %s | %s | %v | %d |\n", e.Name, opts.server(DefaultCluster, e), e.AutoSync, e.Replicas)
	}
	var overrides []string
	for _, a := range apps {
		if a.namespace != "" && a.server != opts.server(DefaultCluster, a.env) {
			overrides = append(overrides, fmt.Sprintf("- `%s` deploys to %s (kbackup.yaml `clusters.%s.%s`)\n", a.name, a.server, a.namespace, a.env.Name))
		}
	}
	if len(overrides) > 0 {
		p("\nNamespaces on clusters of their own:\n\n%s", strings.Join(overrides, ""))
	}
	p("\n## Namespaces\n\n")
	for _, ns := range namespaces {
		if ns != "" {
			p("- `%s`\n", ns)
		}
	}
	p("\n## Bootstrapping Argo CD\n\n")
	p("Push this directory to `%s` (revision `%s`), then, with Argo CD installed in namespace `argocd` of\n", opts.RepoURL, opts.Revision)
	p("the cluster that runs it, apply one environment's app-of-apps:\n\n```sh\n")
	if opts.Project != DefaultProject {
		p("kubectl apply -f argocd/project.yaml\n")
	}
	for _, e := range opts.Environments {
		p("kubectl apply -f argocd/apps-%s.yaml\n", e.Name)
	}
	p("```\n\nArgo CD then creates the environment's Applications; the cluster-scoped objects sync first (sync wave -1).\n")
	p("Environments without automated sync wait for `argocd app sync <name>`.\n")
	return b.Bytes()
}

func plainReadme(cluster string) []byte {
	return []byte(fmt.Sprintf(`# Manifests of cluster %s

Generated by `+"`kubectl kbackup export --format plain`"+` from a backup of cluster `+"`%s`"+`: one file per
object, cleaned as a person would write it, at `+"`%s/<namespace>/<type>/<name>.yaml`"+`; cluster-scoped objects
under `+"`%s/_cluster/`"+`. Exporting again updates the files in place; `+"`.kbackup-export.json`"+` lists them.
`, cluster, cluster, fileName(cluster), fileName(cluster)))
}
