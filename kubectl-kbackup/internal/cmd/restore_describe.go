package cmd

import (
	"context"
	"fmt"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"k8s.io/cli-runtime/pkg/genericiooptions"

	"github.com/kbackup/kbackup/core/repo"
	"github.com/kbackup/kbackup/core/restore"
	"github.com/kbackup/kbackup/kubectl-kbackup/internal/ui"
)

// RestoreDescribeOptions shows one restore record in full.
type RestoreDescribeOptions struct {
	Global *GlobalOptions

	// Restore is the restore's ID.
	Restore  string
	Cluster  string
	ShowDiff bool
	Output   string

	config *LoadedConfig
	now    func() time.Time

	genericiooptions.IOStreams
}

// NewRestoreDescribeOptions returns the options with their defaults.
func NewRestoreDescribeOptions(global *GlobalOptions, streams genericiooptions.IOStreams) *RestoreDescribeOptions {
	return &RestoreDescribeOptions{Global: global, IOStreams: streams, now: time.Now}
}

// NewCmdRestoreDescribe returns `kubectl kbackup restore describe`.
func NewCmdRestoreDescribe(global *GlobalOptions, streams genericiooptions.IOStreams) *cobra.Command {
	o := NewRestoreDescribeOptions(global, streams)
	cmd := &cobra.Command{
		Use:   "describe ID",
		Short: "Show what a restore did, object by object",
		Long: `Show the record of a restore: the backup it came from, the cluster it went
into, its options, how long each stage took, the outcome per namespace and
type, and every object that failed (with the target's error), was updated,
or was skipped (with the reason). The record is read from the repository
(<cluster>/_restores/<id>.json); -o json or -o yaml prints it as stored.`,
		Example: `  # What one restore did, object by object (IDs from kubectl kbackup restore list)
  kubectl kbackup restore describe 20260301T031500Z-4d5e6f

  # With how each object that already existed differed from the backup
  kubectl kbackup restore describe 20260301T031500Z-4d5e6f --show-diff

  # A restore into another cluster, for a script
  kubectl kbackup restore describe 20260301T031500Z-4d5e6f --cluster dr-us -o json`,
		Args: func(c *cobra.Command, args []string) error {
			if len(args) != 1 {
				return fmt.Errorf("%s needs one restore ID (see `kubectl kbackup restore list`), got %d arguments", c.CommandPath(), len(args))
			}
			return nil
		},
		RunE: runOptions(o),
	}
	o.AddFlags(cmd.Flags())
	return cmd
}

// AddFlags registers the command's flags.
func (o *RestoreDescribeOptions) AddFlags(fs *pflag.FlagSet) {
	fs.StringVar(&o.Cluster, "cluster", "", "Cluster the restore went into (default: found from the ID).")
	fs.BoolVar(&o.ShowDiff, "show-diff", false, "Show how each existing object differed from the backup.")
	ui.AddOutputFlag(fs, &o.Output)
}

// Complete reads the argument and the configuration.
func (o *RestoreDescribeOptions) Complete(_ *pflag.FlagSet, args []string) error {
	o.Restore = args[0]
	cfg, err := o.Global.loadConfig()
	o.config = cfg
	return err
}

// Validate checks the argument and flags.
func (o *RestoreDescribeOptions) Validate() error {
	if err := repo.ValidateBackupID(o.Restore); err != nil {
		return fmt.Errorf("restore ID: %w; give an ID from `kubectl kbackup restore list`", err)
	}
	if o.Cluster != "" {
		if err := repo.ValidateClusterName(o.Cluster); err != nil {
			return flagErrors(err, map[string]string{"cluster.name": "--cluster"})
		}
	}
	return ui.ValidateOutput(o.Output, false)
}

// Run reads the record and shows it.
func (o *RestoreDescribeOptions) Run(ctx context.Context) error {
	r, err := openRepository(ctx, o.config)
	if err != nil {
		return err
	}
	rec, err := restore.ReadRecord(ctx, r, o.Cluster, o.Restore)
	if err != nil {
		return err
	}
	if o.Output != "" {
		return ui.PrintObject(o.Out, o.Output, rec.Result)
	}
	return ui.RenderRestoreRecord(o.Out, ui.NewStyles(o.Out), rec.Result, recordLocation(r, rec.Key), o.ShowDiff, o.now())
}
