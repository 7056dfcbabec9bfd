package cmd

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"k8s.io/cli-runtime/pkg/genericiooptions"

	"github.com/kbackup/kbackup/core/catalog"
	"github.com/kbackup/kbackup/core/clean"
	"github.com/kbackup/kbackup/core/config"
	"github.com/kbackup/kbackup/core/kube"
	"github.com/kbackup/kbackup/core/repo"
	"github.com/kbackup/kbackup/core/restore"
	"github.com/kbackup/kbackup/core/selection"
	"github.com/kbackup/kbackup/core/storage"
	"github.com/kbackup/kbackup/kubectl-kbackup/internal/ui"
)

// Values of --dry-run, spelt as kubectl spells them.
const (
	dryRunNone   = "none"
	dryRunServer = "server"
)

// RestoreOptions restores a backup into the cluster of the current context.
type RestoreOptions struct {
	Global *GlobalOptions

	// Backup is the ID, "latest", or empty: on a terminal, pick one.
	Backup string
	// FromCluster is the cluster whose backups are meant; empty means the
	// target's own (its name as --cluster-name, the configuration or
	// detection give it).
	FromCluster string

	IncludeNamespaces, ExcludeNamespaces []string
	IncludeResources, ExcludeResources   []string
	Selector                             string
	// Object is TYPE/NAME: restore that object only (in -n NAMESPACE).
	Object                 string
	ClusterResources       string
	NamespaceMapping       string
	IncludeOwned           bool
	PreserveNodePorts      bool
	ExistingResourcePolicy string
	// DryRun is none or server; --dry-run alone means server.
	DryRun      string
	Concurrency int
	Yes         bool
	ShowDiff    bool
	// ClusterName and ForceClusterName name the target, under which the
	// restore is recorded.
	ClusterName      string
	ForceClusterName bool
	Output           string

	// Set by Complete.
	namespace   string // -n, when given
	changed     func(name string) bool
	config      *LoadedConfig
	options     restore.Options
	interactive bool // stdin and stderr are a terminal to ask on
	in          *bufio.Reader
	now         func() time.Time

	genericiooptions.IOStreams
}

// NewRestoreOptions returns the options with their defaults.
func NewRestoreOptions(global *GlobalOptions, streams genericiooptions.IOStreams) *RestoreOptions {
	return &RestoreOptions{Global: global, IOStreams: streams, DryRun: dryRunNone, now: time.Now}
}

// NewCmdRestore returns `kubectl kbackup restore`, with its subcommands
// list and describe.
func NewCmdRestore(global *GlobalOptions, streams genericiooptions.IOStreams) *cobra.Command {
	o := NewRestoreOptions(global, streams)
	cmd := &cobra.Command{
		Use:   "restore [ID|latest]",
		Short: "Restore a backup into the cluster of the current context",
		Long: `Restore a backup into the cluster of the current context: the cluster it
came from, or another one.

The backup is the ID or latest of the current context's cluster, or of
--from-cluster NAME to restore another cluster's backup (a backup ID is found
in whichever cluster has it). On a terminal, without an ID, you pick one of
the recent backups.

Before anything changes, the restore shows its plan: how many objects of each
type in each namespace will be created, updated, left unchanged, skipped or
will fail, and which existing objects differ from the backup (--show-diff
shows how). On a terminal it then asks; --yes restores without asking and is
required when stdin is not a terminal. --dry-run (--dry-run=server) sends
every object with dryRun=All, so that the target's admission and validation
answer while nothing changes; it needs no confirmation.

What is restored, cleaned, left to controllers and in which order is in
docs/restore.md. Objects whose controller is restored too (ReplicaSets of
Deployments, Pods, Jobs of CronJobs, EndpointSlices) are skipped for the
controller to make, unless --include-owned. A restore never stops at an
object that fails: at the end a table gives the outcome of every object per
namespace and type, then every failed object with the target's error and
every skipped one with its reason. The record of the restore is written to
the repository as <target>/_restores/<id>.json ('restore describe ID').

Exit codes: 0 when every object was restored, unchanged or skipped; 2 when
some objects failed (PartiallyFailed: the others are restored); 1 on errors,
when the restore was not confirmed, or when every object sent failed.`,
		Example: `  # See what restoring the latest backup of prod-eu into this cluster would do
  kubectl kbackup restore latest --from-cluster prod-eu --context dr-us --dry-run

  # Restore one namespace under another name, without asking
  kubectl kbackup restore latest --from-cluster prod-eu -n shop --namespace-mapping shop:shop-restored --yes

  # Restore one object of a backup, overwriting the live one
  kubectl kbackup restore 20260301T020000Z-1a2b3c --object deployments.apps/api -n shop --existing-resource-policy update

  # Pick a recent backup of this cluster on the terminal
  kubectl kbackup restore`,
		Args: cobra.MaximumNArgs(1),
		RunE: runOptions(o),
	}
	o.AddFlags(cmd.Flags())
	cmd.AddCommand(
		NewCmdRestoreList(global, streams),
		NewCmdRestoreDescribe(global, streams),
	)
	return cmd
}

