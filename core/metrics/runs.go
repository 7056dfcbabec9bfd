package metrics

import (
	"context"
	"strings"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/kbackup/kbackup/core/fleetrun"
	"github.com/kbackup/kbackup/core/scheduler"
)

// Results of a cluster's scheduled backup, the values of the result label:
// the backup's phase in snake case, not_backed_up (nothing stored) or
// interrupted (by a shutdown).
const (
	ResultCompleted       = "completed"
	ResultPartiallyFailed = "partially_failed"
	ResultFailed          = "failed"
	ResultNotBackedUp     = "not_backed_up"
	ResultInterrupted     = "interrupted"
)

// Runs counts this process's scheduled runs; it is a scheduler.Observer.
type Runs struct {
	runs            *prometheus.CounterVec
	runDuration     *prometheus.HistogramVec
	clusterBackups  *prometheus.CounterVec
	uploadedBytes   *prometheus.CounterVec
	lastRunSuccess  *prometheus.GaugeVec
	lastRunTime     *prometheus.GaugeVec
	lastRunDuration *prometheus.GaugeVec
	claimsLost      *prometheus.CounterVec
}

var _ scheduler.Observer = (*Runs)(nil)

// NewRuns returns the run metrics, registered with reg.
func NewRuns(reg prometheus.Registerer) *Runs {
	m := &Runs{
		runs: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "kbackup_scheduler_runs_total",
			Help: "Scheduled runs this process made, by schedule and result (completed: every cluster Completed; partially_failed: some backup stored; failed: none stored; empty: no cluster to back up).",
		}, []string{"schedule", "result"}),
		runDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "kbackup_scheduler_run_duration_seconds",
			Help:    "How long scheduled runs took, from the slot's start to its last cluster's end (prune included).",
			Buckets: []float64{1, 5, 15, 30, 60, 120, 300, 600, 1800, 3600, 7200},
		}, []string{"schedule"}),
		clusterBackups: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "kbackup_scheduler_cluster_backups_total",
			Help: "Scheduled backups of each cluster this process ran, by result.",
		}, []string{"cluster", "environment", "result"}),
		uploadedBytes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "kbackup_scheduler_cluster_uploaded_bytes_total",
			Help: "Bytes this process's scheduled backups of each cluster uploaded (new packs and manifests).",
		}, []string{"cluster", "environment"}),
		lastRunSuccess: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "kbackup_scheduler_cluster_last_run_success",
			Help: "1 when this process's last scheduled backup of the cluster stored a backup that did not fail, 0 when it did not.",
		}, []string{"cluster", "environment"}),
		lastRunTime: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "kbackup_scheduler_cluster_last_run_timestamp_seconds",
			Help: "When this process's last scheduled backup of the cluster ended (Unix seconds).",
		}, []string{"cluster", "environment"}),
		lastRunDuration: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "kbackup_scheduler_cluster_last_run_duration_seconds",
			Help: "How long this process's last scheduled backup of the cluster took, retries included.",
		}, []string{"cluster", "environment"}),
		claimsLost: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "kbackup_scheduler_slots_claimed_elsewhere_total",
			Help: "Cluster backups of a slot that another scheduler had claimed first, so this one left them.",
		}, []string{"schedule"}),
	}
	reg.MustRegister(m.runs, m.runDuration, m.clusterBackups, m.uploadedBytes, m.lastRunSuccess, m.lastRunTime, m.lastRunDuration, m.claimsLost)
	return m
}

// RunStarted implements scheduler.Observer.
func (m *Runs) RunStarted(ctx context.Context, _ *scheduler.Run) context.Context { return ctx }

// ClusterEvent implements scheduler.Observer: each cluster's end counts.
func (m *Runs) ClusterEvent(ctx context.Context, run *scheduler.Run, e fleetrun.Event) {
	if e.Kind != fleetrun.EventDone || e.Result == nil {
		return
	}
	r := e.Result
	result := ClusterResult(r.Result)
	if r.BackupID == "" && ctx.Err() != nil {
		result = ResultInterrupted
	}
	l := prometheus.Labels{"cluster": r.Cluster, "environment": r.Environment}
	m.clusterBackups.With(prometheus.Labels{"cluster": r.Cluster, "environment": r.Environment, "result": result}).Inc()
	m.uploadedBytes.With(l).Add(float64(r.BytesUploaded))
	m.lastRunSuccess.With(l).Set(boolean(r.BackupID != "" && r.Result != fleetrun.Failed))
	m.lastRunTime.With(l).SetToCurrentTime()
	m.lastRunDuration.With(l).Set(r.Duration.Seconds())
}

