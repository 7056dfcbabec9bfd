package cmd

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"k8s.io/cli-runtime/pkg/genericiooptions"

	"github.com/kbackup/kbackup/core/config"
	"github.com/kbackup/kbackup/core/repo"
	"github.com/kbackup/kbackup/core/storage"
	"github.com/kbackup/kbackup/kubectl-kbackup/internal/ui"
)

// NewCmdCluster returns `kubectl kbackup cluster`, the registry's commands.
func NewCmdCluster(global *GlobalOptions, streams genericiooptions.IOStreams) *cobra.Command {
	cmd := &cobra.Command{
		RunE:  runGroup,
		Use:   "cluster",
		Short: "Register clusters in the repository's registry, list, describe and unregister them",
		Long: `The repository's registry holds an entry per cluster: the identity that owns
the cluster's name (the UID of its kube-system namespace), and the fleet's
settings for it: environment, region, priority, labels and retention.
A backup registers its cluster with no settings; cluster register sets them.`,
		Example: `  # Register the current context's cluster in environment prod
  kubectl kbackup cluster register --environment prod --region eu-west-1

  # The registered clusters, and one entry in full
  kubectl kbackup cluster list
  kubectl kbackup cluster describe prod-eu`,
	}
	cmd.AddCommand(
		NewCmdClusterRegister(global, streams),
		NewCmdClusterList(global, streams),
		NewCmdClusterDescribe(global, streams),
		NewCmdClusterUnregister(global, streams),
	)
	return cmd
}

// ClusterRegisterOptions registers the current context's cluster.
type ClusterRegisterOptions struct {
	Global *GlobalOptions

	ClusterName      string
	ForceClusterName bool
	Region           string
	Priority         int
	Labels           map[string]string
	Output           string
	keep             retentionFlags

	settings repo.ClusterSettings
	config   *LoadedConfig
	genericiooptions.IOStreams
}

// NewCmdClusterRegister returns `kubectl kbackup cluster register`.
func NewCmdClusterRegister(global *GlobalOptions, streams genericiooptions.IOStreams) *cobra.Command {
	o := &ClusterRegisterOptions{Global: global, IOStreams: streams}
	cmd := &cobra.Command{
		Use:   "register",
		Short: "Write the current context's cluster into the registry, with its settings",
		Long: `Write the cluster of the current context into the repository's registry:
its identity (kube-system UID, server, provider, distribution, version),
and the settings given. Settings not given keep their stored values. The
cluster's environment is the global --environment (or KBACKUP_ENVIRONMENT):
one of the environments kbackup.yaml defines, whose retention_policies and
backup_schedules then apply to the cluster.

The name is claimed with a conditional write: of two clusters registering
one name, one gets it; a name owned by another cluster's UID is refused
unless --force-cluster-name.`,
		Example: `  # Register the current context's cluster as a prod cluster, backed up early in fleet runs
  kubectl kbackup cluster register --environment prod --region eu-west-1 --priority 10 --label team=payments

  # Register it under a chosen name, keeping a week of daily backups
  kubectl kbackup cluster register --cluster-name dev-1 --environment dev --keep-daily 7`,
		Args: cobra.NoArgs,
		RunE: runOptions(o),
	}
	fs := cmd.Flags()
	fs.StringVar(&o.ClusterName, "cluster-name", "", "Name of the cluster in the repository (default: $CLUSTER_NAME, the configuration, then detected).")
	fs.BoolVar(&o.ForceClusterName, "force-cluster-name", false, "Take the name even though another cluster (another kube-system UID) owns it.")
	fs.StringVar(&o.Region, "region", "", "Region of the cluster, such as eu-west-1.")
	fs.IntVar(&o.Priority, "priority", 0, "Priority in fleet runs; higher first.")
	fs.StringToStringVar(&o.Labels, "label", nil, "Labels of the cluster, as key=value; repeat or separate with commas. Replaces the stored labels.")
	o.keep.addFlags(fs, "The cluster's own retention")
	ui.AddOutputFlag(fs, &o.Output)
	return cmd
}

// registerFlags map the entry's field paths to the flags.
var registerFlags = map[string]string{
	"cluster.name":                   "--cluster-name",
	"cluster.environment":            "--environment",
	"cluster.region":                 "--region",
	"cluster.labels":                 "--label",
	"cluster.retention.keep_last":    "--keep-last",
	"cluster.retention.keep_hourly":  "--keep-hourly",
	"cluster.retention.keep_daily":   "--keep-daily",
	"cluster.retention.keep_weekly":  "--keep-weekly",
	"cluster.retention.keep_monthly": "--keep-monthly",
	"cluster.retention.keep_within":  "--keep-within",
}

