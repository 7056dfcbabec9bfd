package cmd

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/spf13/pflag"

	"github.com/kbackup/kbackup/core/fleetrun"
	"github.com/kbackup/kbackup/core/repo"
	"github.com/kbackup/kbackup/kubectl-kbackup/internal/ui"
)

// FleetFlags are the flags of `backup create` that back up several
// clusters in one run.
type FleetFlags struct {
	// Contexts, AllContexts and Fleet choose the clusters: kubeconfig
	// contexts by name, every context, or every registered cluster that a
	// context reaches.
	Contexts    []string
	AllContexts bool
	Fleet       bool
	// MaxConcurrentOperations is --max-concurrent-operations, which sets
	// performance.limits.max_concurrent_operations.
	MaxConcurrentOperations int
	ConnectTimeout          time.Duration
}

// AddFlags registers the flags.
func (f *FleetFlags) AddFlags(fs *pflag.FlagSet) {
	fs.StringSliceVar(&f.Contexts, "contexts", nil, "Back up the clusters of these kubeconfig contexts in one run (a,b,c), in that order unless priorities say otherwise.")
	fs.BoolVar(&f.AllContexts, "all-contexts", false, "Back up the cluster of every context of the kubeconfig in one run.")
	fs.BoolVar(&f.Fleet, "fleet", false, "Back up every cluster of the repository's registry that a context of the kubeconfig reaches (matched by kube-system UID, not by name), higher priority first.")
	fs.IntVar(&f.MaxConcurrentOperations, "max-concurrent-operations", 0, "Clusters backed up at once in a run over several clusters; resource types read at once in a backup of one (default: performance.limits.max_concurrent_operations, 10).")
	fs.DurationVar(&f.ConnectTimeout, "connect-timeout", fleetrun.DefaultConnectTimeout, "In a run over several clusters, how long a cluster may take to answer at all (connection, TLS and its first answer, retries included) before it is given up.")
}

// multi says whether the flags ask for a run over several clusters.
func (f *FleetFlags) multi(fs *pflag.FlagSet) bool {
	return fs.Changed("contexts") || f.AllContexts || f.Fleet
}

// validateOneCluster rejects the flags that only a run over several
// clusters takes.
func (f *FleetFlags) validateOneCluster(changed func(string) bool) error {
	if changed("connect-timeout") {
		return errors.New("--connect-timeout applies to a run over several clusters (--contexts, --all-contexts or --fleet); for one cluster, --request-timeout bounds each request")
	}
	return nil
}

// fleetRun is what Complete prepared for a run over several clusters.
type fleetRun struct {
	// candidates are the contexts chosen, read from the kubeconfig.
	candidates []fleetrun.Candidate
	clusters   []fleetrun.Cluster
	match      *fleetrun.RegistryMatch
	options    fleetrun.Options
	// selector names the flag that chose the clusters, for messages.
	selector string
}

// completeFleet resolves the clusters of --contexts, --all-contexts or
// --fleet and the run's options.
func (o *BackupCreateOptions) completeFleet(fs *pflag.FlagSet) error {
	f := &o.Fleet
	run := &fleetRun{}
	o.fleet = run
	switch {
	case fs.Changed("contexts"):
		run.selector = "--contexts"
	case f.AllContexts:
		run.selector = "--all-contexts"
	default:
		run.selector = "--fleet"
	}
	// Each cluster's backup reads its types at backup's own concurrency:
	// max_concurrent_operations counts clusters here.
	opts := o.options
	opts.Concurrency = 0
	if o.config.Sources["cluster.name"] != "" && o.config.Sources["cluster.name"] != "default" && !fs.Changed("cluster-name") {
		// cluster.name (CLUSTER_NAME) names one cluster: each cluster of a
		// run has a name of its own.
		opts.ClusterName, opts.ClusterNameSource = "", ""
	}
	var err error
	requestTimeout := fleetrun.DefaultRequestTimeout
	if fs.Changed("request-timeout") {
		d, err := time.ParseDuration(deref(o.Global.ConfigFlags.Timeout))
		if err != nil {
			if d2, err2 := time.ParseDuration(deref(o.Global.ConfigFlags.Timeout) + "s"); err2 == nil {
				d = d2
			} else {
				return fmt.Errorf("--request-timeout %q: want a duration like 30s or 1m", deref(o.Global.ConfigFlags.Timeout))
			}
		}
		requestTimeout = d
	}
	run.options = fleetrun.Options{
		RunID:          o.runID,
		Concurrency:    o.config.Performance.Limits.MaxConcurrentOperations,
		ConnectTimeout: f.ConnectTimeout,
		RequestTimeout: requestTimeout,
		Backup:         opts,
	}
	run.candidates, err = o.fleetCandidates()
	return err
}

