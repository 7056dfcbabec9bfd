package fleetview

import (
	"strings"
	"testing"
	"time"

	"github.com/kbackup/kbackup/core/fleet"
	"github.com/kbackup/kbackup/core/repo"
)

func TestJudge(t *testing.T) {
	now := time.Date(2026, 3, 2, 12, 0, 0, 0, time.UTC)
	good := func(ago time.Duration) *repo.BackupSummary {
		return &repo.BackupSummary{ID: "x", Phase: repo.PhaseCompleted, StartedAt: now.Add(-ago)}
	}
	daily2am := map[string]string{"prod": "0 2 * * *"}
	stored := []*fleet.Schedule{
		{Name: "six-hourly", Cron: "0 */6 * * *", Environment: "dev"},
		{Name: "paused", Cron: "* * * * *", Suspend: true},
	}
	tests := []struct {
		name      string
		env       string
		lastGood  *repo.BackupSummary
		stale     bool
		reasonHas string
	}{
		{"no successful backup", "prod", nil, true, "no successful backup"},
		// Never backed up: the reason says what the cluster is held to.
		{"never backed up, scheduled", "prod", nil, true, "no successful backup yet: none taken, held to backup_schedules.prod 0 2 * * *"},
		{"never backed up, no schedule", "test", nil, true, "no successful backup yet: none taken, held to max age 24h0m0s"},
		// 02:00 today has passed by more than the hour's grace since
		// yesterday's 02:05 backup.
		{"missed today's 02:00", "prod", good(34 * time.Hour), true, "backup_schedules.prod"},
		{"today's backup ran", "prod", good(9 * time.Hour), false, ""},
		{"the stored schedule of dev, missed", "dev", good(7 * time.Hour), true, "schedule six-hourly"},
		{"the stored schedule of dev, kept", "dev", good(90 * time.Minute), false, ""},
		// No schedule covers test (a suspended one does not): max age.
		{"max age, young", "test", good(23 * time.Hour), false, ""},
		{"max age, old", "test", good(25 * time.Hour), true, "more than 24h"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			st := ClusterStatus{Environment: tc.env, LastGood: tc.lastGood}
			judge(&st, applicable("c1", tc.env, stored, daily2am), Options{Now: now, MaxAge: DefaultMaxAge, Grace: DefaultGrace})
			if st.Stale != tc.stale || !strings.Contains(st.StaleReason, tc.reasonHas) {
				t.Errorf("stale %v (%q), want %v with %q", st.Stale, st.StaleReason, tc.stale, tc.reasonHas)
			}
		})
	}
	// Backups taken, all failed: not "none taken".
	failed := ClusterStatus{Environment: "prod", Backups: 1, LastBackup: &repo.BackupSummary{ID: "f", Phase: repo.PhaseFailed, StartedAt: now.Add(-time.Hour)}}
	judge(&failed, applicable("c1", "prod", stored, daily2am), Options{Now: now, MaxAge: DefaultMaxAge, Grace: DefaultGrace})
	if !failed.Stale || failed.StaleReason != "no successful backup" {
		t.Errorf("a cluster whose only backup failed: stale %v (%q), want stale with \"no successful backup\"", failed.Stale, failed.StaleReason)
	}
}
