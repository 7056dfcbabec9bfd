package fleet

import (
	"encoding/json"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/kbackup/kbackup/core/selection"
)

// The spec is serialised with snake_case keys, the same in a schedule, a
// Terraform resource and a request.
func TestBackupSpecJSON(t *testing.T) {
	spec := BackupSpec{
		Selection: selection.Selection{IncludeNamespaces: []string{"shop-*"}, ExcludeNamespaces: []string{"shop-test"}, IncludeResources: []string{"deploy"}, ExcludeResources: []string{"secrets"}, LabelSelector: "app=web", ClusterResources: ClusterResourcesOff}, MaxResourceSize: 1 << 20, SkipInvalid: true, Labels: map[string]string{"team": "payments"},
	}
	data, err := json.Marshal(spec)
	if err != nil {
		t.Fatal(err)
	}
	const want = `{"includeNamespaces":["shop-*"],"excludeNamespaces":["shop-test"],"includeResources":["deploy"],"excludeResources":["secrets"],"labelSelector":"app=web","clusterResources":"off","maxResourceSize":1048576,"skipInvalid":true,"labels":{"team":"payments"}}`
	if string(data) != want {
		t.Errorf("JSON\n%s\nwant\n%s", data, want)
	}
	if data, _ := json.Marshal(BackupSpec{}); string(data) != "{}" {
		t.Errorf("the zero spec is %s; want {}", data)
	}
}

func TestBackupSpecValidate(t *testing.T) {
	if errs := (BackupSpec{Selection: selection.Selection{IncludeNamespaces: []string{"shop-*", "pay?", "a[bc]"}, IncludeResources: []string{"deployments.apps", "Deployment", "cm", "*"}, LabelSelector: "app in (a,b),!legacy"}}).Validate(field.NewPath("spec")); len(errs) > 0 {
		t.Errorf("a valid spec: %v", errs)
	}
	spec := BackupSpec{
		Selection: selection.Selection{IncludeNamespaces: []string{"a", "b", "Shop"}, ExcludeNamespaces: []string{"[x"}, IncludeResources: []string{"deploy ments"}, ExcludeResources: []string{""}, LabelSelector: "app in (", ClusterResources: "yes"}, Labels: map[string]string{"-bad": "ok", "team": "not ok"},
	}
	errs := spec.Validate(field.NewPath("spec"))
	var paths []string
	for _, e := range errs {
		paths = append(paths, e.Field)
		if e.Type != field.ErrorTypeNotSupported && !strings.Contains(e.Detail, "want") {
			t.Errorf("%s does not say what is accepted: %s", e.Field, e.Detail)
		}
	}
	want := "spec.include_namespaces[2] spec.exclude_namespaces[0] spec.include_resources[0] spec.exclude_resources[0] spec.label_selector spec.cluster_resources spec.labels[-bad] spec.labels[team]"
	if strings.Join(paths, " ") != want {
		t.Errorf("paths %s\nwant  %s\n%v", strings.Join(paths, " "), want, errs)
	}
}

func TestClusterEntryValidate(t *testing.T) {
	ok := ClusterEntry{Name: "prod-eu", UID: "1234", Environment: "prod", Region: "eu-west-1", Labels: map[string]string{"tier": "gold"}, Priority: 10}
	if errs := ok.Validate(field.NewPath("cluster")); len(errs) > 0 {
		t.Errorf("a valid entry: %v", errs)
	}
	for _, tt := range []struct {
		entry ClusterEntry
		want  string
	}{
		{ClusterEntry{UID: "1"}, "cluster.name: Required value: a cluster name like prod-eu"},
		{ClusterEntry{Name: "_fleet", UID: "1"}, `cluster.name: Invalid value: "_fleet": starts with '_', which the repository format reserves`},
		{ClusterEntry{Name: "Prod", UID: "1"}, `cluster.name: Invalid value: "Prod": a lowercase RFC 1123 label`},
		{ClusterEntry{Name: "prod"}, "cluster.uid: Required value"},
		{ClusterEntry{Name: "prod", UID: "1", Environment: "Prod EU"}, `cluster.environment: Invalid value: "Prod EU"`},
		{ClusterEntry{Name: "prod", UID: "1", Region: "EU_West"}, `cluster.region: Invalid value: "EU_West"`},
	} {
		err := tt.entry.Validate(field.NewPath("cluster")).ToAggregate()
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%+v: %v; want %q", tt.entry, err, tt.want)
		}
	}
}