// RunEnded implements scheduler.Observer.
func (m *Runs) RunEnded(_ context.Context, run *scheduler.Run) {
	name := run.Schedule.Name
	m.runs.With(prometheus.Labels{"schedule": name, "result": RunResult(run)}).Inc()
	m.runDuration.With(prometheus.Labels{"schedule": name}).Observe(run.EndedAt.Sub(run.StartedAt).Seconds())
	if n := len(run.ClaimedElsewhere); n > 0 {
		m.claimsLost.With(prometheus.Labels{"schedule": name}).Add(float64(n))
	}
}

// ClusterResult is the result label of a cluster's outcome.
func ClusterResult(o fleetrun.Outcome) string {
	switch o {
	case fleetrun.Completed:
		return ResultCompleted
	case fleetrun.PartiallyFailed:
		return ResultPartiallyFailed
	case fleetrun.Failed:
		return ResultFailed
	case fleetrun.NotBackedUp:
		return ResultNotBackedUp
	}
	return strings.ToLower(string(o))
}

// RunResult is the result label of a run: completed when every cluster
// Completed, partially_failed when some backup was stored, failed when
// none was (or the run could not run), empty when it had no cluster to
// back up (none covered, reached, or left unclaimed).
func RunResult(run *scheduler.Run) string {
	switch {
	case run.Result == nil && run.Err != nil:
		return ResultFailed
	case run.Result == nil || len(run.Result.Clusters) == 0:
		return "empty"
	}
	stored := 0
	for _, c := range run.Result.Clusters {
		if c.BackupID != "" {
			stored++
		}
	}
	switch {
	case run.Result.Count(fleetrun.Completed) == len(run.Result.Clusters) && run.Err == nil:
		return ResultCompleted
	case stored > 0:
		return ResultPartiallyFailed
	}
	return ResultFailed
}

// SchedulerCollector reports the scheduler's state: that it runs, the
// schedules it follows and the runs in progress.
type SchedulerCollector struct {
	status func() scheduler.Status
}

// NewSchedulerCollector returns a collector of a scheduler's status.
func NewSchedulerCollector(status func() scheduler.Status) *SchedulerCollector {
	return &SchedulerCollector{status: status}
}

var (
	descSchedulerUp = prometheus.NewDesc("kbackup_scheduler_up",
		"1 while this process runs the scheduler and its last reading of the schedules succeeded.", nil, nil)
	descSchedules = prometheus.NewDesc("kbackup_scheduler_schedules",
		"Schedules the scheduler follows (not suspended).", nil, nil)
	descRunning = prometheus.NewDesc("kbackup_scheduler_running_runs",
		"Scheduled runs in progress.", nil, nil)
	descLoadedAt = prometheus.NewDesc("kbackup_scheduler_last_reload_timestamp_seconds",
		"When the scheduler last read the schedules successfully (Unix seconds).", nil, nil)
	descScheduleInfo = prometheus.NewDesc("kbackup_schedule_info",
		"A schedule the scheduler follows, with its cron expression; always 1.", []string{"schedule", "cron", "environment", "cluster"}, nil)
)

// Describe implements prometheus.Collector.
func (c *SchedulerCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- descSchedulerUp
	ch <- descSchedules
	ch <- descRunning
	ch <- descLoadedAt
	ch <- descScheduleInfo
}

// Collect implements prometheus.Collector.
func (c *SchedulerCollector) Collect(ch chan<- prometheus.Metric) {
	st := c.status()
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	gauge(descSchedulerUp, boolean(st.Loaded && st.LoadErr == nil))
	gauge(descSchedules, float64(len(st.Schedules)))
	gauge(descRunning, float64(st.Running))
	if st.Loaded {
		gauge(descLoadedAt, unix(st.LoadedAt))
	}
	for _, s := range st.Schedules {
		gauge(descScheduleInfo, 1, s.Name, s.Cron, s.Environment, s.Cluster)
	}
}
