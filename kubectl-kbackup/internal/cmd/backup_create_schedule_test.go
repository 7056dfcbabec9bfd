package cmd

import (
	"context"
	"strings"
	"testing"

	"github.com/kbackup/kbackup/core/fleet"
	"github.com/kbackup/kbackup/core/repo"
	"github.com/kbackup/kbackup/core/storage"
)

// --schedule takes what to back up from the schedule: a selection flag
// beside it is refused, naming the flag.
func TestScheduleExcludesSelectionFlags(t *testing.T) {
	changed := func(names ...string) func(string) bool {
		return func(n string) bool {
			for _, m := range names {
				if m == n {
					return true
				}
			}
			return false
		}
	}
	if err := validateScheduleFlags("nightly", changed()); err != nil {
		t.Errorf("no selection flag: %v", err)
	}
	err := validateScheduleFlags("nightly", changed("include-namespaces", "selector"))
	if err == nil || !strings.Contains(err.Error(), "--include-namespaces, --selector") {
		t.Errorf("selection flags beside --schedule: %v", err)
	}
}

// A schedule that is not stored is refused naming the schedules there are,
// or saying that there are none and where they come from.
func TestUnknownScheduleNamesTheStoredOnes(t *testing.T) {
	ctx := context.Background()
	loc, err := storage.ParseURL(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	r, err := repo.Open(ctx, repo.Options{Location: loc, Create: true})
	if err != nil {
		t.Fatal(err)
	}
	o := &BackupCreateOptions{Schedule: "nigthly", primary: repo.Options{Location: loc}}
	if err := o.useSchedule(ctx); err == nil || !strings.Contains(err.Error(), "--schedule nigthly") || !strings.Contains(err.Error(), "it has none") {
		t.Errorf("no schedules stored: %v", err)
	}
	for _, name := range []string{"nightly", "hourly"} {
		if err := r.PutSchedule(ctx, &fleet.Schedule{Name: name, Cron: "@daily"}); err != nil {
			t.Fatal(err)
		}
	}
	if err := o.useSchedule(ctx); err == nil || !strings.Contains(err.Error(), "it has hourly, nightly") {
		t.Errorf("two schedules stored: %v", err)
	}
}