func TestRetention(t *testing.T) {
	for s, hours := range map[string]float64{"90d": 2160, "36h": 36, "1d12h": 36, "90m": 1.5} {
		d, err := ParseWithin(s)
		if err != nil || d.Hours() != hours {
			t.Errorf("ParseWithin(%q) = %s, %v; want %vh", s, d, err, hours)
		}
	}
	for _, s := range []string{"", "d", "90", "-1h", "0d", "1w", "36501d", "9999999999999999999d"} {
		if _, err := ParseWithin(s); err == nil {
			t.Errorf("ParseWithin(%q) accepted", s)
		}
	}
	p := RetentionPolicy{Name: "env", DaysByEnvironment: map[string]int{"dev": 7, "prod": 0}, RetentionRules: RetentionRules{KeepWeekly: -2, KeepWithin: "soon"}}
	err := p.Validate(field.NewPath("retention")).ToAggregate()
	for _, want := range []string{"retention.keep_weekly: Invalid value: -2", `retention.keep_within: Invalid value: "soon": not a duration; want one like 90d`, "retention.days_by_environment[prod]: Invalid value: 0: is too short"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("policy error %v does not say %q", err, want)
		}
	}
	if err := (&RetentionPolicy{Name: "empty"}).Validate(field.NewPath("retention")).ToAggregate(); err == nil || !strings.Contains(err.Error(), "retention: Required value: a policy keeps something") {
		t.Errorf("an empty policy: %v", err)
	}
	ref := RetentionRef{Policy: "env", RetentionRules: RetentionRules{KeepDaily: 7}}
	if err := ref.Validate(field.NewPath("schedule", "retention")).ToAggregate(); err == nil || !strings.Contains(err.Error(), "schedule.retention.policy") {
		t.Errorf("a reference with a policy and rules: %v", err)
	}
}

// A schedule survives a JSON round trip, its retention reference included.
func TestScheduleJSON(t *testing.T) {
	for _, s := range []Schedule{
		{Name: "a", Cron: "@daily", Retention: RetentionRef{Policy: "p"}},
		{Name: "b", Cron: "@daily", Retention: RetentionRef{RetentionRules: RetentionRules{KeepDaily: 7}}},
		{Name: "c", Cron: "@daily"},
	} {
		data, err := json.Marshal(s)
		if err != nil {
			t.Fatal(err)
		}
		var back Schedule
		if err := json.Unmarshal(data, &back); err != nil || back.Retention != s.Retention {
			t.Errorf("%s: round trip gave %+v, %v from %s", s.Name, back.Retention, err, data)
		}
		if s.Retention == (RetentionRef{}) && strings.Contains(string(data), "retention") {
			t.Errorf("an empty retention is written: %s", data)
		}
	}
}

func TestRetentionPolicyScopedToClusters(t *testing.T) {
	ok := RetentionPolicy{Name: "prod-eu-short", RetentionRules: RetentionRules{KeepLast: 3}, Clusters: []string{"prod-eu", "prod-us"}}
	if errs := ok.Validate(field.NewPath("retention")); len(errs) > 0 {
		t.Errorf("a valid scoped policy: %v", errs)
	}
	for _, tt := range []struct {
		policy RetentionPolicy
		want   string
	}{
		{RetentionPolicy{Name: "default", RetentionRules: RetentionRules{KeepLast: 3}, Clusters: []string{"prod-eu"}}, "retention.clusters: Invalid value: [\"prod-eu\"]: the policy named default is the whole repository's"},
		{RetentionPolicy{Name: "p", DaysByEnvironment: map[string]int{"prod": 9}, Clusters: []string{"prod-eu"}}, "a policy scoped to clusters sets rules"},
		{RetentionPolicy{Name: "p", RetentionRules: RetentionRules{KeepLast: 3}, Clusters: []string{"Prod"}}, `retention.clusters[0]: Invalid value: "Prod"`},
		{RetentionPolicy{Name: "p", RetentionRules: RetentionRules{KeepLast: 3}, Clusters: []string{"a", "a"}}, `retention.clusters[1]: Duplicate value: "a"`},
	} {
		err := tt.policy.Validate(field.NewPath("retention")).ToAggregate()
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%+v: %v; want %q", tt.policy, err, tt.want)
		}
	}
}
