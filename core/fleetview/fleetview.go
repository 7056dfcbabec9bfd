// Package fleetview is the fleet at a glance: every cluster of a
// repository, registered or only seen in backups, with its last backups,
// what it stores, and whether it is backed up as often as its schedule
// says. It reads one summary per cluster, in parallel, after one listing
// of the pending summary changes and one of the registry: a journaled
// summary of a cluster without pending changes is current, and its copy
// of the registry entry holds while the entry's ETag is the one copied.
// Other clusters cost their entry, a listing of their manifests, and
// their manifests only when their summary is missing or not current.
package fleetview

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/kbackup/kbackup/core/fleet"
	"github.com/kbackup/kbackup/core/prune"
	"github.com/kbackup/kbackup/core/repo"
	"github.com/kbackup/kbackup/core/storage"
)

// Defaults of Options.
const (
	DefaultMaxAge      = 24 * time.Hour
	DefaultGrace       = time.Hour
	DefaultConcurrency = 32
)

// Options tune Status.
type Options struct {
	// Now is the time freshness is judged at (default time.Now()).
	Now time.Time
	// Schedules are kbackup.yaml's backup_schedules: a cron expression per
	// environment.
	Schedules map[string]string
	// MaxAge is how old the last good backup of a cluster that no
	// schedule covers may be (default 24 h).
	MaxAge time.Duration
	// Grace is how long after a scheduled time its backup may still be
	// running before the cluster counts as stale (default 1 h).
	Grace time.Duration
	// Concurrency bounds the clusters read at once (default 32): each
	// costs a GET of its summary (more when it must be checked), small
	// requests whose time is mostly waiting.
	Concurrency int
}

// ClusterStatus is one cluster at a glance.
type ClusterStatus struct {
	Name        string `json:"name"`
	Registered  bool   `json:"registered"`
	Environment string `json:"environment,omitempty"`
	Region      string `json:"region,omitempty"`
	Priority    int    `json:"priority,omitempty"`
	// Backups counts the cluster's backups, of every phase.
	Backups    int                 `json:"backups"`
	LastBackup *repo.BackupSummary `json:"lastBackup,omitempty"`
	// LastGood is the newest backup that did not fail.
	LastGood *repo.BackupSummary `json:"lastSuccessfulBackup,omitempty"`
	// BytesStored counts each pack once, however many backups share it.
	BytesStored int64 `json:"bytesStored"`
	// Freshness is what the cluster is held to: its schedules, or the
	// maximum age when none covers it.
	Freshness string `json:"freshness"`
	Stale     bool   `json:"stale"`
	// StaleReason says why it is stale.
	StaleReason string `json:"staleReason,omitempty"`
	// Error says what could not be read of the cluster; the other fields
	// hold what could.
	Error string `json:"error,omitempty"`
	// Summary says how the stored summary was found (current, missing,
	// stale, corrupt: the last three were rebuilt).
	Summary repo.SummaryState `json:"summary,omitempty"`
}