// AddFlags registers the command's flags.
func (o *RestoreOptions) AddFlags(fs *pflag.FlagSet) {
	fs.StringVar(&o.FromCluster, "from-cluster", "", "Cluster whose backup to restore (default: the target's own backups; an ID is found in any cluster).")
	fs.StringSliceVar(&o.IncludeNamespaces, "include-namespaces", nil, "Namespaces of the backup to restore: names or patterns like shop-* (default: all). -n NAMESPACE restores one.")
	fs.StringSliceVar(&o.ExcludeNamespaces, "exclude-namespaces", nil, "Namespaces of the backup to leave out: names or patterns.")
	fs.StringSliceVar(&o.IncludeResources, "include-resources", nil, "Resource types to restore, as resource.group, plural, kind or short name (default: all).")
	fs.StringSliceVar(&o.ExcludeResources, "exclude-resources", nil, "Resource types to leave out, in the same forms.")
	fs.StringVarP(&o.Selector, "selector", "l", "", "Restore only objects whose labels in the backup match this selector (app=web,tier!=cache).")
	fs.StringVar(&o.Object, "object", "", "Restore one object, TYPE/NAME (deployments.apps/api), in -n NAMESPACE (default: the context's namespace) when namespaced.")
	fs.StringVar(&o.ClusterResources, "cluster-resources", "", "Cluster-scoped objects: on, off, or auto (all of them for a whole-cluster restore; for namespaces, those they need: CRDs, classes, bound volumes, cluster roles and bindings) (default: auto).")
	fs.StringVar(&o.NamespaceMapping, "namespace-mapping", "", "Restore namespaces under other names, as old:new,other:new-other; references to them (RoleBinding subjects, ...) follow.")
	fs.BoolVar(&o.IncludeOwned, "include-owned", false, "Also restore objects whose controller is restored (ReplicaSets, Pods, Jobs, EndpointSlices), which are otherwise left for the controller to make.")
	fs.BoolVar(&o.PreserveNodePorts, "preserve-nodeports", false, "Keep the node ports of Services, instead of letting the target allocate them.")
	fs.StringVar(&o.ExistingResourcePolicy, "existing-resource-policy", "", "What to do with existing objects that differ from the backup: skip (leave them), update (overwrite with the backup's, by server-side apply) or fail (restore nothing if any differ) (default: skip).")
	fs.StringVar(&o.DryRun, "dry-run", dryRunNone, "server: send every object with dryRun=All, so the target checks it and nothing changes (--dry-run alone means server); none: restore.")
	fs.Lookup("dry-run").NoOptDefVal = dryRunServer
	fs.IntVar(&o.Concurrency, "concurrency", 0, fmt.Sprintf("Requests in flight at once, 1 to 256 (default %d).", restore.DefaultConcurrency))
	fs.BoolVarP(&o.Yes, "yes", "y", false, "Restore without asking.")
	fs.BoolVar(&o.ShowDiff, "show-diff", false, "Show how each existing object differs from the backup, in the plan and the result.")
	fs.StringVar(&o.ClusterName, "cluster-name", "", "Name of the target cluster, under which the restore is recorded (default: $CLUSTER_NAME, the configuration, then detected).")
	fs.BoolVar(&o.ForceClusterName, "force-cluster-name", false, "Record under --cluster-name even though another cluster (another kube-system UID) owns the name.")
	ui.AddOutputFlag(fs, &o.Output)
}

