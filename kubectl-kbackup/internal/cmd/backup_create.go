package cmd

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"k8s.io/cli-runtime/pkg/genericiooptions"

	"github.com/kbackup/kbackup/core/backup"
	"github.com/kbackup/kbackup/core/config"
	"github.com/kbackup/kbackup/core/fleet"
	"github.com/kbackup/kbackup/core/prune"
	"github.com/kbackup/kbackup/core/repo"
	"github.com/kbackup/kbackup/core/storage"
	"github.com/kbackup/kbackup/kubectl-kbackup/internal/ui"
)

// BackupCreateOptions backs up the cluster of the current context.
type BackupCreateOptions struct {
	Global *GlobalOptions

	// Name is the optional NAME argument, which becomes the backup's ID.
	Name string

	AllNamespaces                        bool
	IncludeNamespaces, ExcludeNamespaces []string
	IncludeResources, ExcludeResources   []string
	Selector                             string
	ClusterResources                     string
	ClusterName                          string
	ForceClusterName                     bool
	MaxResourceSize                      string
	SkipInvalid                          bool
	Labels                               map[string]string
	// FallbackStorage are repository URLs tried, in order, after the
	// configured fallback buckets when the primary cannot be written.
	FallbackStorage []string
	// AllowUnconditionalWrites creates a repository on a server that
	// ignores If-None-Match.
	AllowUnconditionalWrites bool
	Output                   string

	// Fleet is the run over several clusters (--contexts, --all-contexts,
	// --fleet); see backup_create_fleet.go.
	Fleet FleetFlags

	// Set by Complete.
	namespace string // -n, when given
	changed   func(name string) bool
	config    *LoadedConfig
	options   backup.Options
	// primary and fallbacks are the run's repository locations; Run
	// builds one chooser of them for the command.
	primary repo.Options
	// Prune is --prune.
	Prune bool
	// Schedule is --schedule: the stored schedule whose spec, cluster
	// and retention the backup takes (what a scheduled CronJob runs).
	Schedule  string
	schedule  *fleet.Schedule
	fallbacks []repo.Options
	// runID is the command's run ID: in the manifest and every log line.
	runID string
	// fleet is set for a run over several clusters.
	fleet *fleetRun

	genericiooptions.IOStreams
}

// NewBackupCreateOptions returns the options with their defaults.
func NewBackupCreateOptions(global *GlobalOptions, streams genericiooptions.IOStreams) *BackupCreateOptions {
	return &BackupCreateOptions{Global: global, IOStreams: streams}
}

// NewCmdBackupCreate returns `kubectl kbackup backup create`.
func NewCmdBackupCreate(global *GlobalOptions, streams genericiooptions.IOStreams) *cobra.Command {
	o := NewBackupCreateOptions(global, streams)
	cmd := &cobra.Command{
		Use:   "create [NAME]",
		Short: "Back up the cluster of the current context",
		Long: `Back up the Kubernetes resources of the cluster of the current context.

A backup takes the whole cluster by default: every namespace, and the
cluster-scoped resources. -n NAMESPACE or --include-namespaces narrows it to
namespaces (and then cluster-scoped resources are left out unless
--cluster-resources=on). Events and leases are left out unless named in
--include-resources.

NAME becomes the backup's ID; by default the ID is the start time and a
random suffix, such as 20260301T020000Z-1a2b3c.

Several clusters in one run: --contexts a,b,c, --all-contexts, or --fleet
(every cluster of the repository's registry that a kubeconfig context
reaches, found by its kube-system UID, higher priority first). At most
--max-concurrent-operations clusters are backed up at once; transient
errors are tried again with backoff; a cluster that does not answer within
--connect-timeout, or whose requests take longer than --request-timeout
(default 1m in such a run), is given up with its reason and the others go
on. When the storage keeps failing, the run's remaining backups go to the
fallback. A terminal shows a line per cluster; the run ends with a table.

Every run has an ID (run-...), in every log line, in the manifest of each of
its backups and in the output.

Exit codes: 0 when the backup Completed; 2 when it was stored but is
PartiallyFailed (some resource types could not be read or some objects were
skipped: the output lists them, and the rest can be restored); 1 when it
failed or could not be stored. For several clusters: 0 when every one
Completed, 2 when some did not, 1 when no backup was stored at all.`,
		Example: `  # The whole cluster, into the configured repository
  kubectl kbackup backup create

  # One namespace, into a bucket
  kubectl kbackup backup create -n payments --storage s3://backups?endpoint=https://minio:9000

  # Namespaces by pattern, without secrets, as JSON for a script
  kubectl kbackup backup create --include-namespaces 'shop-*' --exclude-resources secrets -o json

  # Three clusters, two at a time, giving each 5s to answer
  kubectl kbackup backup create --contexts prod-eu,prod-us,staging --max-concurrent-operations 2 --connect-timeout 5s

  # Every registered cluster the kubeconfig reaches
  kubectl kbackup backup create --fleet`,
		Args: cobra.MaximumNArgs(1),
		RunE: runOptions(o),
	}
	o.AddFlags(cmd.Flags())
	return cmd
}

