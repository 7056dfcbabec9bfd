package metrics

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/kbackup/kbackup/core/fleet"
	"github.com/kbackup/kbackup/core/fleetrun"
	"github.com/kbackup/kbackup/core/scheduler"
)

func TestRunResult(t *testing.T) {
	sched := &fleet.Schedule{Name: "nightly"}
	ok := fleetrun.ClusterResult{Cluster: "a", Result: fleetrun.Completed, BackupID: "b1"}
	partial := fleetrun.ClusterResult{Cluster: "b", Result: fleetrun.PartiallyFailed, BackupID: "b2"}
	none := fleetrun.ClusterResult{Cluster: "c", Result: fleetrun.NotBackedUp}
	for _, c := range []struct {
		run  *scheduler.Run
		want string
	}{
		{&scheduler.Run{Schedule: sched}, "empty"},
		{&scheduler.Run{Schedule: sched, Err: errors.New("registry unreadable")}, ResultFailed},
		{&scheduler.Run{Schedule: sched, Result: &fleetrun.Result{Clusters: []fleetrun.ClusterResult{ok}}}, ResultCompleted},
		{&scheduler.Run{Schedule: sched, Result: &fleetrun.Result{Clusters: []fleetrun.ClusterResult{ok}}, Err: errors.New("prune failed")}, ResultPartiallyFailed},
		{&scheduler.Run{Schedule: sched, Result: &fleetrun.Result{Clusters: []fleetrun.ClusterResult{ok, partial, none}}}, ResultPartiallyFailed},
		{&scheduler.Run{Schedule: sched, Result: &fleetrun.Result{Clusters: []fleetrun.ClusterResult{none}}}, ResultFailed},
	} {
		if got := RunResult(c.run); got != c.want {
			t.Errorf("RunResult(%+v) = %s, want %s", c.run, got, c.want)
		}
	}
}

// A run's clusters and the run itself are counted with bounded labels: the
// cluster, its environment, the schedule and the result, never an ID.
func TestRunsCountClustersAndRuns(t *testing.T) {
	reg := prometheus.NewRegistry()
	m := NewRuns(reg)
	slot := time.Date(2026, 11, 29, 2, 0, 0, 0, time.UTC)
	run := &scheduler.Run{ID: "run-x", Schedule: &fleet.Schedule{Name: "nightly"}, Slot: slot, StartedAt: slot, EndedAt: slot.Add(90 * time.Second), ClaimedElsewhere: []string{"c"}}
	ctx := m.RunStarted(context.Background(), run)
	m.ClusterEvent(ctx, run, fleetrun.Event{Kind: fleetrun.EventDone, Result: &fleetrun.ClusterResult{Cluster: "a", Environment: "prod", Result: fleetrun.Completed, BackupID: "b1", BytesUploaded: 2048, Duration: 3 * time.Second}})
	m.ClusterEvent(ctx, run, fleetrun.Event{Kind: fleetrun.EventDone, Result: &fleetrun.ClusterResult{Cluster: "b", Environment: "prod", Result: fleetrun.NotBackedUp}})
	run.Result = &fleetrun.Result{Clusters: []fleetrun.ClusterResult{{Cluster: "a", Result: fleetrun.Completed, BackupID: "b1"}, {Cluster: "b", Result: fleetrun.NotBackedUp}}}
	m.RunEnded(ctx, run)

	want := `
# HELP kbackup_scheduler_cluster_backups_total Scheduled backups of each cluster this process ran, by result.
# TYPE kbackup_scheduler_cluster_backups_total counter
kbackup_scheduler_cluster_backups_total{cluster="a",environment="prod",result="completed"} 1
kbackup_scheduler_cluster_backups_total{cluster="b",environment="prod",result="not_backed_up"} 1
# HELP kbackup_scheduler_cluster_last_run_success 1 when this process's last scheduled backup of the cluster stored a backup that did not fail, 0 when it did not.
# TYPE kbackup_scheduler_cluster_last_run_success gauge
kbackup_scheduler_cluster_last_run_success{cluster="a",environment="prod"} 1
kbackup_scheduler_cluster_last_run_success{cluster="b",environment="prod"} 0
# HELP kbackup_scheduler_cluster_uploaded_bytes_total Bytes this process's scheduled backups of each cluster uploaded (new packs and manifests).
# TYPE kbackup_scheduler_cluster_uploaded_bytes_total counter
kbackup_scheduler_cluster_uploaded_bytes_total{cluster="a",environment="prod"} 2048
kbackup_scheduler_cluster_uploaded_bytes_total{cluster="b",environment="prod"} 0
# HELP kbackup_scheduler_runs_total Scheduled runs this process made, by schedule and result (completed: every cluster Completed; partially_failed: some backup stored; failed: none stored; empty: no cluster to back up).
# TYPE kbackup_scheduler_runs_total counter
kbackup_scheduler_runs_total{result="partially_failed",schedule="nightly"} 1
# HELP kbackup_scheduler_slots_claimed_elsewhere_total Cluster backups of a slot that another scheduler had claimed first, so this one left them.
# TYPE kbackup_scheduler_slots_claimed_elsewhere_total counter
kbackup_scheduler_slots_claimed_elsewhere_total{schedule="nightly"} 1
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "kbackup_scheduler_cluster_backups_total", "kbackup_scheduler_cluster_last_run_success",
		"kbackup_scheduler_cluster_uploaded_bytes_total", "kbackup_scheduler_runs_total", "kbackup_scheduler_slots_claimed_elsewhere_total"); err != nil {
		t.Error(err)
	}
	if n, err := testutil.GatherAndCount(reg, "kbackup_scheduler_run_duration_seconds"); err != nil || n != 1 {
		t.Errorf("run duration series: %d, %v", n, err)
	}
	// Every metric's name and labels follow the conventions.
	problems, err := testutil.GatherAndLint(reg)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("%s: %s", p.Metric, p.Text)
	}
}