// Complete reads the argument, the configuration and the flags into
// restore options.
func (o *RestoreOptions) Complete(fs *pflag.FlagSet, args []string) error {
	if len(args) > 0 {
		o.Backup = args[0]
	}
	o.namespace = deref(o.Global.ConfigFlags.Namespace)
	o.changed = func(name string) bool { return fs != nil && fs.Changed(name) }
	o.interactive = ui.IsTerminal(o.In) && ui.IsTerminal(o.ErrOut)
	o.in = bufio.NewReader(o.In)

	var overrides []configOverride
	if o.ClusterName != "" {
		overrides = append(overrides, configOverride{"cluster.name", o.ClusterName, "cluster-name"})
	}
	cfg, err := o.Global.loadConfig(overrides...)
	if err != nil {
		return err
	}
	o.config = cfg

	mapping, err := clean.ParseNamespaceMapping(o.NamespaceMapping)
	if err != nil {
		return fmt.Errorf("--namespace-mapping: %w", err)
	}
	o.options = restore.Options{
		RunID: repo.NewRunID(time.Now()),
		Selection: selection.Selection{
			IncludeNamespaces: o.IncludeNamespaces,
			ExcludeNamespaces: o.ExcludeNamespaces,
			IncludeResources:  o.IncludeResources,
			ExcludeResources:  o.ExcludeResources,
			LabelSelector:     o.Selector,
			ClusterResources:  selection.ClusterResources(o.ClusterResources),
		},
		NamespaceMapping:       mapping,
		IncludeOwned:           o.IncludeOwned,
		PreserveNodePorts:      o.PreserveNodePorts,
		ExistingResourcePolicy: restore.ExistingResourcePolicy(o.ExistingResourcePolicy),
		DryRun:                 o.DryRun == dryRunServer,
		Concurrency:            o.Concurrency,
		ForceClusterName:       o.ForceClusterName,
	}
	if len(mapping) == 0 {
		o.options.NamespaceMapping = nil
	}
	if cfg.Cluster.Name != "" {
		o.options.TargetClusterName = cfg.Cluster.Name
		o.options.TargetClusterNameSource = config.NameSource(cfg.Sources["cluster.name"])
	}
	if o.Object != "" {
		typ, name, ok := strings.Cut(o.Object, "/")
		if !ok || typ == "" || name == "" {
			return fmt.Errorf("--object %q names no object: give TYPE/NAME, such as deployments.apps/api or cm/app-config", o.Object)
		}
		o.options.Object = &restore.ObjectRef{Resource: typ, Name: name, Namespace: o.namespace}
	} else if o.namespace != "" {
		o.options.IncludeNamespaces = []string{o.namespace}
	}
	return nil
}

// Validate rejects contradicting flags, and a restore that nobody could
// confirm, before anything is read.
func (o *RestoreOptions) Validate() error {
	changed := o.changed
	if changed == nil {
		changed = func(string) bool { return false }
	}
	if o.Backup != "" {
		if err := validateBackupArg(o.Backup); err != nil {
			return err
		}
	}
	if o.FromCluster != "" {
		if err := repo.ValidateClusterName(o.FromCluster); err != nil {
			return flagErrors(err, map[string]string{"cluster.name": "--from-cluster"})
		}
	}
	if o.namespace != "" && changed("include-namespaces") {
		return fmt.Errorf("-n/--namespace %s and --include-namespaces exclude each other: give the namespaces in one of them", o.namespace)
	}
	if o.Object != "" {
		for _, flag := range []string{"include-namespaces", "exclude-namespaces", "include-resources", "exclude-resources", "selector"} {
			if changed(flag) {
				return fmt.Errorf("--object restores one object; leave out --%s (give the object's namespace with -n)", flag)
			}
		}
	}
	switch o.DryRun {
	case dryRunNone, dryRunServer:
	case "client":
		return errors.New("--dry-run=client is not supported: only the target's API server can say what it would accept; use --dry-run=server (or --dry-run)")
	default:
		return fmt.Errorf("--dry-run %q: use server (or --dry-run alone), or none", o.DryRun)
	}
	if o.ForceClusterName && o.options.TargetClusterName == "" {
		return errors.New("--force-cluster-name needs the name to claim: give it with --cluster-name (or CLUSTER_NAME or cluster.name in the configuration)")
	}
	if err := ui.ValidateOutput(o.Output, false); err != nil {
		return err
	}
	if err := o.options.Validate(); err != nil {
		return flagErrors(err, o.flags())
	}
	if o.Backup == "" && !o.interactive {
		return errors.New("restore needs the backup: give its ID or latest (see `kubectl kbackup backup list`); on a terminal, restore without one lets you pick")
	}
	if !o.Yes && !o.options.DryRun && !o.interactive {
		return errors.New("not restoring without --yes: stdin is not a terminal to ask on; add --yes, or --dry-run to see what the restore would do")
	}
	return nil
}