// AddFlags registers the command's flags.
func (o *BackupCreateOptions) AddFlags(fs *pflag.FlagSet) {
	fs.BoolVarP(&o.AllNamespaces, "all-namespaces", "A", false, "Back up every namespace (the default, unless the configuration narrows it).")
	fs.StringSliceVar(&o.IncludeNamespaces, "include-namespaces", nil, "Namespaces to back up: names or patterns like shop-* (default: all).")
	fs.StringSliceVar(&o.ExcludeNamespaces, "exclude-namespaces", nil, "Namespaces to leave out: names or patterns.")
	fs.StringSliceVar(&o.IncludeResources, "include-resources", nil, "Resource types to back up, as resource.group (deployments.apps), plural, kind or short name (default: all but events and leases).")
	fs.StringSliceVar(&o.ExcludeResources, "exclude-resources", nil, "Resource types to leave out, in the same forms.")
	fs.StringVarP(&o.Selector, "selector", "l", "", "Back up only objects matching this label selector (app=web,tier!=cache).")
	fs.StringVar(&o.ClusterResources, "cluster-resources", "", "Cluster-scoped resources: on, off, or auto (taken when no namespace filter is given) (default: auto).")
	fs.StringVar(&o.ClusterName, "cluster-name", "", "Name the cluster's backups are stored under (default: $CLUSTER_NAME, the configuration, then detected).")
	fs.BoolVar(&o.ForceClusterName, "force-cluster-name", false, "Write under --cluster-name even though another cluster (another kube-system UID) owns the name, as for a cluster rebuilt under its old name.")
	fs.StringVar(&o.MaxResourceSize, "max-resource-size", "", "Skip objects larger than this quantity, such as 10Mi (default: the configuration's, 10Mi).")
	fs.BoolVar(&o.SkipInvalid, "skip-invalid", true, "Record objects that cannot be stored as skipped and go on; --skip-invalid=false fails their type instead.")
	fs.StringToStringVar(&o.Labels, "labels", nil, "Labels of the backup, as key=value pairs.")
	fs.StringArrayVar(&o.FallbackStorage, "fallback-storage", nil, "A repository URL to write to when the primary and the configured fallback buckets cannot be written; repeat for more.")
	fs.BoolVar(&o.AllowUnconditionalWrites, "allow-unconditional-writes", false, "Create the repository even on an S3 server that ignores If-None-Match (conditional writes); concurrent backups and garbage collection are then no longer kept apart.")
	o.Fleet.AddFlags(fs)
	fs.StringVar(&o.Schedule, "schedule", "", "Take what to back up, the cluster name and the retention of --prune from the stored schedule _fleet/schedules/NAME (as the CronJob of a Terraform kbackup_schedule runs it).")
	fs.BoolVar(&o.Prune, "prune", false, "After a Completed backup, prune the cluster by its retention policy (as kubectl kbackup prune --cluster NAME --yes would).")
	ui.AddOutputFlag(fs, &o.Output)
}

