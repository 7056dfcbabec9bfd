// Package metrics exposes kbackup to Prometheus: what the repository says
// of each cluster (its per-cluster summaries, read through fleetview, and
// its newest restore record), what this process's scheduled runs did, and
// the scheduler's own state.
//
// Names follow Prometheus' conventions: the kbackup_ prefix, base units
// (seconds, bytes), _total for counters, _timestamp_seconds for times.
// Labels are bounded: cluster, environment, schedule, and enumerations
// (phase, result); never a backup or run ID.
package metrics

import (
	"context"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/kbackup/kbackup/core/fleet"
	"github.com/kbackup/kbackup/core/fleetview"
	"github.com/kbackup/kbackup/core/repo"
	"github.com/kbackup/kbackup/core/restore"
	"github.com/kbackup/kbackup/core/scheduler"
)

// Defaults of RepositoryOptions.
const (
	// DefaultRefreshInterval bounds how often a scrape reads the
	// repository: a view of 1,000 clusters costs about 3,000 small
	// requests (docs/benchmarks.md), which a scrape every 15 s should not
	// repeat each time. Scrapes in between get the last reading.
	DefaultRefreshInterval = 30 * time.Second
	// DefaultReadTimeout bounds one reading of the repository.
	DefaultReadTimeout = 2 * time.Minute
)

// Phases of a backup, the values of the phase label.
var phases = []repo.Phase{repo.PhaseCompleted, repo.PhasePartiallyFailed, repo.PhaseFailed}

// RepositoryOptions tune a RepositoryCollector.
type RepositoryOptions struct {
	RefreshInterval time.Duration
	ReadTimeout     time.Duration
	// Fleet is how freshness is judged (kbackup.yaml's backup_schedules).
	Fleet fleetview.Options
	// Restores reads each cluster's newest restore record (a LIST and a GET
	// per cluster and reading).
	Restores bool
	// Now is the clock (tests).
	Now func() time.Time
}

// RepositoryCollector reads the repository when scraped (at most once per
// refresh interval) and reports each cluster's backups.
type RepositoryCollector struct {
	r    *repo.Repository
	opts RepositoryOptions

	mu       sync.Mutex
	readAt   time.Time
	readOK   bool
	clusters []clusterReading
	errors   prometheus.Counter
}

type clusterReading struct {
	status    fleetview.ClusterStatus
	interval  time.Duration
	restore   *restore.Result
	restoreAt time.Time
}

// NewRepositoryCollector returns a collector of r.
func NewRepositoryCollector(r *repo.Repository, opts RepositoryOptions) *RepositoryCollector {
	if opts.RefreshInterval <= 0 {
		opts.RefreshInterval = DefaultRefreshInterval
	}
	if opts.ReadTimeout <= 0 {
		opts.ReadTimeout = DefaultReadTimeout
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	return &RepositoryCollector{r: r, opts: opts, errors: prometheus.NewCounter(prometheus.CounterOpts{
		Name: "kbackup_repository_read_errors_total",
		Help: "Readings of the repository (schedules, registry, summaries) that failed.",
	})}
}

var (
	clusterLabels = []string{"cluster", "environment"}

	descLastSuccess = prometheus.NewDesc("kbackup_cluster_last_success_timestamp_seconds",
		"When the cluster's newest backup that did not fail completed (Unix seconds).", clusterLabels, nil)
	descLastBackup = prometheus.NewDesc("kbackup_cluster_last_backup_timestamp_seconds",
		"When the cluster's newest backup completed (Unix seconds).", clusterLabels, nil)
	descLastPhase = prometheus.NewDesc("kbackup_cluster_last_backup_phase",
		"1 for the phase of the cluster's newest backup, 0 for the others.", append(clusterLabels, "phase"), nil)
	descLastDuration = prometheus.NewDesc("kbackup_cluster_last_backup_duration_seconds",
		"How long the cluster's newest backup took.", clusterLabels, nil)
	descLastObjects = prometheus.NewDesc("kbackup_cluster_last_backup_objects",
		"Objects in the cluster's newest backup.", clusterLabels, nil)
	descLastBytes = prometheus.NewDesc("kbackup_cluster_last_backup_stored_bytes",
		"Stored size of the packs the cluster's newest backup references.", clusterLabels, nil)
	descBackups = prometheus.NewDesc("kbackup_cluster_backups",
		"Backups of the cluster in the repository, of every phase.", clusterLabels, nil)
	descStoredBytes = prometheus.NewDesc("kbackup_cluster_stored_bytes",
		"Stored size of the cluster's packs, each counted once.", clusterLabels, nil)
	descStale = prometheus.NewDesc("kbackup_cluster_stale",
		"1 when the cluster's last good backup is older than its schedules allow (kubectl kbackup clusters says why).", clusterLabels, nil)
	descInterval = prometheus.NewDesc("kbackup_cluster_expected_interval_seconds",
		"The shortest interval between the slots of the schedules that cover the cluster.", clusterLabels, nil)
	descRegistered = prometheus.NewDesc("kbackup_cluster_registered",
		"1 when the cluster is in the repository's registry, 0 when it only has backups.", clusterLabels, nil)
	descRestorePhase = prometheus.NewDesc("kbackup_cluster_last_restore_phase",
		"1 for the phase of the newest restore into the cluster, 0 for the others.", append(clusterLabels, "phase"), nil)
	descRestoreTime = prometheus.NewDesc("kbackup_cluster_last_restore_timestamp_seconds",
		"When the newest restore into the cluster completed (Unix seconds).", clusterLabels, nil)
	descRepoUp = prometheus.NewDesc("kbackup_repository_up",
		"1 when the last reading of the repository succeeded.", nil, nil)
	descRepoReadAt = prometheus.NewDesc("kbackup_repository_last_read_timestamp_seconds",
		"When the repository was last read successfully (Unix seconds).", nil, nil)
	descClusters = prometheus.NewDesc("kbackup_clusters",
		"Clusters in the repository (registered or with backups).", nil, nil)
)

// Describe implements prometheus.Collector.
func (c *RepositoryCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descLastSuccess, descLastBackup, descLastPhase, descLastDuration, descLastObjects, descLastBytes,
		descBackups, descStoredBytes, descStale, descInterval, descRegistered, descRestorePhase, descRestoreTime, descRepoUp, descRepoReadAt, descClusters} {
		ch <- d
	}
	c.errors.Describe(ch)
}

