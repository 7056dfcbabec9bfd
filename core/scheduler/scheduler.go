// Package scheduler runs the repository's schedules (_fleet/schedules/):
// at each slot of a schedule it backs up the registered clusters the
// schedule applies to that the kubeconfig's contexts reach (matched by
// identity, as fleetrun.MatchRegistry does), as one fleet run (priorities,
// concurrency, retries, breakers), then prunes them by the schedule's
// retention.
//
// Several schedulers may share a repository: before backing up a cluster
// in a slot, a scheduler claims it with a conditional write
// (repo.ClaimSlot), so each cluster's backup of a slot runs once, by
// whichever scheduler claims it first. A scheduler that starts runs the
// latest slot of each schedule within the catch-up window, unless it is
// claimed already, so a slot missed while every scheduler was down runs
// once. Schedules are read again every reload interval: a schedule that
// Terraform adds, changes or removes is followed without a restart.
package scheduler

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/kbackup/kbackup/core/fleet"
	"github.com/kbackup/kbackup/core/fleetrun"
	"github.com/kbackup/kbackup/core/prune"
	"github.com/kbackup/kbackup/core/repo"
	"github.com/kbackup/kbackup/core/retention"
)

// Defaults of Options.
const (
	// DefaultCatchUpWindow: a slot missed by less than this runs at start.
	// An hour covers a restart or a rolling update; a nightly backup
	// missed by a longer outage waits for the next night rather than
	// starting at an unexpected time of day.
	DefaultCatchUpWindow = time.Hour
	// DefaultReloadInterval is how often schedules are read again: a
	// LIST and a GET per schedule, cheap against the minute a schedule's
	// granularity is.
	DefaultReloadInterval = 30 * time.Second
	// DefaultClaimRetention is how long slot claims are kept, as a record
	// of what ran; it must exceed the catch-up window.
	DefaultClaimRetention = 7 * 24 * time.Hour
	// recordTimeout bounds writing a claim's outcome after the run's
	// context is cancelled (shutdown), so that an interruption is recorded.
	recordTimeout = 30 * time.Second
)

// Options say what a scheduler runs, and how.
type Options struct {
	// Repository holds the schedules, the registry and the slot claims.
	Repository *repo.Repository
	// NewChooser gives each run its storage chooser (the primary and its
	// fallbacks).
	NewChooser func() *repo.Chooser
	// Candidates are the kubeconfig contexts that may reach registered
	// clusters, read at each slot (a mounted kubeconfig may change).
	Candidates func(ctx context.Context) ([]fleetrun.Candidate, error)
	// Run is how each run goes; RunID, Backup.BackupSpec and Progress are
	// set per run.
	Run fleetrun.Options
	// Prune is how the clusters backed up are pruned; Clusters and Given
	// are set per cluster.
	Prune prune.Options
	// CatchUpWindow, ReloadInterval and ClaimRetention: see the defaults.
	CatchUpWindow  time.Duration
	ReloadInterval time.Duration
	ClaimRetention time.Duration
	// Replica names this scheduler in its claims (host and process).
	Replica string
	// Log receives the scheduler's lines; each run's carry its run ID,
	// schedule and slot.
	Log *slog.Logger
	// Observers see every run (metrics, tracing, logs of each cluster's
	// progress).
	Observers []Observer
	// AfterRun are steps taken after each run, in order (notifications,
	// replication). They are given the run's context without its
	// cancellation: a shutdown does not cut them off mid-way.
	AfterRun []AfterRun
	// Now is the clock (tests); default time.Now.
	Now func() time.Time
}

// Observer sees a run as it goes. RunStarted may return a context that the
// run and the other calls use (a trace span's).
type Observer interface {
	RunStarted(ctx context.Context, run *Run) context.Context
	ClusterEvent(ctx context.Context, run *Run, e fleetrun.Event)
	RunEnded(ctx context.Context, run *Run)
}

// AfterRun is a step taken after a run.
type AfterRun func(ctx context.Context, run *Run)

