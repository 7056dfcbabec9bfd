package scheduler

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/kbackup/kbackup/core/fleet"
	"github.com/kbackup/kbackup/core/fleetrun"
	"github.com/kbackup/kbackup/core/repo"
	"github.com/kbackup/kbackup/core/storage"
)

// newTestScheduler opens a repository in a directory and a scheduler on it
// whose clock the test sets.
func newTestScheduler(t *testing.T, now *time.Time) (*Scheduler, *repo.Repository) {
	t.Helper()
	r, err := repo.Open(context.Background(), repo.Options{Location: storage.Location{Scheme: storage.SchemeFile, Path: filepath.Join(t.TempDir(), "repo")}, Create: true})
	if err != nil {
		t.Fatal(err)
	}
	s, err := New(Options{
		Repository: r,
		NewChooser: func() *repo.Chooser { return nil },
		Candidates: func(context.Context) ([]fleetrun.Candidate, error) { return nil, nil },
		Now:        func() time.Time { return *now },
	})
	if err != nil {
		t.Fatal(err)
	}
	return s, r
}

func dueNames(s *Scheduler, now time.Time) map[string]time.Time {
	out := map[string]time.Time{}
	for _, d := range s.due(now) {
		out[d.schedule.Name] = d.slot
	}
	return out
}

// At the first reading, a slot missed within the catch-up window is due at
// once; a schedule added later starts at its next slot; a changed one
// starts again at its next slot; removed and suspended ones stop.
func TestReloadFollowsTheRepositoryAndCatchesUpOnce(t *testing.T) {
	ctx := context.Background()
	now := time.Date(2026, 11, 29, 2, 30, 0, 0, time.UTC)
	s, r := newTestScheduler(t, &now)
	put := func(sc *fleet.Schedule) {
		t.Helper()
		if err := r.PutSchedule(ctx, sc); err != nil {
			t.Fatal(err)
		}
	}
	put(&fleet.Schedule{Name: "nightly", Cron: "0 2 * * *"}) // missed 30 minutes ago
	put(&fleet.Schedule{Name: "weekly", Cron: "0 2 * * 1"})  // missed days ago
	put(&fleet.Schedule{Name: "paused", Cron: "* * * * *", Suspend: true})

	s.reload(ctx, now)
	if err := s.Ready(); err != nil {
		t.Fatal(err)
	}
	due := dueNames(s, now)
	if len(due) != 1 || !due["nightly"].Equal(time.Date(2026, 11, 29, 2, 0, 0, 0, time.UTC)) {
		t.Fatalf("due at start: %v; want nightly's 02:00 slot only", due)
	}
	if again := dueNames(s, now); len(again) != 0 {
		t.Fatalf("due again: %v", again)
	}

	// A schedule added while running is not caught up; the next minute it
	// is due.
	put(&fleet.Schedule{Name: "minutely", Cron: "* * * * *"})
	now = now.Add(10 * time.Second)
	s.reload(ctx, now)
	if due := dueNames(s, now); len(due) != 0 {
		t.Fatalf("due right after adding: %v", due)
	}
	now = time.Date(2026, 11, 29, 2, 31, 0, 0, time.UTC)
	if due := dueNames(s, now); !due["minutely"].Equal(now) || len(due) != 1 {
		t.Fatalf("due at 02:31: %v", due)
	}

	// Changed: nightly at 03:00 now; removed: minutely; suspended: weekly.
	put(&fleet.Schedule{Name: "nightly", Cron: "0 3 * * *"})
	put(&fleet.Schedule{Name: "weekly", Cron: "0 2 * * 1", Suspend: true})
	if err := r.DeleteSchedule(ctx, "minutely"); err != nil {
		t.Fatal(err)
	}
	s.reload(ctx, now)
	st := s.Status()
	if len(st.Schedules) != 1 || st.Schedules[0].Name != "nightly" || st.Schedules[0].Cron != "0 3 * * *" {
		t.Fatalf("loaded: %+v", st.Schedules)
	}
	now = time.Date(2026, 11, 29, 3, 0, 0, 0, time.UTC)
	if due := dueNames(s, now); len(due) != 1 || !due["nightly"].Equal(now) {
		t.Fatalf("due at 03:00: %v", due)
	}
}

// Slots missed while a run was starting are not all run late: the
// schedule moves to its next slot after now.
func TestMissedSlotsAreSkippedNotQueued(t *testing.T) {
	ctx := context.Background()
	now := time.Date(2026, 11, 29, 2, 0, 30, 0, time.UTC)
	s, r := newTestScheduler(t, &now)
	if err := r.PutSchedule(ctx, &fleet.Schedule{Name: "minutely", Cron: "* * * * *"}); err != nil {
		t.Fatal(err)
	}
	s.reload(ctx, now)
	_ = s.due(now) // the caught-up 02:00 slot
	now = now.Add(5*time.Minute + 10*time.Second)
	due := dueNames(s, now)
	if len(due) != 1 || !due["minutely"].Equal(time.Date(2026, 11, 29, 2, 1, 0, 0, time.UTC)) {
		t.Fatalf("due after 5 minutes asleep: %v; want the first missed slot once", due)
	}
	if again := dueNames(s, now); len(again) != 0 {
		t.Fatalf("the other missed slots are due too: %v", again)
	}
}