// Complete turns the flags that were set into settings.
func (o *ClusterRegisterOptions) Complete(fs *pflag.FlagSet, _ []string) error {
	o.keep.complete(fs)
	cfg, err := o.Global.loadConfig()
	if err != nil {
		return err
	}
	o.config = cfg
	if o.ClusterName == "" {
		o.ClusterName = cfg.Cluster.Name
	}
	s := repo.ClusterSettings{Environments: cfg.EnvironmentNames()}
	// The cluster's environment is the configuration's environment
	// selected with --environment (or KBACKUP_ENVIRONMENT), which must be
	// one kbackup.yaml defines.
	if env := cfg.ActiveEnvironment; env != "" {
		s.Environment = &env
	}
	if fs.Changed("region") {
		s.Region = &o.Region
	}
	if fs.Changed("priority") {
		s.Priority = &o.Priority
	}
	if fs.Changed("label") {
		s.Labels = o.Labels
		if s.Labels == nil {
			s.Labels = map[string]string{}
		}
	}
	s.Retention = o.keep.ruleset()
	o.settings = s
	return nil
}

// Validate checks the output format; the settings are core's to check.
func (o *ClusterRegisterOptions) Validate() error { return ui.ValidateOutput(o.Output, false) }

// Run detects the cluster and registers it.
func (o *ClusterRegisterOptions) Run(ctx context.Context) error {
	source := ""
	if o.ClusterName != "" {
		source = "explicit"
	}
	id, err := o.Global.detectIdentity(ctx, o.ClusterName, source)
	if err != nil {
		return err
	}
	// Registering may come before the first backup: it creates the
	// repository in an empty location, as backup create does.
	opts, _, err := config.RepositoryOptions(o.config.Config)
	if err != nil {
		return err
	}
	opts.Create = true
	r, err := repo.Open(ctx, opts)
	if err != nil {
		return err
	}
	entry, err := r.RegisterCluster(ctx, repo.ClusterIdentity{
		Name: id.Name, UID: id.UID, Provider: id.Provider, Distribution: id.Distribution,
		KubernetesVersion: id.KubernetesVersion, Server: id.Server, NameSource: id.NameSource,
	}, o.settings, repo.ClaimOptions{Override: o.ForceClusterName})
	if errors.Is(err, repo.ErrClusterNameTaken) {
		return fmt.Errorf("%w (--force-cluster-name, with --cluster-name)", err)
	}
	if err != nil {
		return flagErrors(err, registerFlags)
	}
	if o.Output != "" {
		return ui.PrintObject(o.Out, o.Output, entry)
	}
	fmt.Fprintf(o.Out, "Registered cluster %s (kube-system UID %s) in %s.\n", entry.Name, entry.UID, r)
	return ui.RenderClusterEntry(o.Out, ui.NewStyles(o.Out), entry, time.Now())
}

// ClusterListOptions lists the registry.
type ClusterListOptions struct {
	Global *GlobalOptions
	Output string
	config *LoadedConfig
	genericiooptions.IOStreams
}

// NewCmdClusterList returns `kubectl kbackup cluster list`.
func NewCmdClusterList(global *GlobalOptions, streams genericiooptions.IOStreams) *cobra.Command {
	o := &ClusterListOptions{Global: global, IOStreams: streams}
	cmd := &cobra.Command{
		Use:     "list",
		Aliases: []string{"ls"},
		Short:   "List the registered clusters",
		Long: `List the entries of the repository's registry (_fleet/clusters): each
cluster's name, environment, region, priority, provider, Kubernetes version,
retention, and when it was last seen. kubectl kbackup clusters shows every
cluster with backups, registered or not, with its last backups.`,
		Example: `  # The registered clusters
  kubectl kbackup cluster list

  # As JSON, for a script
  kubectl kbackup cluster list -o json`,
		Args: cobra.NoArgs,
		RunE: runOptions(o),
	}
	ui.AddOutputFlag(cmd.Flags(), &o.Output)
	return cmd
}

// Complete reads the configuration.
func (o *ClusterListOptions) Complete(_ *pflag.FlagSet, _ []string) error {
	cfg, err := o.Global.loadConfig()
	o.config = cfg
	return err
}

// Validate checks the output format.
func (o *ClusterListOptions) Validate() error { return ui.ValidateOutput(o.Output, false) }