// validateFleet rejects flags that name one cluster, and options core
// refuses, before any cluster is contacted.
func (o *BackupCreateOptions) validateFleet(changed func(string) bool) error {
	f := &o.Fleet
	var chosen []string
	if changed("contexts") {
		chosen = append(chosen, "--contexts")
	}
	if f.AllContexts {
		chosen = append(chosen, "--all-contexts")
	}
	if f.Fleet {
		chosen = append(chosen, "--fleet")
	}
	if len(chosen) > 1 {
		return fmt.Errorf("%s exclude each other: name the contexts, take all of them, or take the registered clusters", strings.Join(chosen, " and "))
	}
	sel := o.fleet.selector
	if changed("contexts") && len(f.Contexts) == 0 {
		return errors.New("--contexts is empty: name one or more kubeconfig contexts, like --contexts prod-eu,prod-us")
	}
	for _, flag := range []string{"context", "cluster-name", "force-cluster-name"} {
		if changed(flag) {
			return fmt.Errorf("--%s names one cluster, and %s backs up several: leave it out (each cluster's name is detected, or taken from its registry entry)", flag, sel)
		}
	}
	if o.Name != "" {
		return fmt.Errorf("NAME (%s) names one backup, and %s makes one per cluster, each with an ID of its own: leave it out (--labels marks them)", o.Name, sel)
	}
	if f.ConnectTimeout <= 0 {
		return fmt.Errorf("--connect-timeout %s: want a positive duration like 10s", f.ConnectTimeout)
	}
	if o.fleet.options.RequestTimeout <= 0 {
		return fmt.Errorf("--request-timeout %s: want a positive duration like 1m for a run over several clusters", o.fleet.options.RequestTimeout)
	}
	return flagErrors(o.fleet.options.Validate(), fleetFlags)
}

// fleetFlags are the flags behind fleetrun's options, by field path.
var fleetFlags = func() map[string]string {
	m := map[string]string{
		fleetrun.FieldConcurrency:    "--max-concurrent-operations",
		fleetrun.FieldConnectTimeout: "--connect-timeout",
		fleetrun.FieldRequestTimeout: "--request-timeout",
	}
	for k, v := range backupCreateFlags {
		m["backup."+k] = v
	}
	return m
}()

// fleetCandidates reads the contexts chosen from the kubeconfig: those of
// --contexts, each of which must exist, or all of them.
func (o *BackupCreateOptions) fleetCandidates() ([]fleetrun.Candidate, error) {
	var names []string
	if !o.Fleet.AllContexts && !o.Fleet.Fleet {
		seen := map[string]bool{}
		for _, n := range o.Fleet.Contexts {
			if n = strings.TrimSpace(n); n != "" && !seen[n] {
				seen[n] = true
				names = append(names, n)
			}
		}
		if len(names) == 0 {
			return nil, nil
		}
	}
	candidates, err := fleetrun.Candidates(deref(o.Global.ConfigFlags.KubeConfig), names)
	if err != nil && len(names) > 0 {
		return nil, fmt.Errorf("%s: %w", o.fleet.selector, err)
	}
	return candidates, err
}