// Complete reads the arguments, the configuration and the flags into
// backup options and storage.
func (o *BackupCreateOptions) Complete(fs *pflag.FlagSet, args []string) error {
	if len(args) > 0 {
		o.Name = args[0]
	}
	o.namespace = deref(o.Global.ConfigFlags.Namespace)
	o.changed = func(name string) bool { return fs.Changed(name) }

	// Flags that the configuration also has go through it, so that they
	// override the file and the environment variables and are validated
	// with them, each error naming its flag.
	var overrides []configOverride
	list := func(flag, key string, values []string) {
		if fs.Changed(flag) {
			overrides = append(overrides, configOverride{key, strings.Join(values, ","), flag})
		}
	}
	value := func(flag, key, v string) {
		if fs.Changed(flag) {
			overrides = append(overrides, configOverride{key, v, flag})
		}
	}
	list("include-namespaces", "backup.include_namespaces", o.IncludeNamespaces)
	list("exclude-namespaces", "backup.exclude_namespaces", o.ExcludeNamespaces)
	value("selector", "backup.label_selector", o.Selector)
	value("cluster-resources", "backup.cluster_resources", o.ClusterResources)
	value("cluster-name", "cluster.name", o.ClusterName)
	value("max-resource-size", "backup.behavior.max_resource_size", o.MaxResourceSize)
	value("skip-invalid", "backup.behavior.skip_invalid_resources", strconv.FormatBool(o.SkipInvalid))
	value("max-concurrent-operations", "performance.limits.max_concurrent_operations", strconv.Itoa(o.Fleet.MaxConcurrentOperations))
	if o.namespace != "" {
		overrides = append(overrides, configOverride{"backup.include_namespaces", o.namespace, "namespace"})
	}

	cfg, err := o.Global.loadConfig(overrides...)
	if err != nil {
		return err
	}
	o.config = cfg
	o.options = config.BackupOptions(cfg.Config)
	o.runID = repo.NewRunID(time.Now())
	o.options.Name = o.Name
	o.options.RunID = o.runID
	o.options.ForceClusterName = o.ForceClusterName
	o.options.Labels = o.Labels
	if o.AllNamespaces {
		o.options.IncludeNamespaces = nil
	}
	// Resource types from flags go to core as typed, past the
	// configuration's stricter resource.group form: core resolves them
	// against the cluster's discovery, as kubectl does (cm, Deployment,
	// deploy), and names the flag in its errors.
	if fs.Changed("include-resources") {
		o.options.IncludeResources = o.IncludeResources
	}
	if fs.Changed("exclude-resources") {
		o.options.ExcludeResources = o.ExcludeResources
	}

	primary, fallbacks, err := config.RepositoryOptions(cfg.Config)
	if err != nil {
		return err
	}
	for _, url := range o.FallbackStorage {
		fb, err := config.FallbackOptions(primary, url)
		if err != nil {
			return fmt.Errorf("--fallback-storage: %w", err)
		}
		fallbacks = append(fallbacks, fb)
	}
	primary.Create = true
	primary.AllowUnconditionalWrites = o.AllowUnconditionalWrites
	for i := range fallbacks {
		fallbacks[i].Create = true
		fallbacks[i].AllowUnconditionalWrites = o.AllowUnconditionalWrites
	}
	o.primary, o.fallbacks = primary, fallbacks
	if o.Fleet.multi(fs) {
		return o.completeFleet(fs)
	}
	return nil
}

// Validate rejects flags that contradict each other, and options core
// refuses, before the cluster is contacted.
func (o *BackupCreateOptions) Validate() error {
	changed := o.changed
	if changed == nil {
		changed = func(string) bool { return false }
	}
	if o.namespace != "" && o.AllNamespaces {
		return errors.New("-n/--namespace and -A/--all-namespaces exclude each other: -n NAMESPACE backs up one namespace, -A (the default) the whole cluster")
	}
	if o.namespace != "" && changed("include-namespaces") {
		return fmt.Errorf("-n/--namespace %s and --include-namespaces exclude each other: give the namespaces in one of them", o.namespace)
	}
	if o.AllNamespaces && changed("include-namespaces") {
		return errors.New("-A/--all-namespaces and --include-namespaces exclude each other: -A takes every namespace; leave it out to take only those of --include-namespaces")
	}
	if err := ui.ValidateOutput(o.Output, false); err != nil {
		return err
	}
	if o.fleet != nil {
		if o.Schedule != "" {
			return fmt.Errorf("--schedule %s backs up the schedule's one cluster; leave out --contexts, --all-contexts and --fleet", o.Schedule)
		}
		if o.Prune {
			return errors.New("--prune applies to a backup of one cluster; after a run over several, prune them with kubectl kbackup prune --fleet")
		}
		return o.validateFleet(changed)
	}
	if err := o.Fleet.validateOneCluster(changed); err != nil {
		return err
	}
	if o.Schedule != "" {
		if o.namespace != "" {
			return fmt.Errorf("--schedule %s takes what to back up from the schedule; leave out -n/--namespace", o.Schedule)
		}
		if err := validateScheduleFlags(o.Schedule, changed); err != nil {
			return err
		}
	}
	return flagErrors(o.options.Validate(), backupCreateFlags)
}

// backupCreateFlags are the flags that set core's backup options, by field
// path (flagErrors).
var backupCreateFlags = map[string]string{
	"name":                    "NAME",
	"cluster_name":            "--cluster-name",
	"spec.include_namespaces": "--include-namespaces",
	"spec.exclude_namespaces": "--exclude-namespaces",
	"spec.include_resources":  "--include-resources",
	"spec.exclude_resources":  "--exclude-resources",
	"spec.label_selector":     "--selector",
	"spec.cluster_resources":  "--cluster-resources",
	"spec.max_resource_size":  "--max-resource-size",
	"spec.labels":             "--labels",
	"concurrency":             "--max-concurrent-operations",
}

