package cmd

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"k8s.io/cli-runtime/pkg/genericiooptions"

	"github.com/kbackup/kbackup/core/prune"
	"github.com/kbackup/kbackup/core/repo"
	"github.com/kbackup/kbackup/kubectl-kbackup/internal/ui"
)

// PruneOptions removes the backups that retention does not keep.
type PruneOptions struct {
	Global *GlobalOptions

	Cluster  string
	Fleet    bool
	DryRun   bool
	Yes      bool
	TimeZone string
	Output   string
	keep     retentionFlags

	config      *LoadedConfig
	interactive bool

	genericiooptions.IOStreams
}

// NewPruneOptions returns the options with their defaults.
func NewPruneOptions(global *GlobalOptions, streams genericiooptions.IOStreams) *PruneOptions {
	return &PruneOptions{Global: global, IOStreams: streams}
}

// NewCmdPrune returns `kubectl kbackup prune`.
func NewCmdPrune(global *GlobalOptions, streams genericiooptions.IOStreams) *cobra.Command {
	o := NewPruneOptions(global, streams)
	cmd := &cobra.Command{
		Use:   "prune",
		Short: "Remove the backups that the retention policy does not keep",
		Long: `Remove the backups of a cluster (the current context's, --cluster NAME) or
of every cluster in the repository (--fleet) that its retention policy does
not keep, then the packs that no remaining backup references.

The policy is restic's forget rules: a backup is kept when any rule keeps
it; failed backups never count towards a --keep-N rule. It comes from the
flags, else the cluster's registry entry (cluster register --keep-*), else
its environment's days (retention_policies in kbackup.yaml, then the
repository's retention policy "default"), else the repository's policy
"default". Every backup is listed with the rules that keep it.

Packs are not removed while a backup of the cluster runs, nor when younger
than an hour. It asks on a terminal; --yes removes without asking, and is
required when stdin is not a terminal. --dry-run only says what would go.`,
		Example: `  # What the policy would remove from the current cluster
  kubectl kbackup prune --dry-run

  # Keep 7 daily and 4 weekly backups of prod-eu
  kubectl kbackup prune --cluster prod-eu --keep-daily 7 --keep-weekly 4 --yes

  # Every cluster, by its own policy
  kubectl kbackup prune --fleet --yes`,
		Args: cobra.NoArgs,
		RunE: runOptions(o),
	}
	o.AddFlags(cmd.Flags())
	return cmd
}

// AddFlags registers the command's flags.
func (o *PruneOptions) AddFlags(fs *pflag.FlagSet) {
	fs.StringVar(&o.Cluster, "cluster", "", "Cluster to prune (default: the current context's cluster).")
	fs.BoolVar(&o.Fleet, "fleet", false, "Prune every cluster of the repository, registered or seen in backups, each by its own policy.")
	fs.BoolVar(&o.DryRun, "dry-run", false, "Only say what would be removed.")
	fs.BoolVarP(&o.Yes, "yes", "y", false, "Remove without asking.")
	fs.StringVar(&o.TimeZone, "time-zone", "UTC", "IANA time zone of the hourly, daily, weekly and monthly buckets, such as Europe/Paris.")
	o.keep.addFlags(fs, "Retention for this run, instead of the stored policies")
	ui.AddOutputFlag(fs, &o.Output)
}

// Complete reads the configuration.
func (o *PruneOptions) Complete(fs *pflag.FlagSet, _ []string) error {
	o.keep.complete(fs)
	o.interactive = ui.IsTerminal(o.In)
	cfg, err := o.Global.loadConfig()
	o.config = cfg
	return err
}

// Validate checks the flags.
func (o *PruneOptions) Validate() error {
	if o.Fleet && o.Cluster != "" {
		return errors.New("--cluster and --fleet exclude each other: give one cluster, or --fleet for all")
	}
	if err := o.keep.validate(); err != nil {
		return err
	}
	if _, err := loadTimeZone(o.TimeZone); err != nil {
		return err
	}
	if !o.Yes && !o.DryRun && !o.interactive {
		return errors.New("not pruning without --yes: stdin is not a terminal to ask on; add --yes, or --dry-run to see what would be removed")
	}
	return ui.ValidateOutput(o.Output, false)
}

