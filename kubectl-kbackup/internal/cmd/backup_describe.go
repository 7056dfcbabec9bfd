package cmd

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"k8s.io/cli-runtime/pkg/genericiooptions"

	"github.com/kbackup/kbackup/core/catalog"
	"github.com/kbackup/kbackup/core/repo"
	"github.com/kbackup/kbackup/kubectl-kbackup/internal/ui"
)

// BackupDescribeOptions shows one backup in full.
type BackupDescribeOptions struct {
	Global *GlobalOptions

	// Backup is the ID or "latest".
	Backup  string
	Cluster string
	// Details reads every pack, checking it, and lists its objects.
	Details bool
	Output  string

	config *LoadedConfig
	now    func() time.Time

	genericiooptions.IOStreams
}

// NewBackupDescribeOptions returns the options with their defaults.
func NewBackupDescribeOptions(global *GlobalOptions, streams genericiooptions.IOStreams) *BackupDescribeOptions {
	return &BackupDescribeOptions{Global: global, IOStreams: streams, now: time.Now}
}

// NewCmdBackupDescribe returns `kubectl kbackup backup describe`.
func NewCmdBackupDescribe(global *GlobalOptions, streams genericiooptions.IOStreams) *cobra.Command {
	o := NewBackupDescribeOptions(global, streams)
	cmd := &cobra.Command{
		Use:   "describe ID|latest",
		Short: "Show a backup: identity, phase, options, statistics, contents and problems",
		Long: `Show a backup: the cluster it came from, its phase, options and statistics,
how many objects of each type each namespace holds, and its errors, warnings
and skipped objects. All of it comes from the backup's manifest.

--details also reads every pack of the backup from the repository, checks it
against its SHA-256, and lists the objects it holds; a pack that is missing
or corrupt is named, and the command fails.

-o json or -o yaml prints the manifest itself.`,
		Example: `  # The latest backup of the current context's cluster
  kubectl kbackup backup describe latest

  # One backup, with every pack read back, checked and its objects listed
  kubectl kbackup backup describe 20260301T020000Z-1a2b3c --details

  # The latest backup of another cluster, for a script
  kubectl kbackup backup describe latest --cluster prod-eu -o json`,
		Args: exactArgs("ID|latest"),
		RunE: runOptions(o),
	}
	o.AddFlags(cmd.Flags())
	return cmd
}

// AddFlags registers the command's flags.
func (o *BackupDescribeOptions) AddFlags(fs *pflag.FlagSet) {
	fs.StringVar(&o.Cluster, "cluster", "", "Cluster of the backup (default: found from the ID; for latest, the current context's).")
	fs.BoolVar(&o.Details, "details", false, "Read and check every pack, and list the objects each holds.")
	ui.AddOutputFlag(fs, &o.Output)
}

// Complete reads the argument and the configuration.
func (o *BackupDescribeOptions) Complete(_ *pflag.FlagSet, args []string) error {
	o.Backup = args[0]
	cfg, err := o.Global.loadConfig()
	o.config = cfg
	return err
}

// Validate checks the flags.
func (o *BackupDescribeOptions) Validate() error {
	if err := validateBackupArg(o.Backup); err != nil {
		return err
	}
	return ui.ValidateOutput(o.Output, false)
}

// Run describes the backup.
func (o *BackupDescribeOptions) Run(ctx context.Context) error {
	r, err := openRepository(ctx, o.config)
	if err != nil {
		return err
	}
	m, err := o.Global.resolveBackup(ctx, r, o.config, o.Cluster, o.Backup)
	if err != nil {
		return err
	}
	var details []ui.PackDetail
	var bad []error
	if o.Details {
		details, bad = readPacks(ctx, r, m)
	}
	if o.Output != "" {
		err = ui.PrintObject(o.Out, o.Output, m)
	} else {
		err = ui.RenderBackupDescription(o.Out, ui.NewStyles(o.Out), m, details, o.now())
	}
	if err != nil {
		return err
	}
	if len(bad) > 0 {
		return fmt.Errorf("%s of backup %s cannot be read:\n%w", ui.Count(len(bad), "pack"), m.ID, errors.Join(bad...))
	}
	return nil
}

// readPacks reads every pack of m, which checks its hash, and returns
// what each holds, and the error of each pack that failed.
func readPacks(ctx context.Context, r *repo.Repository, m *repo.Manifest) ([]ui.PackDetail, []error) {
	details := catalog.ReadEveryPack(ctx, r, m)
	var bad []error
	for _, d := range details {
		if d.Err != nil {
			bad = append(bad, d.Err)
		}
	}
	return details, bad
}

// exactArgs wants one argument, and names it when it is missing.
func exactArgs(what string) cobra.PositionalArgs {
	return func(c *cobra.Command, args []string) error {
		switch {
		case len(args) == 0:
			return fmt.Errorf("%s needs the backup: its %s (see `kubectl kbackup backup list`)", c.CommandPath(), what)
		case len(args) > 1:
			return fmt.Errorf("%s takes one backup (%s), got %d arguments: %v", c.CommandPath(), what, len(args), args)
		}
		return nil
	}
}

// validateBackupArg checks an ID or "latest" before anything is read.
func validateBackupArg(s string) error {
	if s == catalog.Latest {
		return nil
	}
	if err := repo.ValidateBackupID(s); err != nil {
		return fmt.Errorf("%w; give a backup ID from `kubectl kbackup backup list`, or latest", err)
	}
	return nil
}