// Run backs the cluster up and reports the backup. A PartiallyFailed
// backup returns an ExitError with ExitPartiallyFailed after its report.
func (o *BackupCreateOptions) Run(ctx context.Context) error {
	if o.fleet != nil {
		return o.runFleet(ctx)
	}
	if o.Schedule != "" {
		if err := o.useSchedule(ctx); err != nil {
			return err
		}
	}
	log := newLogger(o.ErrOut, o.config.Config, "run", o.runID)
	client, err := o.Global.kubeClient()
	if err != nil {
		return err
	}
	progress := ui.NewBackupProgress(o.ErrOut)
	o.options.Progress = func(e backup.Event) {
		progress.Handle(e)
		logEvent(log, e)
	}
	res, err := backup.Run(ctx, client, repo.NewChooser(o.primary, o.fallbacks...), o.options)
	progress.Finish()
	if err != nil {
		switch {
		case isFieldError(err):
			return flagErrors(err, backupCreateFlags)
		case errors.Is(err, repo.ErrClusterNameTaken):
			return fmt.Errorf("%w (--force-cluster-name, with --cluster-name)", err)
		case errors.Is(err, storage.ErrStorageUnavailable):
			return fmt.Errorf("%w\nNo backup was written (its manifest is written last); run it again when the storage is back, or give fallback locations (storage.fallback_buckets, --fallback-storage)", err)
		}
		return clusterError(err)
	}
	m := res.Manifest
	log.Info("backup committed", "backup", m.ID, "cluster", m.Cluster.Name, "phase", m.Phase, "location", res.Location)

	if o.Output != "" {
		if err := ui.PrintObject(o.Out, o.Output, ui.NewBackupResult(res)); err != nil {
			return err
		}
	} else if err := ui.RenderBackupResult(o.Out, ui.NewStyles(o.Out), res); err != nil {
		return err
	}
	switch m.Phase {
	case repo.PhaseCompleted:
		if o.Prune {
			return o.prune(ctx, res)
		}
		return nil
	case repo.PhasePartiallyFailed:
		return &ExitError{Code: ExitPartiallyFailed, Err: fmt.Errorf("backup %s of cluster %s is PartiallyFailed: %s failed, %s skipped (listed above)",
			m.ID, m.Cluster.Name, ui.Count(len(m.Errors), "resource type"), ui.Count(len(m.Skipped), "object"))}
	}
	return fmt.Errorf("backup %s of cluster %s Failed: no resource type could be read (errors listed above)", m.ID, m.Cluster.Name)
}

// logEvent logs a progress event: each type at debug level, a switch of
// storage as a warning. Every line names the backup.
func logEvent(log *slog.Logger, e backup.Event) {
	log = log.With("backup", e.BackupID)
	switch e.Kind {
	case backup.EventStarted:
		log.Debug("backup started", "types", e.TypesTotal)
	case backup.EventTypeDone:
		if e.Err != nil {
			log.Debug("resource type failed", "resource", e.Resource, "error", e.Err.Error(), "typesDone", e.TypesDone, "typesTotal", e.TypesTotal)
			return
		}
		log.Debug("resource type stored", "resource", e.Resource, "objects", e.Objects, "typesDone", e.TypesDone, "typesTotal", e.TypesTotal, "bytesUploaded", e.BytesUploaded)
	case backup.EventStorageSwitched:
		log.Warn("storage switched", "reason", e.Message)
	}
}

// prune prunes the backed-up cluster in the repository that took the
// backup; its report goes to stderr when stdout carries -o's document.
func (o *BackupCreateOptions) prune(ctx context.Context, res *backup.Result) error {
	opts := o.primary
	if res.UsedFallback() {
		return fmt.Errorf("backup %s went to the fallback location %s; not pruning there: prune the primary with kubectl kbackup prune when it is back", res.Manifest.ID, res.Location)
	}
	r, err := repo.Open(ctx, opts)
	if err != nil {
		return err
	}
	out := o.Out
	if o.Output != "" {
		out = o.ErrOut
	}
	var given *fleet.RetentionRules
	if o.schedule != nil {
		if given, err = o.scheduleRetention(ctx, r, res.Manifest.Cluster.Name); err != nil {
			return err
		}
	}
	return runPrune(ctx, r, prune.Options{
		Given:        given,
		Clusters:     []string{res.Manifest.Cluster.Name},
		ConfigDays:   o.config.RetentionPolicies,
		Environments: o.config.EnvironmentNames(),
	}, pruneRun{yes: true, in: o.In, out: out, errOut: o.ErrOut, runID: o.runID, log: newLogger(o.ErrOut, o.config.Config, "run", o.runID)})
}