// flags maps the fields of restore.Options to the flags that set them.
func (o *RestoreOptions) flags() map[string]string {
	flags := withFlags(map[string]string{
		restore.FieldObject + ".resource":   "--object",
		restore.FieldObject + ".name":       "--object",
		restore.FieldExistingResourcePolicy: "--existing-resource-policy",
		restore.FieldNamespaceMapping:       "--namespace-mapping",
		restore.FieldConcurrency:            "--concurrency",
	})
	if o.namespace != "" && o.Object == "" {
		flags[selection.FieldIncludeNamespaces] = "-n/--namespace"
	}
	return flags
}

// Run resolves the backup, plans the restore, shows the plan, asks, applies
// it with a progress bar and reports the outcome of every object.
func (o *RestoreOptions) Run(ctx context.Context) error {
	r, err := openRepository(ctx, o.config)
	if err != nil {
		return err
	}
	// The target client keeps core/kube's high client-side limit: a restore
	// of thousands of objects must not wait on it.
	target, err := o.Global.kubeClient()
	if err != nil {
		return err
	}
	m, err := o.resolveBackup(ctx, r, target)
	if err != nil {
		return err
	}
	if o.options.Object != nil {
		if err := o.completeObject(ctx, target, m); err != nil {
			return err
		}
	}
	plan, err := restore.NewPlan(ctx, restore.PlanInput{Repository: r, Manifest: m, Target: target, Options: o.options})
	if err != nil {
		return flagErrors(clusterError(err), o.flags())
	}

	// The plan goes to stdout for people; with -o it goes to stderr, and
	// only when it is needed to answer the question.
	asking := !o.Yes && !o.options.DryRun
	switch {
	case o.options.DryRun && o.Output == "":
		// The dry run's result says what the server answered.
	case o.Output == "":
		if err := ui.RenderRestorePlan(o.Out, ui.NewStyles(o.Out), plan, o.ShowDiff); err != nil {
			return err
		}
		fmt.Fprintln(o.Out)
	case asking:
		if err := ui.RenderRestorePlan(o.ErrOut, ui.NewStyles(o.ErrOut), plan, o.ShowDiff); err != nil {
			return err
		}
	}
	if conflicts := plan.Conflicts(); len(conflicts) > 0 {
		_, err := restore.Apply(ctx, plan) // refuses, naming them, before changing anything
		return err
	}
	if asking {
		if changes := ui.PlanChanges(plan); changes == 0 {
			fmt.Fprintln(o.ErrOut, "Nothing to create or update; the restore only records that.")
		} else {
			ok, err := ui.Confirm(o.in, o.ErrOut, fmt.Sprintf("Restore %s into cluster %s (%s)?",
				ui.Count(changes, "object"), plan.Target.Name, contextText(plan.Target)))
			if err != nil {
				return err
			}
			if !ok {
				return errors.New("not restored: the answer was not yes; nothing was changed")
			}
		}
	}

	log := newLogger(o.ErrOut, o.config.Config, "run", o.options.RunID, "restore", plan.ID)
	log.Info("restore started", "backup", plan.Backup.ID, "fromCluster", plan.Backup.Cluster, "cluster", plan.Target.Name, "dryRun", o.options.DryRun)
	progress := ui.NewCountProgress(o.ErrOut)
	plan.Options.Progress = func(e restore.Event) { ui.RestoreProgress(progress, e) }
	res, err := restore.Apply(ctx, plan)
	progress.Finish()
	if res != nil {
		log.Info("restore ended", "phase", string(res.Phase), "created", res.Totals.Created, "updated", res.Totals.Updated, "failed", res.Totals.Failed)
	}
	if err != nil {
		log.Error("restore failed", "error", err.Error())
	}
	if res == nil {
		if errors.Is(err, repo.ErrClusterNameTaken) {
			return fmt.Errorf("%w (--force-cluster-name, with --cluster-name)", err)
		}
		return err
	}
	record := o.recordLocation(r, res)
	if o.Output != "" {
		if perr := ui.PrintObject(o.Out, o.Output, ui.RestoreOutput{Result: res, Record: record}); perr != nil {
			return perr
		}
	} else if rerr := ui.RenderRestoreResult(o.Out, ui.NewStyles(o.Out), res, record, o.ShowDiff); rerr != nil {
		return rerr
	}
	if err != nil {
		return err
	}
	what := "Restore " + res.ID
	if res.DryRun {
		what = "Dry run of restore " + res.ID
	}
	switch res.Phase {
	case restore.PhaseCompleted:
		return nil
	case restore.PhasePartiallyFailed:
		return &ExitError{Code: ExitPartiallyFailed, Err: fmt.Errorf("%s is PartiallyFailed: %s failed (listed above); the rest is restored",
			what, ui.Count(res.Totals.Failed, "object"))}
	}
	return fmt.Errorf("%s Failed: every object sent failed (listed above)", what)
}