// Collect implements prometheus.Collector.
func (c *RepositoryCollector) Collect(ch chan<- prometheus.Metric) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.opts.Now().Sub(c.readAt) >= c.opts.RefreshInterval {
		c.read()
	}
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	up := 0.0
	if c.readOK {
		up = 1
		gauge(descRepoReadAt, unix(c.readAt))
	}
	gauge(descRepoUp, up)
	gauge(descClusters, float64(len(c.clusters)))
	for _, cl := range c.clusters {
		st := cl.status
		l := []string{st.Name, st.Environment}
		gauge(descBackups, float64(st.Backups), l...)
		gauge(descStoredBytes, float64(st.BytesStored), l...)
		gauge(descStale, boolean(st.Stale), l...)
		gauge(descRegistered, boolean(st.Registered), l...)
		if cl.interval > 0 {
			gauge(descInterval, cl.interval.Seconds(), l...)
		}
		if st.LastGood != nil {
			gauge(descLastSuccess, unix(st.LastGood.CompletedAt), l...)
		}
		if b := st.LastBackup; b != nil {
			gauge(descLastBackup, unix(b.CompletedAt), l...)
			gauge(descLastDuration, b.CompletedAt.Sub(b.StartedAt).Seconds(), l...)
			gauge(descLastObjects, float64(b.Objects), l...)
			gauge(descLastBytes, float64(b.BytesStored), l...)
			for _, p := range phases {
				gauge(descLastPhase, boolean(b.Phase == p), append(l, string(p))...)
			}
		}
		if res := cl.restore; res != nil {
			gauge(descRestoreTime, unix(res.CompletedAt), l...)
			for _, p := range []restore.Phase{restore.PhaseCompleted, restore.PhasePartiallyFailed, restore.PhaseFailed} {
				gauge(descRestorePhase, boolean(res.Phase == p), append(l, string(p))...)
			}
		}
	}
	c.errors.Collect(ch)
}

// read reads the repository; on failure the last reading stays, and
// kbackup_repository_up says it is old.
func (c *RepositoryCollector) read() {
	ctx, cancel := context.WithTimeout(context.Background(), c.opts.ReadTimeout)
	defer cancel()
	now := c.opts.Now()
	c.readAt = now
	fleetOpts := c.opts.Fleet
	fleetOpts.Now = now
	statuses, err := fleetview.Status(ctx, c.r, fleetOpts)
	if err != nil {
		c.fail()
		return
	}
	schedules, err := c.r.ListSchedules(ctx)
	if err != nil {
		c.fail()
		return
	}
	readOK := true
	out := make([]clusterReading, len(statuses))
	for i, st := range statuses {
		out[i] = clusterReading{status: st, interval: expectedInterval(st, schedules, c.opts.Fleet.Schedules, now)}
		if st.Error != "" {
			readOK = false
		}
		if c.opts.Restores {
			res, err := newestRestore(ctx, c.r, st.Name)
			if err != nil {
				readOK = false
			}
			out[i].restore = res
		}
	}
	if !readOK {
		c.errors.Inc()
	}
	c.readOK = readOK
	c.clusters = out
}

func (c *RepositoryCollector) fail() {
	c.readOK = false
	c.errors.Inc()
}

// newestRestore reads the cluster's newest restore record; nil when there
// is none.
func newestRestore(ctx context.Context, r *repo.Repository, cluster string) (*restore.Result, error) {
	infos, err := r.ListRestores(ctx, cluster)
	if err != nil || len(infos) == 0 {
		return nil, err
	}
	var res restore.Result
	if err := r.ReadRestoreRecord(ctx, cluster, infos[len(infos)-1].ID, &res); err != nil {
		return nil, err
	}
	return &res, nil
}

// expectedInterval is the shortest gap between slots of the schedules
// that cover a cluster: the repository's schedules, and kbackup.yaml's
// backup_schedules of its environment.
func expectedInterval(st fleetview.ClusterStatus, stored []*fleet.Schedule, configured map[string]string, now time.Time) time.Duration {
	var out time.Duration
	consider := func(s *fleet.Schedule) {
		c, err := s.Parse()
		if err != nil {
			return
		}
		if d := scheduler.NewSlots(c).Interval(now); d > 0 && (out == 0 || d < out) {
			out = d
		}
	}
	if spec, ok := configured[st.Environment]; ok && st.Environment != "" {
		consider(&fleet.Schedule{Name: "config", Cron: spec})
	}
	for _, s := range stored {
		if s.AppliesTo(st.Name, st.Environment) {
			consider(s)
		}
	}
	return out
}

func unix(t time.Time) float64 { return float64(t.UnixNano()) / 1e9 }

func boolean(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
