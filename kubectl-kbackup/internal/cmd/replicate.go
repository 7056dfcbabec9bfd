package cmd

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"k8s.io/cli-runtime/pkg/genericiooptions"

	"github.com/kbackup/kbackup/core/config"
	"github.com/kbackup/kbackup/core/replicate"
	"github.com/kbackup/kbackup/core/repo"
	"github.com/kbackup/kbackup/kubectl-kbackup/internal/ui"
)

// ReplicateOptions copies backups into a second repository.
type ReplicateOptions struct {
	Global *GlobalOptions

	// To is the target repository's URL.
	To string
	// Cluster is --cluster; Fleet is --fleet (every cluster, with the
	// schedules and retention policies).
	Cluster string
	Fleet   bool
	// Concurrency is how many packs are copied at once.
	Concurrency int
	Output      string

	config *LoadedConfig

	genericiooptions.IOStreams
}

// NewReplicateOptions returns the options with their defaults.
func NewReplicateOptions(global *GlobalOptions, streams genericiooptions.IOStreams) *ReplicateOptions {
	return &ReplicateOptions{Global: global, IOStreams: streams, Concurrency: replicate.DefaultConcurrency}
}

// NewCmdReplicate returns `kubectl kbackup replicate`.
func NewCmdReplicate(global *GlobalOptions, streams genericiooptions.IOStreams) *cobra.Command {
	o := NewReplicateOptions(global, streams)
	cmd := &cobra.Command{
		Use:   "replicate --to URL [--cluster NAME | --fleet]",
		Short: "Copy backups into a second repository, such as another region's bucket",
		Long: `Copy the backups of a cluster (by default the current context's), or of every
cluster with --fleet, from the repository (--storage, the configuration) into
the repository at --to, which is created when the location is empty.

Only what the target lacks is sent: for each backup, oldest first, the packs
it does not hold, then the manifest, so that the target is a valid repository
at every moment and verify passes on it. An interrupted copy is resumed by
running the command again. The registry entries, restore records and, with
--fleet, the schedules and retention policies are copied too; nothing is
deleted from the target.

Every pack is checked against its manifest entry (size, zstd, SHA-256)
before it is written: a backup whose manifest or packs fail is not copied,
and is reported.

The target's credentials: the source's keys when it is on the same S3
endpoint, else profile= in its URL, else AWS_ACCESS_KEY_ID and
AWS_SECRET_ACCESS_KEY (or the shared credentials file).

Exit codes: 0 when everything was copied; 1 when anything was not.`,
		Example: `  # Copy the current context's cluster's backups into a bucket of another region
  kubectl kbackup replicate --to 's3://backups-dr?endpoint=https://s3.us-east-1.amazonaws.com&region=us-east-1'

  # Copy one cluster's backups
  kubectl kbackup replicate --to s3://backups-dr --cluster prod-eu

  # Copy every registered cluster's, with the schedules and retention policies
  kubectl kbackup replicate --to s3://backups-dr --fleet -o json`,
		Args: cobra.NoArgs,
		RunE: runOptions(o),
	}
	o.AddFlags(cmd.Flags())
	return cmd
}

// AddFlags registers the command's flags.
func (o *ReplicateOptions) AddFlags(fs *pflag.FlagSet) {
	fs.StringVar(&o.To, "to", "", "URL of the target repository: s3://bucket[/prefix]?endpoint=https://host:port, file:///path or a directory (required).")
	fs.StringVar(&o.Cluster, "cluster", "", "Cluster whose backups are copied (default: the configuration's, then the current context's).")
	fs.BoolVar(&o.Fleet, "fleet", false, "Copy every cluster of the registry, and the schedules and retention policies.")
	fs.IntVar(&o.Concurrency, "concurrency", o.Concurrency, "Packs copied at once.")
	ui.AddOutputFlag(fs, &o.Output)
}

// Complete reads the configuration.
func (o *ReplicateOptions) Complete(_ *pflag.FlagSet, _ []string) error {
	cfg, err := o.Global.loadConfig()
	o.config = cfg
	return err
}

