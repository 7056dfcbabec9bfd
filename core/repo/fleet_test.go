package repo

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"

	"github.com/kbackup/kbackup/core/fleet"
	"github.com/kbackup/kbackup/core/selection"
	"github.com/kbackup/kbackup/core/storage"
)

// Schedules and retention policies round-trip through _fleet/, creation is
// conditional, and what does not pass the fleet's rules is refused on
// write and reported as corrupt on read.
func TestFleetRegistry(t *testing.T) {
	forEachStore(t, func(t *testing.T, s store) {
		ctx := context.Background()
		r := openRepo(t, s.opts)

		policy := &fleet.RetentionPolicy{
			Name:              "by-environment",
			RetentionRules:    fleet.RetentionRules{KeepLast: 3, KeepDaily: 7},
			DaysByEnvironment: map[string]int{"dev": 7, "test": 14, "prod": 90},
		}
		if err := r.CreateRetentionPolicy(ctx, policy); err != nil {
			t.Fatal(err)
		}
		mustIs(t, r.CreateRetentionPolicy(ctx, policy), storage.ErrAlreadyExists)
		nightly := &fleet.Schedule{
			Name: "nightly-prod", Cron: "0 2 * * *", TimeZone: "Europe/Paris", Environment: "prod",
			Spec:      fleet.BackupSpec{Selection: selection.Selection{ExcludeNamespaces: []string{"kube-*"}, ClusterResources: fleet.ClusterResourcesOn}, SkipInvalid: true, Labels: map[string]string{"tier": "gold"}},
			Retention: fleet.RetentionRef{Policy: "by-environment"},
		}
		hourly := &fleet.Schedule{Name: "hourly", Cron: "CRON_TZ=UTC @hourly", Retention: fleet.RetentionRef{RetentionRules: fleet.RetentionRules{KeepHourly: 24, KeepWithin: "2d"}}, Suspend: true}
		for _, sc := range []*fleet.Schedule{nightly, hourly} {
			if err := r.CreateSchedule(ctx, sc); err != nil {
				t.Fatal(err)
			}
		}
		got, err := r.GetSchedule(ctx, "nightly-prod")
		if err != nil || got.TimeZone != "Europe/Paris" || got.Retention.Policy != "by-environment" || got.Spec.ClusterResources != fleet.ClusterResourcesOn || got.Spec.Labels["tier"] != "gold" {
			t.Fatalf("GetSchedule = %+v, %v", got, err)
		}
		stored := string(s.rawGet(t, r.Layout().Schedule("nightly-prod")))
		for _, want := range []string{`"timeZone": "Europe/Paris"`, `"excludeNamespaces": [`, `"clusterResources": "on"`, `"policy": "by-environment"`} {
			if !strings.Contains(stored, want) {
				t.Errorf("stored schedule does not hold %s:\n%s", want, stored)
			}
		}
		mustIs(t, r.CreateSchedule(ctx, nightly), storage.ErrAlreadyExists)
		nightly.Suspend = true
		if err := r.PutSchedule(ctx, nightly); err != nil {
			t.Fatal(err)
		}
		list, err := r.ListSchedules(ctx)
		if err != nil || len(list) != 2 || list[0].Name != "hourly" || !list[1].Suspend {
			t.Errorf("ListSchedules = %v, %v", list, err)
		}
		policies, err := r.ListRetentionPolicies(ctx)
		if err != nil || len(policies) != 1 || policies[0].DaysByEnvironment["prod"] != 90 {
			t.Errorf("ListRetentionPolicies = %v, %v", policies, err)
		}

		// A bad schedule is refused, each problem named by its field.
		bad := &fleet.Schedule{Name: "bad", Cron: "0 2 * *", Spec: fleet.BackupSpec{Selection: selection.Selection{IncludeNamespaces: []string{"a", "b", "Shop!"}, ClusterResources: "sometimes"}},
			Retention: fleet.RetentionRef{RetentionRules: fleet.RetentionRules{KeepDaily: -1}}}
		err = r.CreateSchedule(ctx, bad)
		mustIs(t, err, storage.ErrInvalid)
		for _, want := range []string{"schedule.cron: Invalid value", "schedule.spec.include_namespaces[2]: Invalid value: \"Shop!\"", `schedule.spec.cluster_resources: Unsupported value: "sometimes": supported values: "auto", "on", "off"`, "schedule.retention.keep_daily: Invalid value: -1"} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("error does not say %q: %v", want, err)
			}
		}
		if _, err := r.GetSchedule(ctx, "bad"); !errors.Is(err, storage.ErrNotFound) {
			t.Errorf("a refused schedule was stored: %v", err)
		}

		// What another writer stored wrongly reads as corrupt.
		s.rawPut(t, r.Layout().Schedule("broken"), []byte(`{"name":"broken","cron":"61 * * * *","spec":{}}`))
		_, err = r.GetSchedule(ctx, "broken")
		mustIs(t, err, ErrCorrupt)
		if _, err := r.ListSchedules(ctx); !errors.Is(err, ErrCorrupt) {
			t.Errorf("listing with a corrupt schedule: %v", err)
		}
		if err := r.DeleteSchedule(ctx, "broken"); err != nil {
			t.Fatal(err)
		}
		if err := r.DeleteRetentionPolicy(ctx, "by-environment"); err != nil {
			t.Fatal(err)
		}
		_, err = r.GetRetentionPolicy(ctx, "by-environment")
		mustIs(t, err, storage.ErrNotFound)
	})
}

// Of two writers creating one schedule, exactly one wins.
func TestCreateScheduleRace(t *testing.T) {
	r := openRepo(t, s3Store(t, sharedS3(t), "").opts)
	var wg sync.WaitGroup
	errs := make([]error, 8)
	for i := range errs {
		wg.Go(func() {
			errs[i] = r.CreateSchedule(context.Background(), &fleet.Schedule{Name: "race", Cron: "@daily"})
		})
	}
	wg.Wait()
	won := 0
	for _, err := range errs {
		switch {
		case err == nil:
			won++
		case !errors.Is(err, storage.ErrAlreadyExists):
			t.Errorf("a losing writer got %v; want storage.ErrAlreadyExists", err)
		}
	}
	if won != 1 {
		t.Errorf("%d writers created the schedule; want exactly 1", won)
	}
}