// resolveBackup finds the backup to restore: an ID in --from-cluster, or
// in whichever cluster has it; latest, or the one picked on a terminal,
// among the backups of --from-cluster or else of the target itself.
func (o *RestoreOptions) resolveBackup(ctx context.Context, r *repo.Repository, target *kube.Client) (*repo.Manifest, error) {
	targetsOwn := func(ctx context.Context) (string, error) {
		if o.options.TargetClusterName != "" {
			return o.options.TargetClusterName, nil
		}
		id, err := kube.DetectIdentity(ctx, target, kube.DetectOptions{})
		if err != nil {
			return "", fmt.Errorf("finding the target cluster's own backups (give --from-cluster NAME to restore another cluster's): %w", clusterError(err))
		}
		return id.Name, nil
	}
	hint := ""
	if o.FromCluster == "" {
		hint = "; to restore another cluster's backup, name it with --from-cluster"
	}
	var (
		m   *repo.Manifest
		err error
	)
	if o.Backup == "" {
		cluster := o.FromCluster
		if cluster == "" {
			if cluster, err = targetsOwn(ctx); err != nil {
				return nil, err
			}
		}
		manifests, lerr := r.ListBackups(ctx, cluster)
		var unreadable *repo.UnreadableManifestsError
		if lerr != nil && !errors.As(lerr, &unreadable) {
			return nil, lerr
		}
		m, err = ui.PickBackup(o.in, o.ErrOut, ui.NewStyles(o.ErrOut), cluster, manifests, o.now())
	} else {
		m, err = resolveBackup(ctx, r, o.FromCluster, o.Backup, "--from-cluster", targetsOwn)
	}
	if errors.Is(err, storage.ErrNotFound) {
		return nil, fmt.Errorf("%w%s", err, hint)
	}
	return m, err
}

// completeObject resolves --object's type, so that a cluster-scoped object
// is looked for outside any namespace, and a namespaced one in -n or the
// kubeconfig context's namespace.
func (o *RestoreOptions) completeObject(ctx context.Context, target *kube.Client, m *repo.Manifest) error {
	ref := o.options.Object
	names := catalog.TypeNames{Backups: []*repo.Manifest{m}}
	if !catalog.Holds(m, ref.Resource) {
		var err error
		if names.Discovery, err = target.Discover(ctx); err != nil {
			return clusterError(err)
		}
	}
	resource, err := names.Resolve(ref.Resource)
	if err != nil {
		return fmt.Errorf("--object: %w", err)
	}
	ref.Resource = resource
	switch {
	case !catalog.Namespaced(m, resource):
		ref.Namespace = ""
	case ref.Namespace == "":
		ns, _, err := o.Global.ConfigFlags.ToRawKubeConfigLoader().Namespace()
		if err != nil {
			return fmt.Errorf("finding the namespace of the kubeconfig context (give -n NAMESPACE instead): %w", err)
		}
		ref.Namespace = ns
	}
	return nil
}

// recordLocation is where the record of res is: a path for a local
// repository, a URL for S3; empty for a dry run.
func (o *RestoreOptions) recordLocation(r *repo.Repository, res *restore.Result) string {
	if res.RecordKey == "" {
		return ""
	}
	return recordLocation(r, res.RecordKey)
}

// recordLocation is where the object key is: a path in a local repository,
// a URL in S3.
func recordLocation(r *repo.Repository, key string) string {
	loc := r.Location()
	if loc.Scheme == storage.SchemeFile {
		return filepath.Join(loc.Path, filepath.FromSlash(key))
	}
	loc.Prefix = "" // the key has it
	return ui.RecordLocation(loc.String(), key)
}

func contextText(t restore.TargetRef) string {
	if t.ContextName != "" {
		return "context " + t.ContextName
	}
	return t.Server
}