// Run lists the entries.
func (o *ClusterListOptions) Run(ctx context.Context) error {
	r, err := openRepository(ctx, o.config)
	if err != nil {
		return err
	}
	entries, err := r.ListClusterEntries(ctx)
	if err != nil {
		return err
	}
	if o.Output != "" {
		return ui.PrintObject(o.Out, o.Output, entries)
	}
	return ui.RenderClusterEntries(o.Out, ui.NewStyles(o.Out), entries, time.Now())
}

// ClusterDescribeOptions shows one entry.
type ClusterDescribeOptions struct {
	Global *GlobalOptions
	Name   string
	Output string
	config *LoadedConfig
	genericiooptions.IOStreams
}

// NewCmdClusterDescribe returns `kubectl kbackup cluster describe`.
func NewCmdClusterDescribe(global *GlobalOptions, streams genericiooptions.IOStreams) *cobra.Command {
	o := &ClusterDescribeOptions{Global: global, IOStreams: streams}
	cmd := &cobra.Command{
		Use:   "describe NAME",
		Short: "Show a cluster's registry entry",
		Long: `Show a cluster's entry in the repository's registry: its identity (kube-system
UID, server, provider, distribution, Kubernetes version), its settings
(environment, region, priority, labels and retention), and when it was
first and last seen. NAME is a name that kubectl kbackup cluster list shows.`,
		Example: `  # The entry of cluster prod-eu
  kubectl kbackup cluster describe prod-eu

  # As YAML
  kubectl kbackup cluster describe prod-eu -o yaml`,
		Args: exactArgs("NAME"),
		RunE: runOptions(o),
	}
	ui.AddOutputFlag(cmd.Flags(), &o.Output)
	return cmd
}

// Complete reads the argument and the configuration.
func (o *ClusterDescribeOptions) Complete(_ *pflag.FlagSet, args []string) error {
	o.Name = args[0]
	cfg, err := o.Global.loadConfig()
	o.config = cfg
	return err
}

// Validate checks the output format.
func (o *ClusterDescribeOptions) Validate() error { return ui.ValidateOutput(o.Output, false) }

// Run shows the entry.
func (o *ClusterDescribeOptions) Run(ctx context.Context) error {
	r, err := openRepository(ctx, o.config)
	if err != nil {
		return err
	}
	entry, err := r.GetCluster(ctx, o.Name)
	if errors.Is(err, storage.ErrNotFound) {
		return fmt.Errorf("cluster %s is not registered in %s; `kubectl kbackup cluster list` lists those that are", o.Name, r)
	}
	if err != nil {
		return err
	}
	if o.Output != "" {
		return ui.PrintObject(o.Out, o.Output, entry)
	}
	return ui.RenderClusterEntry(o.Out, ui.NewStyles(o.Out), entry, time.Now())
}

// ClusterUnregisterOptions removes an entry.
type ClusterUnregisterOptions struct {
	Global *GlobalOptions
	Name   string
	config *LoadedConfig
	genericiooptions.IOStreams
}

// NewCmdClusterUnregister returns `kubectl kbackup cluster unregister`.
func NewCmdClusterUnregister(global *GlobalOptions, streams genericiooptions.IOStreams) *cobra.Command {
	o := &ClusterUnregisterOptions{Global: global, IOStreams: streams}
	return &cobra.Command{
		Use:   "unregister NAME",
		Short: "Remove a cluster's registry entry; its backups stay",
		Long: `Remove a cluster's registry entry and with it its settings. Its backups stay,
and kubectl kbackup clusters still lists it, as unregistered; prune or
backup delete remove backups. A later backup of the cluster registers it
again.`,
		Example: `  # Remove the entry of a decommissioned cluster; its backups stay
  kubectl kbackup cluster unregister old-staging`,
		Args: exactArgs("NAME"),
		RunE: runOptions(o),
	}
}

// Complete reads the argument and the configuration.
func (o *ClusterUnregisterOptions) Complete(_ *pflag.FlagSet, args []string) error {
	o.Name = args[0]
	cfg, err := o.Global.loadConfig()
	o.config = cfg
	return err
}

// Validate has nothing to check: core checks the name.
func (o *ClusterUnregisterOptions) Validate() error { return nil }

// Run removes the entry.
func (o *ClusterUnregisterOptions) Run(ctx context.Context) error {
	r, err := openRepository(ctx, o.config)
	if err != nil {
		return err
	}
	_, summary, err := r.UnregisterCluster(ctx, o.Name)
	if errors.Is(err, storage.ErrNotFound) {
		return fmt.Errorf("cluster %s is not registered in %s; `kubectl kbackup cluster list` lists those that are", o.Name, r)
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(o.Out, "Unregistered cluster %s; its %s stay in %s.\n", o.Name, ui.Count(len(summary.Backups), "backup"), r)
	return nil
}
