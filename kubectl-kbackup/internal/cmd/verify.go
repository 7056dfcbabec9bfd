package cmd

import (
	"context"
	"errors"
	"fmt"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"k8s.io/cli-runtime/pkg/genericiooptions"

	"github.com/kbackup/kbackup/core/catalog"
	"github.com/kbackup/kbackup/core/repo"
	"github.com/kbackup/kbackup/core/verify"
	"github.com/kbackup/kbackup/kubectl-kbackup/internal/ui"
)

// VerifyOptions checks that backups can be restored: every pack they name
// exists and has the content its SHA-256 names.
type VerifyOptions struct {
	Global *GlobalOptions

	// Backup is the ID or latest (the default when neither --all nor
	// --all-clusters is given).
	Backup string
	All    bool
	clusterSelection
	Output string

	config *LoadedConfig

	genericiooptions.IOStreams
}

// NewVerifyOptions returns the options with their defaults.
func NewVerifyOptions(global *GlobalOptions, streams genericiooptions.IOStreams) *VerifyOptions {
	return &VerifyOptions{Global: global, IOStreams: streams}
}

// NewCmdVerify returns `kubectl kbackup verify`.
func NewCmdVerify(global *GlobalOptions, streams genericiooptions.IOStreams) *cobra.Command {
	o := NewVerifyOptions(global, streams)
	cmd := &cobra.Command{
		Use:   "verify [ID|latest]",
		Short: "Check that backups can be restored: every pack is there and intact",
		Long: `Read every pack of a backup (by default the latest of the current context's
cluster), of every backup of a cluster (--all), or of the whole repository
(--all-clusters), and check that it exists, decompresses, and has the SHA-256
its name says. A pack shared by several backups is read once.

It lists every pack that is Missing, Corrupt or Unreadable (the storage did
not answer: it may be fine) with the backups it breaks, a verdict per
backup, manifests that cannot be read, and the counts.

Exit codes: 0 when every pack is there and intact; 1 when anything is
missing, corrupt or unreadable, or on errors.`,
		Example: `  # Is the latest backup of the current context's cluster intact?
  kubectl kbackup verify

  # One backup
  kubectl kbackup verify 20260301T020000Z-1a2b3c

  # Every backup of a cluster
  kubectl kbackup verify --all --cluster prod-eu

  # The whole repository, for a monitoring job (exit 1 on any missing or corrupt pack)
  kubectl kbackup verify --all-clusters -o json`,
		Args: cobra.MaximumNArgs(1),
		RunE: runOptions(o),
	}
	o.AddFlags(cmd.Flags())
	return cmd
}

// AddFlags registers the command's flags.
func (o *VerifyOptions) AddFlags(fs *pflag.FlagSet) {
	fs.BoolVar(&o.All, "all", false, "Verify every backup of the cluster.")
	o.addFlags(fs, "Cluster of the backups (default: found from the ID; for latest and --all, the current context's).", "Verify every backup of every cluster in the repository.")
	ui.AddOutputFlag(fs, &o.Output)
}

// Complete reads the argument and the configuration.
func (o *VerifyOptions) Complete(_ *pflag.FlagSet, args []string) error {
	if len(args) > 0 {
		o.Backup = args[0]
	}
	cfg, err := o.Global.loadConfig()
	o.config = cfg
	return err
}

// Validate checks the argument and flags.
func (o *VerifyOptions) Validate() error {
	switch {
	case o.Backup != "" && (o.All || o.AllClusters):
		return fmt.Errorf("verify one backup (%s) or many (--all, --all-clusters), not both", o.Backup)
	case o.AllClusters && o.All:
		return errors.New("--all and --all-clusters exclude each other: --all is every backup of one cluster, --all-clusters of every cluster")
	}
	if o.Backup != "" {
		if err := validateBackupArg(o.Backup); err != nil {
			return err
		}
	}
	if err := o.clusterSelection.validate(); err != nil {
		return err
	}
	return ui.ValidateOutput(o.Output, false)
}

// Run verifies and reports; problems make it fail.
func (o *VerifyOptions) Run(ctx context.Context) error {
	r, err := openRepository(ctx, o.config)
	if err != nil {
		return err
	}
	progress := ui.NewCountProgress(o.ErrOut)
	started := false
	opts := verify.Options{Progress: func(e verify.Event) {
		if !started {
			progress.Start(e.Total, "verifying", "packs")
			started = true
		}
		progress.Set(e.Done, "")
	}}
	var rep *verify.Report
	switch {
	case o.AllClusters:
		rep, err = verify.All(ctx, r, opts)
	case o.All:
		cluster, cerr := o.Global.clusterName(ctx, o.config, o.Cluster)
		if cerr != nil {
			return cerr
		}
		rep, err = verify.Cluster(ctx, r, cluster, opts)
	default:
		backupArg := o.Backup
		if backupArg == "" {
			backupArg = catalog.Latest
		}
		m, merr := o.Global.resolveBackup(ctx, r, o.config, o.Cluster, backupArg)
		if merr != nil {
			return merr
		}
		rep, err = verify.Backups(ctx, r, []*repo.Manifest{m}, opts)
	}
	progress.Finish()
	if err != nil {
		return err
	}
	if o.Output != "" {
		err = ui.PrintObject(o.Out, o.Output, rep)
	} else {
		err = ui.RenderVerifyReport(o.Out, ui.NewStyles(o.Out), rep)
	}
	if err != nil {
		return err
	}
	if !rep.Healthy() {
		return fmt.Errorf("%d missing, %d corrupt and %d unreadable of %s, %d manifests unreadable: not every backup checked can be fully restored",
			rep.Missing, rep.Corrupt, rep.Unreadable, ui.Count(rep.Packs, "pack"), len(rep.ManifestErrors))
	}
	return nil
}
