package cmd

import (
	"context"
	"fmt"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"k8s.io/cli-runtime/pkg/genericiooptions"

	"github.com/kbackup/kbackup/core/fleetview"
	"github.com/kbackup/kbackup/kubectl-kbackup/internal/ui"
)

// ClustersOptions shows the fleet at a glance.
type ClustersOptions struct {
	Global *GlobalOptions

	Stale  bool
	MaxAge time.Duration
	Grace  time.Duration
	Output string

	config *LoadedConfig
	genericiooptions.IOStreams
}

// NewCmdClusters returns `kubectl kbackup clusters`.
func NewCmdClusters(global *GlobalOptions, streams genericiooptions.IOStreams) *cobra.Command {
	o := &ClustersOptions{Global: global, IOStreams: streams}
	cmd := &cobra.Command{
		Use:   "clusters",
		Short: "Every cluster of the repository, its last backups, and whether it is backed up as often as it should be",
		Long: `Every cluster of the repository, registered or only seen in backups, with its
environment and region, its last backup (age and phase), its last successful
backup, how many backups it has, the bytes its backups store (a pack shared
by several backups counted once), and its freshness.

A cluster is stale when it has no successful backup, when a schedule that
covers it (backup_schedules of its environment in kbackup.yaml, or a
schedule of the repository for its environment or for all) was due more
than --grace ago after its last successful backup started, or, when no
schedule covers it, when its last successful backup is older than
--max-age. --stale shows only the stale ones, and exits 1 when there is
any.`,
		Example: `  # Every cluster at a glance
  kubectl kbackup clusters

  # Only the clusters whose backups are late; exits 1 when there is any (for a cron job or CI)
  kubectl kbackup clusters --stale

  # The same as JSON
  kubectl kbackup clusters -o json`,
		Args: cobra.NoArgs,
		RunE: runOptions(o),
	}
	fs := cmd.Flags()
	fs.BoolVar(&o.Stale, "stale", false, "Show only the stale clusters; exit 1 when there is any.")
	fs.DurationVar(&o.MaxAge, "max-age", fleetview.DefaultMaxAge, "How old the last successful backup of a cluster that no schedule covers may be.")
	fs.DurationVar(&o.Grace, "grace", fleetview.DefaultGrace, "How long after a scheduled time its backup may still be running.")
	ui.AddOutputFlag(fs, &o.Output)
	return cmd
}

// Complete reads the configuration.
func (o *ClustersOptions) Complete(_ *pflag.FlagSet, _ []string) error {
	cfg, err := o.Global.loadConfig()
	o.config = cfg
	return err
}

// Validate checks the flags.
func (o *ClustersOptions) Validate() error {
	if o.MaxAge <= 0 {
		return fmt.Errorf("--max-age %s must be positive, such as 24h", o.MaxAge)
	}
	if o.Grace < 0 {
		return fmt.Errorf("--grace %s must not be negative, such as 1h", o.Grace)
	}
	return ui.ValidateOutput(o.Output, false)
}

// Run reads and shows the fleet.
func (o *ClustersOptions) Run(ctx context.Context) error {
	r, err := openRepository(ctx, o.config)
	if err != nil {
		return err
	}
	now := time.Now()
	clusters, err := fleetview.Status(ctx, r, fleetview.Options{
		Now: now, Schedules: o.config.BackupSchedules, MaxAge: o.MaxAge, Grace: o.Grace,
	})
	if err != nil {
		return err
	}
	stale := 0
	shown := clusters[:0:0]
	for _, c := range clusters {
		if c.Stale {
			stale++
		}
		if !o.Stale || c.Stale {
			shown = append(shown, c)
		}
	}
	if o.Output != "" {
		err = ui.PrintObject(o.Out, o.Output, shown)
	} else if o.Stale && stale == 0 {
		_, err = fmt.Fprintf(o.Out, "No stale clusters among %s.\n", ui.Count(len(clusters), "cluster"))
	} else {
		err = ui.RenderFleetStatus(o.Out, ui.NewStyles(o.Out), shown, now)
	}
	if err != nil {
		return err
	}
	if o.Stale && stale > 0 {
		return &ExitError{Code: 1, Err: fmt.Errorf("%s of %d are stale", ui.Count(stale, "cluster"), len(clusters))}
	}
	return nil
}
