package prune_test

import (
	"context"
	"testing"

	"github.com/kbackup/kbackup/core/fleet"
	"github.com/kbackup/kbackup/core/prune"
	"github.com/kbackup/kbackup/core/repo"
	"github.com/kbackup/kbackup/core/storage"
)

// A schedule's retention: its own rules, its policy's days for the
// cluster's environment, else the policy's rules; nothing when it names
// none; an error when its policy is missing.
func TestScheduleRules(t *testing.T) {
	ctx := context.Background()
	r, err := repo.Open(ctx, repo.Options{Location: storage.Location{Scheme: storage.SchemeFile, Path: t.TempDir()}, Create: true})
	if err != nil {
		t.Fatal(err)
	}
	if err := r.PutRetentionPolicy(ctx, &fleet.RetentionPolicy{Name: "fleet", RetentionRules: fleet.RetentionRules{KeepLast: 7},
		DaysByEnvironment: map[string]int{"prod": 90}}); err != nil {
		t.Fatal(err)
	}
	byPolicy := &fleet.Schedule{Name: "nightly", Retention: fleet.RetentionRef{Policy: "fleet"}}
	for _, c := range []struct {
		name        string
		schedule    *fleet.Schedule
		environment string
		want        *fleet.RetentionRules
	}{
		{"own rules", &fleet.Schedule{Name: "s", Retention: fleet.RetentionRef{RetentionRules: fleet.RetentionRules{KeepDaily: 3}}}, "prod", &fleet.RetentionRules{KeepDaily: 3}},
		{"policy days of the environment", byPolicy, "prod", &fleet.RetentionRules{KeepWithin: "90d"}},
		{"policy rules for another environment", byPolicy, "dev", &fleet.RetentionRules{KeepLast: 7}},
		{"none", &fleet.Schedule{Name: "s"}, "prod", nil},
	} {
		got, err := prune.ScheduleRules(ctx, r, c.schedule, c.environment)
		if err != nil || (got == nil) != (c.want == nil) || (got != nil && *got != *c.want) {
			t.Errorf("%s: got %+v, %v; want %+v", c.name, got, err, c.want)
		}
	}
	if _, err := prune.ScheduleRules(ctx, r, &fleet.Schedule{Name: "s", Retention: fleet.RetentionRef{Policy: "gone"}}, "prod"); err == nil {
		t.Error("a schedule naming a missing policy gave no error")
	}
}