// Run plans, shows the plan, asks, and prunes.
func (o *PruneOptions) Run(ctx context.Context) error {
	r, err := openRepository(ctx, o.config)
	if err != nil {
		return err
	}
	opts, err := o.pruneOptions(ctx)
	if err != nil {
		return err
	}
	runID := repo.NewRunID(time.Now())
	return runPrune(ctx, r, opts, pruneRun{dryRun: o.DryRun, yes: o.Yes, output: o.Output, in: o.In, out: o.Out, errOut: o.ErrOut,
		runID: runID, log: newLogger(o.ErrOut, o.config.Config, "run", runID)})
}

func (o *PruneOptions) pruneOptions(ctx context.Context) (prune.Options, error) {
	loc, err := loadTimeZone(o.TimeZone)
	if err != nil {
		return prune.Options{}, err
	}
	opts := prune.Options{
		Given:        o.keep.ruleset(),
		ConfigDays:   o.config.RetentionPolicies,
		Environments: o.config.EnvironmentNames(),
		Location:     loc,
	}
	if !o.Fleet {
		cluster, err := o.Global.clusterName(ctx, o.config, o.Cluster)
		if err != nil {
			return prune.Options{}, err
		}
		opts.Clusters = []string{cluster}
	}
	return opts, nil
}

// pruneRun is how a prune talks to its user.
type pruneRun struct {
	dryRun, yes bool
	output      string
	in          io.Reader
	out, errOut io.Writer
	// runID ties the prune to its log lines and its report: its own, or
	// that of the backup run it follows (backup create --prune).
	runID string
	log   *slog.Logger
}

// runPrune plans, shows the plan (on errOut when it then asks), asks unless
// yes, executes and reports. backup create --prune runs it too.
func runPrune(ctx context.Context, r *repo.Repository, opts prune.Options, run pruneRun) error {
	plans, err := prune.Plan(ctx, r, opts)
	if err != nil {
		run.log.Error("prune not planned", "error", err.Error())
		return flagErrors(err, retentionFlagNames)
	}
	report := func(done bool) error {
		if run.output != "" {
			rep := ui.NewPruneReport(plans, !done)
			rep.RunID = run.runID
			return ui.PrintObject(run.out, run.output, rep)
		}
		if err := ui.RenderPrunePlan(run.out, ui.NewStyles(run.out), plans, done); err != nil || !done {
			return err
		}
		_, err := fmt.Fprintf(run.out, "Run %s.\n", run.runID)
		return err
	}
	removing := 0
	for _, p := range plans {
		removing += len(p.ToRemove())
	}
	run.log.Info("prune planned", "clusters", len(plans), "removing", removing, "dryRun", run.dryRun)
	if run.dryRun || removing == 0 {
		return report(false)
	}
	if !run.yes {
		if err := ui.RenderPrunePlan(run.errOut, ui.NewStyles(run.errOut), plans, false); err != nil {
			return err
		}
		ok, err := ui.Confirm(bufio.NewReader(run.in), run.errOut, fmt.Sprintf("Remove %s?", ui.Count(removing, "backup")))
		if err != nil {
			return err
		}
		if !ok {
			return errors.New("nothing removed: the answer was not yes")
		}
	}
	err = prune.Execute(ctx, r, plans)
	if err != nil {
		run.log.Error("prune failed", "error", err.Error())
	} else {
		rep := ui.NewPruneReport(plans, false)
		run.log.Info("prune ended", "removed", rep.Removed, "bytesFreed", rep.BytesFreed)
	}
	if rerr := report(true); rerr != nil && err == nil {
		err = rerr
	}
	return err
}