// resolveClusters turns the candidates into the run's clusters: the
// contexts themselves, or for --fleet the registered clusters they reach.
func (o *BackupCreateOptions) resolveClusters(ctx context.Context) error {
	run := o.fleet
	candidates := run.candidates
	var names []string
	for _, c := range candidates {
		names = append(names, c.Context)
	}
	if !o.Fleet.Fleet {
		// Without priorities, the run keeps the order of --contexts (and
		// takes --all-contexts by name).
		for _, c := range candidates {
			run.clusters = append(run.clusters, fleetrun.Cluster{Context: c.Context, Config: c.Config})
		}
		return nil
	}

	// Reading the registry creates nothing: a repository without one has
	// no registered cluster to back up.
	readOnly := o.primary
	readOnly.Create = false
	r, err := repo.Open(ctx, readOnly)
	if err != nil {
		return fmt.Errorf("--fleet reads the registry of the repository: %w", err)
	}
	entries, err := r.ListClusterEntries(ctx)
	if err != nil {
		return fmt.Errorf("--fleet: reading the registry of %s: %w", r.Location(), err)
	}
	if len(entries) == 0 {
		return fmt.Errorf("--fleet: the repository %s has no registered clusters; register them (kubectl kbackup cluster register) or name contexts with --contexts", r.Location())
	}
	run.match = fleetrun.MatchRegistry(ctx, candidates, entries, run.options.ConnectTimeout)
	run.clusters = run.match.Clusters
	if len(run.clusters) == 0 {
		return fmt.Errorf("--fleet: no context of the kubeconfig reaches a registered cluster of %s (registered: %s; contexts tried: %s)",
			r.Location(), strings.Join(run.match.NotReached, ", "), strings.Join(names, ", "))
	}
	return nil
}

// runFleet backs up the clusters, draws a line per cluster while it runs,
// and ends with the table. Exit codes: 0 when every cluster Completed, 2
// when some did not, 1 when no backup was stored at all.
func (o *BackupCreateOptions) runFleet(ctx context.Context) error {
	log := newLogger(o.ErrOut, o.config.Config, "run", o.runID)
	if err := o.resolveClusters(ctx); err != nil {
		return err
	}
	run := o.fleet
	progress := ui.NewFleetProgress(o.ErrOut)
	run.options.Progress = func(e fleetrun.Event) {
		progress.Handle(e)
		logFleetEvent(log, e)
	}
	log.Info("fleet run started", "clusters", len(run.clusters), "concurrency", run.options.Concurrency)
	res, err := fleetrun.Run(ctx, run.clusters, repo.NewChooser(o.primary, o.fallbacks...), run.options)
	progress.Finish()
	if err != nil {
		return flagErrors(err, fleetFlags)
	}
	doc := ui.NewFleetRunResult(res, run.match)
	log.Info("fleet run ended", "clusters", len(res.Clusters), "completed", doc.Completed, "duration", doc.Duration)
	if o.Output != "" {
		if err := ui.PrintObject(o.Out, o.Output, doc); err != nil {
			return err
		}
	} else if err := ui.RenderFleetRun(o.Out, ui.NewStyles(o.Out), doc); err != nil {
		return err
	}
	stored := 0
	for _, c := range res.Clusters {
		if c.BackupID != "" {
			stored++
		}
	}
	switch {
	case doc.Completed == len(res.Clusters):
		return nil
	case stored == 0:
		return fmt.Errorf("run %s: no cluster was backed up (reasons in the table)", res.RunID)
	}
	return &ExitError{Code: ExitPartiallyFailed, Err: fmt.Errorf("run %s: %d of %s completed (the others are listed above with why)",
		res.RunID, doc.Completed, ui.Count(len(res.Clusters), "cluster"))}
}

// logFleetEvent logs a fleet run's events; every line names the cluster,
// and the backup once there is one.
func logFleetEvent(log *slog.Logger, e fleetrun.Event) {
	log = log.With("cluster", cmp.Or(e.Cluster, e.Context), "context", e.Context)
	switch e.Kind {
	case fleetrun.EventConnecting:
		log.Debug("cluster started")
	case fleetrun.EventRetrying:
		log.Warn("cluster will be tried again", "attempt", e.Attempt, "error", e.Err.Error(), "wait", e.Wait.String())
	case fleetrun.EventBackup:
		logEvent(log, e.Backup)
	case fleetrun.EventDone:
		r := e.Result
		attrs := []any{"backup", r.BackupID, "result", string(r.Result), "objects", r.Objects, "bytesUploaded", r.BytesUploaded, "duration", r.Duration.String(), "attempts", r.Attempts}
		if r.Error != "" {
			attrs = append(attrs, "error", r.Error)
		}
		if r.BackupID == "" {
			log.Error("cluster not backed up", attrs...)
			return
		}
		log.Info("cluster done", attrs...)
	}
}