// Run is one run of a schedule's slot.
type Run struct {
	ID        string
	Schedule  *fleet.Schedule
	Slot      time.Time
	StartedAt time.Time
	EndedAt   time.Time
	// Result is the fleet run's; nil when no cluster was backed up (none
	// applies, none was reached, every one was claimed elsewhere).
	Result *fleetrun.Result
	// ClaimedElsewhere are the clusters another scheduler (or an earlier
	// start of this one) has the slot of.
	ClaimedElsewhere []string
	// NotReached are registered clusters the schedule applies to that no
	// context reaches.
	NotReached []string
	// Interrupted are the clusters whose backup the shutdown cut off, or
	// that it did not let start.
	Interrupted []string
	// Pruned are the prune plans executed after the backups.
	Pruned []*prune.ClusterPlan
	// Err is why the run could not run or prune (the registry
	// unreadable, a claim not written, a prune failed).
	Err error
}

// Scheduler runs schedules; see the package comment.
type Scheduler struct {
	opts Options
	log  *slog.Logger

	mu       sync.Mutex
	entries  map[string]*entry
	loaded   bool
	loadErr  error
	loadedAt time.Time
	running  int
	lastGC   map[string]time.Time
	wg       sync.WaitGroup
}

// entry is a loaded schedule and its next slot.
type entry struct {
	schedule *fleet.Schedule
	slots    Slots
	next     time.Time
}

