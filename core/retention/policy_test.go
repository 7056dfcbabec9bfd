package retention

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/kbackup/kbackup/core/fleet"
)

func TestResolveNarrowestWins(t *testing.T) {
	prod := &fleet.ClusterEntry{Name: "prod-eu", Environment: "prod"}
	own := &fleet.ClusterEntry{Name: "prod-eu", Environment: "prod", Retention: &fleet.RetentionRules{KeepDaily: 3}}
	def := &fleet.RetentionPolicy{Name: "default", RetentionRules: fleet.RetentionRules{KeepLast: 10}, DaysByEnvironment: map[string]int{"prod": 30, "dev": 2}}
	cfg := map[string]int{"dev": 7, "test": 14, "prod": 90}
	scoped := []*fleet.RetentionPolicy{{Name: "prod-eu-short", RetentionRules: fleet.RetentionRules{KeepLast: 2}, Clusters: []string{"prod-eu"}}}
	tests := []struct {
		name   string
		s      Sources
		source string
		rules  Rules
	}{
		{"flags win", Sources{Given: &fleet.RetentionRules{KeepLast: 1}, Entry: own, Default: def, ConfigDays: cfg}, "flags", Rules{Last: 1}},
		{"the cluster's own", Sources{Entry: own, Scoped: scoped, Default: def, ConfigDays: cfg}, "cluster.retention", Rules{Daily: 3}},
		{"the policy scoped to the cluster, over its environment's and the repository's", Sources{Entry: prod, Scoped: scoped, Default: def, ConfigDays: cfg}, "retention/prod-eu-short", Rules{Last: 2}},
		{"the policy scoped to a cluster only seen in backups", Sources{Scoped: scoped, Default: def}, "retention/prod-eu-short", Rules{Last: 2}},
		{"kbackup.yaml's days of its environment", Sources{Entry: prod, Default: def, ConfigDays: cfg}, "retention_policies.prod", Rules{Within: 90 * 24 * time.Hour}},
		{"the repository's days of its environment", Sources{Entry: prod, Default: def}, "retention.days_by_environment.prod", Rules{Within: 30 * 24 * time.Hour}},
		{"the repository's rules", Sources{Entry: &fleet.ClusterEntry{Name: "x", Environment: "test"}, Default: def}, "retention", Rules{Last: 10}},
		{"a cluster only seen in backups", Sources{Default: def, ConfigDays: cfg}, "retention", Rules{Last: 10}},
		{"empty flags do not count", Sources{Given: &fleet.RetentionRules{}, Entry: own}, "cluster.retention", Rules{Daily: 3}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p, err := Resolve("prod-eu", tc.s)
			if err != nil {
				t.Fatal(err)
			}
			if p.Source != tc.source || p.Rules != tc.rules {
				t.Errorf("got %s %+v, want %s %+v", p.Source, p.Rules, tc.source, tc.rules)
			}
		})
	}
}

func TestResolveRefusesInvalidPolicies(t *testing.T) {
	envs := []string{"dev", "test", "prod"}
	tests := []struct {
		name string
		s    Sources
		want string // the field the error names
	}{
		{"negative count in flags", Sources{Given: &fleet.RetentionRules{KeepDaily: -1}}, "flags.keep_daily"},
		{"keep_within not a duration", Sources{Given: &fleet.RetentionRules{KeepWithin: "a month"}}, "flags.keep_within"},
		{"negative count in the entry", Sources{Entry: &fleet.ClusterEntry{Name: "a", Retention: &fleet.RetentionRules{KeepLast: -3}}}, "cluster.retention.keep_last"},
		{"unknown environment of the cluster", Sources{Entry: &fleet.ClusterEntry{Name: "a", Environment: "staging"}, ConfigDays: map[string]int{"prod": 9}, Environments: envs}, "cluster.environment"},
		{"unknown environment in the default policy", Sources{Default: &fleet.RetentionPolicy{Name: "default", DaysByEnvironment: map[string]int{"staging": 3}}, Environments: envs}, "retention.days_by_environment[staging]"},
		{"zero days in kbackup.yaml", Sources{ConfigDays: map[string]int{"prod": 0}}, "retention_policies[prod]"},
		{"two policies scoped to the cluster", Sources{Scoped: []*fleet.RetentionPolicy{
			{Name: "a", RetentionRules: fleet.RetentionRules{KeepLast: 1}, Clusters: []string{"prod-eu"}},
			{Name: "b", RetentionRules: fleet.RetentionRules{KeepLast: 2}, Clusters: []string{"prod-eu"}}}}, "retention.clusters"},
		// An invalid source is reported even when a narrower one wins.
		{"invalid default under valid flags", Sources{Given: &fleet.RetentionRules{KeepLast: 1}, Default: &fleet.RetentionPolicy{Name: "default", RetentionRules: fleet.RetentionRules{KeepWithin: "soon"}}}, "retention.keep_within"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Resolve("a", tc.s)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("got %v, want an error naming %s", err, tc.want)
			}
		})
	}
}

func TestResolveWithoutPolicy(t *testing.T) {
	_, err := Resolve("dev-1", Sources{Entry: &fleet.ClusterEntry{Name: "dev-1", Environment: "dev"}, ConfigDays: map[string]int{"prod": 90}})
	var np *NoPolicyError
	if !errors.As(err, &np) || !strings.Contains(err.Error(), "environment dev has no retention days") {
		t.Errorf("got %v, want a NoPolicyError that says dev has no days", err)
	}
}