// Status reads every cluster of the repository, sorted by name. A cluster
// whose entry or summary cannot be read is listed with its error, and
// counts as stale; Status itself fails only when the clusters cannot be
// listed or the schedules cannot be read.
func Status(ctx context.Context, r *repo.Repository, opts Options) ([]ClusterStatus, error) {
	if opts.Now.IsZero() {
		opts.Now = time.Now()
	}
	if opts.MaxAge <= 0 {
		opts.MaxAge = DefaultMaxAge
	}
	if opts.Grace <= 0 {
		opts.Grace = DefaultGrace
	}
	if opts.Concurrency <= 0 {
		opts.Concurrency = DefaultConcurrency
	}
	// The index first: a summary read after it holds every change
	// committed before it, unless the index shows the change pending.
	index, err := r.ReadFleetIndex(ctx)
	if err != nil {
		return nil, err
	}
	names, err := prune.Clusters(ctx, r)
	if err != nil {
		return nil, err
	}
	schedules, err := r.ListSchedules(ctx)
	if err != nil {
		return nil, fmt.Errorf("reading the repository's schedules: %w", err)
	}
	out := make([]ClusterStatus, len(names))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(opts.Concurrency)
	for i, name := range names {
		g.Go(func() error {
			out[i] = clusterStatus(gctx, r, index, name, schedules, opts)
			return gctx.Err()
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	return out, nil
}

func clusterStatus(ctx context.Context, r *repo.Repository, index *repo.FleetIndex, name string, schedules []*fleet.Schedule, opts Options) ClusterStatus {
	st := ClusterStatus{Name: name}
	var problems []error
	summary, state, summaryErr := r.IndexedSummary(ctx, index, name)
	st.Summary = state
	// The summary's copy of the registry entry saves reading it while the
	// entry is the one copied (same ETag in the index).
	if copied := index.EntryCopy(summary); copied != nil {
		st.Registered = true
		st.Environment, st.Region, st.Priority = copied.Environment, copied.Region, copied.Priority
	} else if index.Registered(name) {
		entry, err := r.GetCluster(ctx, name)
		switch {
		case err == nil:
			st.Registered = true
			st.Environment, st.Region, st.Priority = entry.Environment, entry.Region, entry.Priority
		case !errors.Is(err, storage.ErrNotFound):
			st.Registered = true // an entry is there, unreadable
			problems = append(problems, err)
		}
	}
	if err := summaryErr; err != nil {
		problems = append(problems, err)
	} else {
		st.Backups = len(summary.Backups)
		st.BytesStored = summary.BytesStored
		st.LastBackup, st.LastGood = summary.Latest()
		if summary.Unreadable > 0 {
			problems = append(problems, fmt.Errorf("%d manifests of cluster %s cannot be read (kbackup verify names them)", summary.Unreadable, name))
		}
	}
	if len(problems) > 0 {
		st.Error = errors.Join(problems...).Error()
	}
	judge(&st, applicable(name, st.Environment, schedules, opts.Schedules), opts)
	return st
}

// due is a schedule that covers a cluster.
type due struct {
	name string
	cron interface{ Next(time.Time) time.Time }
}

// applicable are the schedules that cover a cluster of environment env:
// kbackup.yaml's backup_schedules of its environment, and the repository's
// schedules of its environment or of every cluster, not suspended.
func applicable(cluster, env string, stored []*fleet.Schedule, configured map[string]string) []due {
	var out []due
	if spec, ok := configured[env]; ok && env != "" {
		s := fleet.Schedule{Name: "backup_schedules." + env, Cron: spec}
		if c, err := s.Parse(); err == nil {
			out = append(out, due{name: "backup_schedules." + env + " " + spec, cron: c})
		}
	}
	for _, s := range stored {
		if !s.AppliesTo(cluster, env) {
			continue
		}
		if c, err := s.Parse(); err == nil {
			out = append(out, due{name: "schedule " + s.Name + " " + s.Cron, cron: c})
		}
	}
	return out
}

// judge says whether a cluster is stale: it has no good backup, a
// schedule that covers it was due (plus the grace) after its last good
// backup started, or, with no schedule, its last good backup is older than
// the maximum age.
func judge(st *ClusterStatus, schedules []due, opts Options) {
	if len(schedules) == 0 {
		st.Freshness = "max age " + opts.MaxAge.String()
	} else {
		names := make([]string, len(schedules))
		for i, s := range schedules {
			names[i] = s.name
		}
		slices.Sort(names)
		st.Freshness = joinSemicolon(names)
	}
	switch {
	case st.Error != "" && st.LastGood == nil:
		st.Stale, st.StaleReason = true, "its backups cannot be read"
		return
	case st.LastGood == nil && st.Backups == 0 && st.LastBackup == nil:
		// Never backed up: say what it is held to, which the table shows
		// in place of its freshness.
		st.Stale, st.StaleReason = true, "no successful backup yet: none taken, held to "+st.Freshness
		return
	case st.LastGood == nil:
		st.Stale, st.StaleReason = true, "no successful backup"
		return
	}
	last := st.LastGood.StartedAt
	if len(schedules) == 0 {
		if age := opts.Now.Sub(last); age > opts.MaxAge {
			st.Stale, st.StaleReason = true, fmt.Sprintf("last successful backup is %s old, more than %s", age.Round(time.Minute), opts.MaxAge)
		}
		return
	}
	for _, s := range schedules {
		next := s.cron.Next(last)
		if !next.IsZero() && opts.Now.After(next.Add(opts.Grace)) {
			st.Stale, st.StaleReason = true, fmt.Sprintf("a backup was due at %s (%s) and none succeeded since", next.UTC().Format(time.RFC3339), s.name)
			return
		}
	}
}

func joinSemicolon(s []string) string {
	out := ""
	for i, x := range s {
		if i > 0 {
			out += "; "
		}
		out += x
	}
	return out
}