// New returns a scheduler; Run starts it.
func New(opts Options) (*Scheduler, error) {
	if opts.Repository == nil || opts.NewChooser == nil || opts.Candidates == nil {
		return nil, errors.New("scheduler: Repository, NewChooser and Candidates are required")
	}
	opts.CatchUpWindow = cmp.Or(opts.CatchUpWindow, DefaultCatchUpWindow)
	opts.ReloadInterval = cmp.Or(opts.ReloadInterval, DefaultReloadInterval)
	opts.ClaimRetention = cmp.Or(opts.ClaimRetention, DefaultClaimRetention)
	if opts.CatchUpWindow < 0 || opts.ReloadInterval < 0 {
		return nil, fmt.Errorf("scheduler: the catch-up window (%s) and reload interval (%s) must be positive", opts.CatchUpWindow, opts.ReloadInterval)
	}
	if opts.ClaimRetention <= opts.CatchUpWindow {
		return nil, fmt.Errorf("scheduler: claims must be kept (%s) longer than the catch-up window (%s), or a slot could run twice", opts.ClaimRetention, opts.CatchUpWindow)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Log == nil {
		opts.Log = slog.New(slog.DiscardHandler)
	}
	if err := opts.Run.Validate(); err != nil {
		return nil, err
	}
	return &Scheduler{opts: opts, log: opts.Log, entries: map[string]*entry{}, lastGC: map[string]time.Time{}}, nil
}

// Status is what a scheduler knows of itself.
type Status struct {
	// Loaded says the schedules were read at least once.
	Loaded bool
	// Schedules are the schedules loaded (not suspended), by name.
	Schedules []*fleet.Schedule
	// LoadedAt is when they were last read successfully; LoadErr is why
	// the last reading failed, nil when it did not.
	LoadedAt time.Time
	LoadErr  error
	// Running counts the runs in progress.
	Running int
}

// Status returns the scheduler's status.
func (s *Scheduler) Status() Status {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := Status{Loaded: s.loaded, LoadedAt: s.loadedAt, LoadErr: s.loadErr, Running: s.running}
	for _, name := range slices.Sorted(maps.Keys(s.entries)) {
		st.Schedules = append(st.Schedules, s.entries[name].schedule)
	}
	return st
}

// Ready says whether the scheduler can do its work: its schedules were
// read, and the last reading succeeded (the repository answers).
func (s *Scheduler) Ready() error {
	st := s.Status()
	switch {
	case st.LoadErr != nil:
		return fmt.Errorf("reading the schedules: %w", st.LoadErr)
	case !st.Loaded:
		return errors.New("the schedules have not been read yet")
	}
	return nil
}

// Run schedules until ctx is done, then waits for the runs in progress,
// which use work: cancelling work (a shutdown's deadline) interrupts them,
// and they record that. It returns nil once every run has ended.
func (s *Scheduler) Run(ctx, work context.Context) error {
	nextReload := time.Time{}
	for {
		now := s.opts.Now()
		if !now.Before(nextReload) {
			s.reload(ctx, now)
			nextReload = now.Add(s.opts.ReloadInterval)
		}
		wake := nextReload
		for _, due := range s.due(now) {
			s.start(work, due.schedule, due.slot)
		}
		s.mu.Lock()
		for _, e := range s.entries {
			if !e.next.IsZero() && e.next.Before(wake) {
				wake = e.next
			}
		}
		s.mu.Unlock()
		timer := time.NewTimer(max(wake.Sub(s.opts.Now()), 0))
		select {
		case <-ctx.Done():
			timer.Stop()
			s.log.Info("scheduler stopping: no new runs; waiting for the runs in progress", "running", s.Status().Running)
			s.wg.Wait()
			return nil
		case <-timer.C:
		}
	}
}

type dueSlot struct {
	schedule *fleet.Schedule
	slot     time.Time
}

// due returns the slots due at now and moves each schedule to its next
// slot after now: slots passed while a run was starting are not run
// twice, and a slot passed long ago is not run late.
func (s *Scheduler) due(now time.Time) []dueSlot {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []dueSlot
	for _, name := range slices.Sorted(maps.Keys(s.entries)) {
		e := s.entries[name]
		if e.next.IsZero() || e.next.After(now) {
			continue
		}
		out = append(out, dueSlot{schedule: e.schedule, slot: e.next})
		e.next = e.slots.Next(now)
	}
	return out
}

// reload reads the schedules again. A schedule new since the last reading
// starts at its next slot, or, at the first reading, at its latest slot
// within the catch-up window; a schedule whose cron or time zone changed
// starts again at its next slot; a removed or suspended one stops. When
// the schedules cannot be read, the ones loaded go on.
func (s *Scheduler) reload(ctx context.Context, now time.Time) {
	schedules, err := s.opts.Repository.ListSchedules(ctx)
	s.mu.Lock()
	defer s.mu.Unlock()
	if err != nil {
		if ctx.Err() == nil {
			s.log.Error("schedules not read; the loaded ones go on", "error", err.Error(), "loaded", len(s.entries))
		}
		s.loadErr = err
		return
	}
	first := !s.loaded
	s.loaded, s.loadErr, s.loadedAt = true, nil, now
	seen := map[string]bool{}
	for _, sc := range schedules {
		if sc.Suspend {
			continue
		}
		seen[sc.Name] = true
		old := s.entries[sc.Name]
		if old != nil && old.schedule.Cron == sc.Cron && old.schedule.TimeZone == sc.TimeZone {
			old.schedule = sc
			continue
		}
		c, err := sc.Parse()
		if err != nil { // the repository validated it: only a newer format gets here
			s.log.Error("schedule not understood; skipped", "schedule", sc.Name, "error", err.Error())
			continue
		}
		e := &entry{schedule: sc, slots: NewSlots(c)}
		e.next = e.slots.Next(now)
		if first {
			if last, ok := e.slots.Last(now, s.opts.CatchUpWindow); ok {
				e.next = last
			}
		}
		what := "schedule loaded"
		if old != nil {
			what = "schedule changed"
		}
		s.log.Info(what, "schedule", sc.Name, "cron", sc.Cron, "timeZone", sc.TimeZone, "nextSlot", e.next.UTC().Format(time.RFC3339))
		s.entries[sc.Name] = e
	}
	for name := range s.entries {
		if !seen[name] {
			s.log.Info("schedule removed or suspended", "schedule", name)
			delete(s.entries, name)
		}
	}
}

// start runs a slot in the background.
func (s *Scheduler) start(work context.Context, sc *fleet.Schedule, slot time.Time) {
	s.mu.Lock()
	s.running++
	s.mu.Unlock()
	s.wg.Go(func() {
		defer func() {
			s.mu.Lock()
			s.running--
			s.mu.Unlock()
		}()
		s.RunSlot(work, sc, slot)
	})
}

// RunSlot runs one slot of a schedule now: claims each cluster, backs up
// those it claimed, records how each ended in its claim, prunes, and takes
// the after-run steps. Run calls it at each slot.
func (s *Scheduler) RunSlot(ctx context.Context, sc *fleet.Schedule, slot time.Time) *Run {
	now := s.opts.Now()
	run := &Run{ID: repo.NewRunID(now), Schedule: sc, Slot: slot.UTC(), StartedAt: now.UTC()}
	log := s.log.With("run", run.ID, "schedule", sc.Name, "slot", run.Slot.Format(time.RFC3339))
	for _, o := range s.opts.Observers {
		ctx = o.RunStarted(ctx, run)
	}
	defer func() {
		run.EndedAt = s.opts.Now().UTC()
		for _, o := range s.opts.Observers {
			o.RunEnded(ctx, run)
		}
		after := context.WithoutCancel(ctx)
		for _, step := range s.opts.AfterRun {
			step(after, run)
		}
	}()

	r := s.opts.Repository
	entries, err := r.ListClusterEntries(ctx)
	if err != nil {
		run.Err = fmt.Errorf("reading the registry of %s: %w", r, err)
		log.Error("slot not run", "error", run.Err.Error())
		return run
	}
	var applicable []*fleet.ClusterEntry
	for _, e := range entries {
		if sc.AppliesTo(e.Name, e.Environment) {
			applicable = append(applicable, e)
		}
	}
	if len(applicable) == 0 {
		log.Warn("slot not run: no registered cluster is covered by the schedule", "registered", len(entries))
		return run
	}
	candidates, err := s.opts.Candidates(ctx)
	if err != nil {
		run.Err = fmt.Errorf("reading the kubeconfig's contexts: %w", err)
		log.Error("slot not run", "error", run.Err.Error())
		return run
	}
	match := fleetrun.MatchRegistry(ctx, candidates, applicable, s.opts.Run.ConnectTimeout)
	run.NotReached = match.NotReached
	if len(match.NotReached) > 0 {
		log.Warn("registered clusters that no context reaches are not backed up", "clusters", match.NotReached)
	}

	claims := map[string]*repo.SlotClaim{}
	var won []fleetrun.Cluster
	var claimErrs []error
	for _, c := range match.Clusters {
		claim := &repo.SlotClaim{Schedule: sc.Name, Slot: run.Slot, Cluster: c.ClusterName, ClaimedBy: s.opts.Replica, ClaimedAt: s.opts.Now().UTC(), RunID: run.ID}
		err := r.ClaimSlot(ctx, claim)
		switch {
		case errors.Is(err, repo.ErrSlotClaimed):
			run.ClaimedElsewhere = append(run.ClaimedElsewhere, c.ClusterName)
		case err != nil:
			claimErrs = append(claimErrs, fmt.Errorf("claiming cluster %s: %w", c.ClusterName, err))
		default:
			claims[c.ClusterName] = claim
			won = append(won, c)
		}
	}
	if len(run.ClaimedElsewhere) > 0 {
		log.Info("clusters claimed by another scheduler for this slot", "clusters", run.ClaimedElsewhere)
	}
	if len(claimErrs) > 0 {
		run.Err = errors.Join(claimErrs...)
		log.Error("clusters not claimed, so not backed up", "error", run.Err.Error())
	}
	if len(won) == 0 {
		return run
	}

	opts := s.opts.Run
	opts.RunID = run.ID
	opts.Backup.BackupSpec = sc.Spec
	opts.Progress = func(e fleetrun.Event) {
		for _, o := range s.opts.Observers {
			o.ClusterEvent(ctx, run, e)
		}
	}
	log.Info("run started", "clusters", len(won))
	res, err := fleetrun.Run(ctx, won, s.opts.NewChooser(), opts)
	if err != nil {
		run.Err = errors.Join(run.Err, err)
		log.Error("run refused", "error", err.Error())
		return run
	}
	run.Result = res
	interrupted := ctx.Err() != nil
	record := context.WithoutCancel(ctx)
	var backedUp []string
	for _, cr := range res.Clusters {
		claim := claims[cr.Cluster]
		if claim == nil {
			continue
		}
		claim.State, claim.BackupID, claim.Error, claim.EndedAt = repo.ClaimState(cr.Result), cr.BackupID, cr.Error, s.opts.Now().UTC()
		if cr.BackupID == "" && interrupted {
			claim.State = repo.ClaimInterrupted
			run.Interrupted = append(run.Interrupted, cr.Cluster)
		}
		if cr.BackupID != "" {
			backedUp = append(backedUp, cr.Cluster)
		}
		rctx, cancel := context.WithTimeout(record, recordTimeout)
		if err := r.RecordSlot(rctx, claim); err != nil {
			log.Error("slot outcome not recorded", "cluster", cr.Cluster, "state", string(claim.State), "error", err.Error())
		}
		cancel()
	}
	log.Info("run ended", "clusters", len(res.Clusters), "completed", res.Count(fleetrun.Completed), "interrupted", len(run.Interrupted))
	if interrupted || len(backedUp) == 0 {
		return run
	}
	s.prune(ctx, run, backedUp, log)
	s.collectClaims(ctx, sc.Name, log)
	return run
}

// prune removes what the retention of the schedule (or, when it sets
// none, each cluster's own policy) does not keep of the clusters backed
// up.
func (s *Scheduler) prune(ctx context.Context, run *Run, clusters []string, log *slog.Logger) {
	r := s.opts.Repository
	var given *fleet.RetentionRules
	var policy *fleet.RetentionPolicy
	switch ret := run.Schedule.Retention; {
	case ret.Policy != "":
		p, err := r.GetRetentionPolicy(ctx, ret.Policy)
		if err != nil {
			run.Err = errors.Join(run.Err, fmt.Errorf("reading retention policy %s of schedule %s: %w", ret.Policy, run.Schedule.Name, err))
			log.Error("not pruned", "error", err.Error())
			return
		}
		policy = p
	case !ret.RetentionRules.Empty():
		rules := ret.RetentionRules
		given = &rules
	}
	for _, cluster := range clusters {
		opts := s.opts.Prune
		opts.Clusters = []string{cluster}
		opts.Given = given
		if policy != nil {
			rules := policyRules(policy, clusterEnvironment(run, cluster))
			opts.Given = &rules
		}
		plans, err := prune.Plan(ctx, r, opts)
		var none *retention.NoPolicyError
		if errors.As(err, &none) {
			log.Debug("not pruned: no retention policy governs the cluster", "cluster", cluster)
			continue
		}
		if err == nil {
			err = prune.Execute(ctx, r, plans)
		}
		if err != nil {
			run.Err = errors.Join(run.Err, fmt.Errorf("pruning cluster %s: %w", cluster, err))
			log.Error("prune failed", "cluster", cluster, "error", err.Error())
			continue
		}
		for _, p := range plans {
			if len(p.Removed) > 0 {
				log.Info("pruned", "cluster", p.Cluster, "removed", p.Removed, "bytesFreed", p.BytesFreed)
			}
		}
		run.Pruned = append(run.Pruned, plans...)
	}
}

// policyRules are a named policy's rules for a cluster of env: its days
// for that environment replace keep_within, as for the clusters it governs
// through the registry.
func policyRules(p *fleet.RetentionPolicy, env string) fleet.RetentionRules {
	rules := p.RetentionRules
	if days, ok := p.DaysByEnvironment[env]; ok && env != "" {
		rules.KeepWithin = fmt.Sprintf("%dd", days)
	}
	return rules
}

func clusterEnvironment(run *Run, cluster string) string {
	if run.Result == nil {
		return ""
	}
	for _, c := range run.Result.Clusters {
		if c.Cluster == cluster {
			return c.Environment
		}
	}
	return ""
}

// collectClaims removes the schedule's claims older than the claim
// retention, at most once an hour per schedule.
func (s *Scheduler) collectClaims(ctx context.Context, schedule string, log *slog.Logger) {
	now := s.opts.Now()
	s.mu.Lock()
	if now.Sub(s.lastGC[schedule]) < time.Hour {
		s.mu.Unlock()
		return
	}
	s.lastGC[schedule] = now
	s.mu.Unlock()
	n, err := s.opts.Repository.DeleteSlotClaims(ctx, schedule, now.Add(-s.opts.ClaimRetention))
	if err != nil {
		log.Warn("old slot claims not removed", "error", err.Error())
	} else if n > 0 {
		log.Info("old slot claims removed", "claims", n)
	}
}