// Validate checks the flags.
func (o *ReplicateOptions) Validate() error {
	switch {
	case o.To == "":
		return errors.New("--to is required: the URL of the repository to copy into, such as s3://backups-dr?endpoint=https://host:port")
	case o.Fleet && o.Cluster != "":
		return errors.New("--cluster and --fleet exclude each other: name one cluster, or copy them all")
	case o.Concurrency < 1:
		return fmt.Errorf("--concurrency %d: want at least 1", o.Concurrency)
	}
	if o.Cluster != "" {
		if err := repo.ValidateClusterName(o.Cluster); err != nil {
			return flagErrors(err, map[string]string{"cluster.name": "--cluster"})
		}
	}
	return ui.ValidateOutput(o.Output, false)
}

// Run opens both repositories, copies, and reports.
func (o *ReplicateOptions) Run(ctx context.Context) error {
	primary, _, err := config.RepositoryOptions(o.config.Config)
	if err != nil {
		return err
	}
	src, err := repo.Open(ctx, primary)
	if err != nil {
		return err
	}
	targetOpts, err := config.FallbackOptions(primary, o.To)
	if err != nil {
		return fmt.Errorf("--to: %w", err)
	}
	targetOpts.Create = true
	targetOpts.AutoCreateBucket = primary.AutoCreateBucket
	dst, err := repo.Open(ctx, targetOpts)
	if err != nil {
		return fmt.Errorf("opening the target %s: %w", targetOpts.Location, err)
	}
	opts := replicate.Options{Concurrency: o.Concurrency}
	if !o.Fleet {
		cluster, err := o.Global.clusterName(ctx, o.config, o.Cluster)
		if err != nil {
			return err
		}
		opts.Clusters = []string{cluster}
	}
	progress := ui.NewCountProgress(o.ErrOut)
	progress.Start(-1, "replicating", "backups") // -1: the total is not known up front (a spinner)
	done := 0
	opts.Progress = func(e replicate.Event) {
		done++
		progress.Set(done, e.Cluster+" "+e.Backup)
	}
	rep, runErr := replicate.Run(ctx, src, dst, opts)
	progress.Finish()
	if rep == nil {
		return runErr
	}
	if o.Output != "" {
		err = ui.PrintObject(o.Out, o.Output, rep)
	} else {
		err = renderReplicateReport(o.Out, ui.NewStyles(o.Out), rep)
	}
	if err != nil {
		return err
	}
	if runErr != nil {
		return fmt.Errorf("not everything was copied; run the command again to resume, after fixing what is named:\n%w", runErr)
	}
	return nil
}

// renderReplicateReport writes a row per cluster and the totals.
func renderReplicateReport(w io.Writer, s *ui.Styles, rep *replicate.Report) error {
	t := &ui.Table{Headers: []string{"CLUSTER", "BACKUPS COPIED", "BACKUPS SKIPPED", "FAILED", "PACKS COPIED", "PACKS SKIPPED", "BYTES COPIED", "RESTORES", "RESULT"}}
	for _, c := range rep.Clusters {
		result := s.Good.Render("OK")
		if c.Error != "" {
			result = s.Bad.Render("not fully copied")
		}
		t.AddRow(c.Cluster, fmt.Sprint(c.ManifestsCopied), fmt.Sprint(c.ManifestsSkipped), fmt.Sprint(c.ManifestsFailed),
			fmt.Sprint(c.PacksCopied), fmt.Sprint(c.PacksSkipped), ui.Bytes(c.BytesCopied), fmt.Sprint(c.RestoresCopied), result)
	}
	if err := t.Render(w, s); err != nil {
		return err
	}
	fleetPart := ""
	if rep.Fleet {
		fleetPart = fmt.Sprintf("; schedules written: %d, retention policies written: %d", rep.SchedulesCopied, rep.RetentionPoliciesCopied)
	}
	if _, err := fmt.Fprintf(w, "Copied %s and %s (%s) from %s to %s in %s; already there: %s, %s%s.\n",
		ui.Count(rep.ManifestsCopied, "backup"), ui.Count(rep.PacksCopied, "pack"), ui.Bytes(rep.BytesCopied),
		ui.Sanitize(rep.Source), ui.Sanitize(rep.Target), rep.Duration,
		ui.Count(rep.ManifestsSkipped, "backup"), ui.Count(rep.PacksSkipped, "pack"), fleetPart); err != nil {
		return err
	}
	for _, p := range rep.Problems {
		if _, err := fmt.Fprintln(w, s.Bad.Render("  "+ui.Sanitize(p))); err != nil {
			return err
		}
	}
	return nil
}
