package e2e

import (
	"context"
	"encoding/json"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kbackup/kbackup/core/repo"
)

// backdate rewrites a committed backup's times (and phase) in the bucket,
// as if it had been taken at when, and drops the cluster's summary so
// that the next reader rebuilds it from the manifests. Manifests are
// written once by kbackup; this is the test standing in for time.
func backdate(t *testing.T, r *repo.Repository, cluster, id string, when time.Time, phase repo.Phase) {
	t.Helper()
	ctx := context.Background()
	m, err := r.ReadManifest(ctx, cluster, id)
	if err != nil {
		t.Fatal(err)
	}
	took := m.CompletedAt.Sub(m.StartedAt)
	m.StartedAt, m.CompletedAt, m.Phase = when.UTC(), when.UTC().Add(took), phase
	data, err := repo.MarshalManifest(m)
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Backend().Put(ctx, r.Layout().Manifest(cluster, id), data); err != nil {
		t.Fatal(err)
	}
	if err := r.Backend().Delete(ctx, r.Layout().Summary(cluster)); err != nil {
		t.Fatal(err)
	}
}

// pruneJSON is the part of prune -o json the tests read.
type pruneJSON struct {
	DryRun   bool `json:"dryRun"`
	Removed  int  `json:"removed"`
	Clusters []struct {
		Cluster string `json:"cluster"`
		Policy  struct {
			Source string `json:"source"`
			Rules  string `json:"rules"`
		} `json:"policy"`
		Backups []struct {
			ID     string `json:"id"`
			Keep   bool   `json:"keep"`
			KeptBy []struct {
				Rule, Bucket string
			} `json:"keptBy"`
		} `json:"backups"`
		Skipped string `json:"skipped"`
	} `json:"clusters"`
}

func parsePrune(t *testing.T, res result) pruneJSON {
	t.Helper()
	var p pruneJSON
	if err := json.Unmarshal([]byte(res.stdout), &p); err != nil {
		t.Fatalf("prune -o json: %v\n%s", err, res)
	}
	return p
}

func (p pruneJSON) kept(cluster string) []string {
	var out []string
	for _, c := range p.Clusters {
		if c.Cluster != cluster {
			continue
		}
		for _, b := range c.Backups {
			if b.Keep {
				out = append(out, b.ID)
			}
		}
	}
	sort.Strings(out)
	return out
}

func manifestIDs(t *testing.T, bucket, cluster string) []string {
	t.Helper()
	var ids []string
	for _, k := range bucketKeys(t, env.S3, bucket) {
		if id, ok := strings.CutPrefix(k, cluster+"/_backups/"); ok {
			ids = append(ids, strings.TrimSuffix(id, ".json"))
		}
	}
	sort.Strings(ids)
	return ids
}

// The backups of TestPruneByEachRule, oldest first, with the times they
// are made to have (UTC) and the two that failed.
var pruneSeries = []struct {
	id     string
	at     string
	failed bool
}{
	{"b1", "2026-01-05 10:00", false}, // Monday, ISO week 2
	{"b2", "2026-01-20 10:00", false}, // week 4
	{"b3", "2026-02-10 10:00", false}, // week 7
	{"b4", "2026-02-11 09:00", false},
	{"b5", "2026-02-11 15:00", true},
	{"b6", "2026-02-12 08:00", false},
	{"b7", "2026-02-12 08:30", false},
	{"b8", "2026-02-12 09:10", true},
}

// Prune by each rule keeps exactly the backups restic's forget keeps:
// failed backups count towards no keep-N rule, buckets are in the time
// zone given, keep-within counts from the newest good backup. Then two real
// prunes leave exactly the kept manifests, and verify --all passes.
func TestPruneByEachRule(t *testing.T) {
	bucket := env.S3.NewBucket(t)
	storage := []string{"--storage", env.S3.RepositoryURL(bucket)}
	for _, b := range pruneSeries {
		mustRun(t, 0, invocation{}, append([]string{"backup", "create", b.id, "--context", "dr-us", "-n", "kube-system"}, storage...)...)
	}
	r := openBucket(t, bucket)
	for _, b := range pruneSeries {
		when, err := time.Parse("2006-01-02 15:04", b.at)
		if err != nil {
			t.Fatal(err)
		}
		phase := repo.PhaseCompleted
		if b.failed {
			phase = repo.PhaseFailed
		}
		backdate(t, r, "dr-us", b.id, when, phase)
	}
	prune := append([]string{"prune", "--cluster", "dr-us", "-o", "json"}, storage...)
	for _, tc := range []struct {
		flags []string
		want  []string
	}{
		{[]string{"--keep-last", "2"}, []string{"b6", "b7"}},
		{[]string{"--keep-hourly", "2"}, []string{"b4", "b7"}},
		{[]string{"--keep-daily", "3"}, []string{"b3", "b4", "b7"}},
		{[]string{"--keep-weekly", "3"}, []string{"b1", "b2", "b7"}},
		{[]string{"--keep-monthly", "2"}, []string{"b2", "b7"}},
		{[]string{"--keep-within", "24h"}, []string{"b4", "b5", "b6", "b7", "b8"}},
		// In Honolulu (UTC-10) b3 (00:00 there) falls on b4's day.
		{[]string{"--keep-daily", "3", "--time-zone", "Pacific/Honolulu"}, []string{"b2", "b4", "b7"}},
		{[]string{"--keep-last", "1", "--keep-monthly", "2"}, []string{"b2", "b7"}},
	} {
		t.Run(strings.Join(tc.flags, " "), func(t *testing.T) {
			p := parsePrune(t, mustRun(t, 0, invocation{}, append(append(prune, "--dry-run"), tc.flags...)...))
			if got := p.kept("dr-us"); !slices.Equal(got, tc.want) {
				t.Errorf("kept %v, want %v", got, tc.want)
			}
			if !p.DryRun || p.Removed != len(pruneSeries)-len(tc.want) || p.Clusters[0].Policy.Source != "flags" {
				t.Errorf("report %+v", p)
			}
		})
	}
	if got := manifestIDs(t, bucket, "dr-us"); len(got) != len(pruneSeries) {
		t.Fatalf("dry runs removed backups: %v", got)
	}

	mustRun(t, 0, invocation{}, append(prune, "--keep-within", "24h", "--yes")...)
	if got, want := manifestIDs(t, bucket, "dr-us"), []string{"b4", "b5", "b6", "b7", "b8"}; !slices.Equal(got, want) {
		t.Errorf("after --keep-within 24h: %v, want %v", got, want)
	}
	res := mustRun(t, 0, invocation{}, append([]string{"prune", "--cluster", "dr-us", "--keep-last", "1", "--yes"}, storage...)...)
	if got, want := manifestIDs(t, bucket, "dr-us"), []string{"b7"}; !slices.Equal(got, want) {
		t.Errorf("after --keep-last 1: %v, want %v", got, want)
	}
	if !strings.Contains(res.stdout, "Removed 4 backups") || !strings.Contains(res.stdout, "b7") {
		t.Errorf("prune report:\n%s", res)
	}
	mustRun(t, 0, invocation{}, append([]string{"verify", "--all", "--cluster", "dr-us"}, storage...)...)
}

// Policies come from the registry and from kbackup.yaml, the narrowest
// winning; an invalid one is an error naming its field, and nothing is
// deleted.
func TestPrunePolicySourcesAndBadInput(t *testing.T) {
	bucket := env.S3.NewBucket(t)
	storage := []string{"--storage", env.S3.RepositoryURL(bucket)}
	cfg := writeFile(t, "kbackup.yaml", `environments:
  - name: dev
  - name: test
  - name: prod
retention_policies:
  dev: 7
  test: 14
  prod: 90
`)
	with := func(args ...string) []string { return append(append(args, storage...), "--config", cfg) }
	for _, id := range []string{"old", "new"} {
		mustRun(t, 0, invocation{}, with("backup", "create", id, "--context", "dr-us", "-n", "kube-system")...)
	}
	backdate(t, openBucket(t, bucket), "dr-us", "old", time.Now().Add(-10*24*time.Hour), repo.PhaseCompleted)

	// No policy at all: an error, nothing removed.
	res := mustRun(t, 1, invocation{}, with("prune", "--cluster", "dr-us", "--dry-run")...)
	if !strings.Contains(res.stderr, "cluster dr-us has no retention policy") {
		t.Errorf("no policy:\n%s", res)
	}

	// Registered as dev: kbackup.yaml's 7 days.
	mustRun(t, 0, invocation{}, with("cluster", "register", "--context", "dr-us", "--environment", "dev", "--region", "us-east-1")...)
	p := parsePrune(t, mustRun(t, 0, invocation{}, with("prune", "--cluster", "dr-us", "--dry-run", "-o", "json")...))
	if p.Clusters[0].Policy.Source != "retention_policies.dev" || !slices.Equal(p.kept("dr-us"), []string{"new"}) {
		t.Errorf("dev's 7 days: %+v", p)
	}
	// Its own retention wins over its environment's.
	mustRun(t, 0, invocation{}, with("cluster", "register", "--context", "dr-us", "--keep-last", "2")...)
	p = parsePrune(t, mustRun(t, 0, invocation{}, with("prune", "--cluster", "dr-us", "--dry-run", "-o", "json")...))
	if p.Clusters[0].Policy.Source != "cluster.retention" || !slices.Equal(p.kept("dr-us"), []string{"new", "old"}) {
		t.Errorf("the cluster's own keep-last 2: %+v", p)
	}

	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"prune", "--cluster", "dr-us", "--keep-daily", "-1", "--yes"}, "--keep-daily: Invalid value: -1: must not be negative"},
		{[]string{"prune", "--cluster", "dr-us", "--keep-within", "a month", "--yes"}, "--keep-within: Invalid value: \"a month\": not a duration"},
		{[]string{"cluster", "register", "--context", "dr-us", "--keep-weekly", "-2"}, "--keep-weekly: Invalid value: -2"},
		{[]string{"cluster", "register", "--context", "dr-us", "--environment", "staging"}, `environment "staging" is not defined; defined: dev, test, prod`},
	} {
		res := mustRun(t, 1, invocation{}, with(tc.args...)...)
		if !strings.Contains(res.stderr, tc.want) {
			t.Errorf("%v: want %q in\n%s", tc.args, tc.want, res)
		}
	}
	bad := writeFile(t, "bad.yaml", "environments:\n  - name: prod\nretention_policies:\n  staging: 3\n")
	res = mustRun(t, 1, invocation{}, append(append([]string{"prune", "--cluster", "dr-us", "--yes"}, storage...), "--config", bad)...)
	if !strings.Contains(res.stderr, "retention_policies.staging") {
		t.Errorf("unknown environment in retention_policies:\n%s", res)
	}

	// An entry written by a newer kbackup: describe and prune say so, and
	// nothing is deleted.
	r := openBucket(t, bucket)
	newer := []byte(`{"formatVersion": 2, "name": "dr-us", "uid": "x", "shards": 3}`)
	if err := r.Backend().Put(context.Background(), r.Layout().ClusterEntry("dr-us"), newer); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{{"cluster", "describe", "dr-us"}, {"prune", "--fleet", "--keep-last", "1", "--yes"}} {
		res := mustRun(t, 1, invocation{}, with(args...)...)
		if !strings.Contains(res.stderr, "cluster.formatVersion is 2, written by a newer kbackup") {
			t.Errorf("%v with a newer entry:\n%s", args, res)
		}
	}
	if got := manifestIDs(t, bucket, "dr-us"); !slices.Equal(got, []string{"new", "old"}) {
		t.Errorf("bad input deleted backups: %v", got)
	}
}

// register, list, describe and unregister; the backups of an unregistered
// cluster stay, and clusters still lists it.
func TestClusterRegistry(t *testing.T) {
	bucket := env.S3.NewBucket(t)
	storage := []string{"--storage", env.S3.RepositoryURL(bucket)}
	cfg := writeFile(t, "kbackup.yaml", "environments:\n  - name: dev\n  - name: prod\n")
	with := func(args ...string) []string { return append(append(args, storage...), "--config", cfg) }

	res := mustRun(t, 0, invocation{}, with("cluster", "register", "--context", "prod-eu", "--environment", "prod", "--region", "eu-west-1", "--priority", "10", "--label", "team=payments", "-o", "json")...)
	var entry struct {
		Name, UID, Environment, Region, Server string
		Priority                               int
		Labels                                 map[string]string
	}
	if err := json.Unmarshal([]byte(res.stdout), &entry); err != nil {
		t.Fatal(err, res)
	}
	uid := clusterUID(t, "prod-eu")
	if entry.Name != "prod-eu" || entry.UID != uid || entry.Environment != "prod" || entry.Region != "eu-west-1" ||
		entry.Priority != 10 || entry.Labels["team"] != "payments" || entry.Server == "" {
		t.Errorf("registered entry %+v (kube-system UID %s)", entry, uid)
	}
	// A second register changes only what it is given.
	mustRun(t, 0, invocation{}, with("cluster", "register", "--context", "prod-eu", "--priority", "5")...)
	mustRun(t, 0, invocation{}, with("cluster", "register", "--context", "dr-us", "--cluster-name", "dr-us")...)

	list := mustRun(t, 0, invocation{}, with("cluster", "list")...)
	lines := strings.Split(strings.TrimSpace(list.stdout), "\n")
	if len(lines) != 3 || !strings.HasPrefix(lines[1], "dr-us") || !strings.Contains(lines[2], "prod") || !strings.Contains(lines[2], "eu-west-1") || !strings.Contains(lines[2], " 5 ") {
		t.Errorf("cluster list:\n%s", list)
	}
	desc := mustRun(t, 0, invocation{}, with("cluster", "describe", "prod-eu")...)
	for _, want := range []string{"UID:", uid, "Environment:  prod", "Priority:     5", "team=payments"} {
		if !strings.Contains(desc.stdout, want) {
			t.Errorf("describe does not say %q:\n%s", want, desc)
		}
	}
	mustRun(t, 1, invocation{}, with("cluster", "describe", "nowhere")...)

	// Another cluster may not register under a taken name.
	res = mustRun(t, 1, invocation{}, with("cluster", "register", "--context", "dr-us", "--cluster-name", "prod-eu")...)
	if !strings.Contains(res.stderr, `cluster name "prod-eu" belongs to`) {
		t.Errorf("taking prod-eu:\n%s", res)
	}

	mustRun(t, 0, invocation{}, with("backup", "create", "one", "--context", "prod-eu", "-n", "kube-system")...)
	res = mustRun(t, 0, invocation{}, with("cluster", "unregister", "prod-eu")...)
	if !strings.Contains(res.stdout, "its 1 backup stay") {
		t.Errorf("unregister:\n%s", res)
	}
	if got := manifestIDs(t, bucket, "prod-eu"); !slices.Equal(got, []string{"one"}) {
		t.Errorf("unregister removed backups: %v", got)
	}
	list = mustRun(t, 0, invocation{}, with("cluster", "list")...)
	if strings.Contains(list.stdout, "prod-eu") {
		t.Errorf("prod-eu still listed:\n%s", list)
	}
	fleet := mustRun(t, 0, invocation{}, with("clusters")...)
	if !strings.Contains(fleet.stdout, "prod-eu (unregistered)") {
		t.Errorf("clusters should list the unregistered prod-eu, which has a backup:\n%s", fleet)
	}
	mustRun(t, 1, invocation{}, with("cluster", "unregister", "prod-eu")...)
}

func clusterUID(t *testing.T, name string) string {
	t.Helper()
	ns, err := clusterClient(t, name).Kube.CoreV1().Namespaces().Get(context.Background(), "kube-system", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return string(ns.UID)
}

// clusters --stale names exactly the clusters without a recent successful
// backup, and exits 1; without stale clusters it exits 0.
func TestClustersStale(t *testing.T) {
	bucket := env.S3.NewBucket(t)
	storage := []string{"--storage", env.S3.RepositoryURL(bucket)}
	cfg := writeFile(t, "kbackup.yaml", "environments:\n  - name: dev\n  - name: prod\nbackup_schedules:\n  prod: \"0 */6 * * *\"\n")
	with := func(args ...string) []string { return append(append(args, storage...), "--config", cfg) }

	mustRun(t, 0, invocation{}, with("backup", "create", "--context", "prod-eu", "-n", "kube-system")...)
	mustRun(t, 0, invocation{}, with("backup", "create", "--context", "dr-us", "-n", "kube-system")...)
	mustRun(t, 0, invocation{}, with("clusters", "--stale")...)

	// dr-us's only backup is 3 days old; prod-eu is registered as prod
	// (every 6 hours) and its backup is fresh; spare is registered and has
	// no backup; a failed backup of prod-eu does not count, but its good
	// one is recent.
	r := openBucket(t, bucket)
	ids := manifestIDs(t, bucket, "dr-us")
	backdate(t, r, "dr-us", ids[0], time.Now().Add(-72*time.Hour), repo.PhaseCompleted)
	mustRun(t, 0, invocation{}, with("cluster", "register", "--context", "prod-eu", "--environment", "prod")...)
	mustRun(t, 0, invocation{}, with("cluster", "register", "--context", "dr-us", "--cluster-name", "spare")...)

	res := mustRun(t, 1, invocation{}, with("clusters", "--stale", "-o", "json")...)
	var stale []struct {
		Name        string `json:"name"`
		Stale       bool   `json:"stale"`
		StaleReason string `json:"staleReason"`
	}
	if err := json.Unmarshal([]byte(res.stdout), &stale); err != nil {
		t.Fatal(err, res)
	}
	var names []string
	for _, c := range stale {
		names = append(names, c.Name)
	}
	if !slices.Equal(names, []string{"dr-us", "spare"}) || !strings.Contains(stale[1].StaleReason, "no successful backup") ||
		!strings.Contains(stale[0].StaleReason, "more than 24h") {
		t.Errorf("stale clusters %+v", stale)
	}
	table := mustRun(t, 1, invocation{}, with("clusters", "--stale")...)
	if !strings.Contains(table.stdout, "STALE") || strings.Contains(table.stdout, "prod-eu") || !strings.Contains(table.stderr, "2 clusters of 3 are stale") {
		t.Errorf("clusters --stale:\n%s", table)
	}
	all := mustRun(t, 0, invocation{}, with("clusters")...)
	for _, want := range []string{"prod-eu", "prod", "Completed", "ok", "dr-us", "spare"} {
		if !strings.Contains(all.stdout, want) {
			t.Errorf("clusters does not say %q:\n%s", want, all)
		}
	}

	// prod-eu's schedule: a backup was due 6 hours after its last one.
	backdate(t, r, "prod-eu", manifestIDs(t, bucket, "prod-eu")[0], time.Now().Add(-8*time.Hour), repo.PhaseCompleted)
	res = mustRun(t, 1, invocation{}, with("clusters", "--stale")...)
	if !strings.Contains(res.stdout, "prod-eu") || !strings.Contains(res.stdout, "backup_schedules.prod") {
		t.Errorf("prod-eu missed its schedule:\n%s", res)
	}
}

// A prune of a cluster while a backup of it runs: both complete, nothing
// referenced goes, and verify --all passes.
func TestPruneWhileBackupRuns(t *testing.T) {
	bucket := env.S3.NewBucket(t)
	storage := []string{"--storage", env.S3.RepositoryURL(bucket)}
	for _, id := range []string{"a", "b", "c"} {
		mustRun(t, 0, invocation{}, append([]string{"backup", "create", id, "--context", "prod-eu"}, storage...)...)
	}
	var wg sync.WaitGroup
	var backup result
	wg.Add(1)
	go func() {
		defer wg.Done()
		backup = kbackup(t, invocation{}, append([]string{"backup", "create", "d", "--context", "prod-eu"}, storage...)...)
	}()
	prunes := 0
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	for running := true; running; {
		select {
		case <-done:
			running = false
		default:
		}
		mustRun(t, 0, invocation{}, append([]string{"prune", "--cluster", "prod-eu", "--keep-last", "1", "--yes"}, storage...)...)
		prunes++
	}
	if backup.code != 0 {
		t.Fatalf("the backup that ran during %d prunes:\n%s", prunes, backup)
	}
	if got := manifestIDs(t, bucket, "prod-eu"); !slices.Contains(got, "d") || len(got) != 1 {
		t.Errorf("after the last prune: %v, want [d]", got)
	}
	mustRun(t, 0, invocation{}, append([]string{"verify", "--all", "--cluster", "prod-eu"}, storage...)...)
}

// backup create --prune prunes the cluster by its policy after a
// Completed backup.
func TestBackupCreatePrune(t *testing.T) {
	bucket := env.S3.NewBucket(t)
	storage := []string{"--storage", env.S3.RepositoryURL(bucket)}
	create := func(id string, more ...string) result {
		return mustRun(t, 0, invocation{}, append(append([]string{"backup", "create", id, "--context", "dr-us", "-n", "kube-system"}, storage...), more...)...)
	}
	create("a")
	create("b")
	mustRun(t, 0, invocation{}, append([]string{"cluster", "register", "--context", "dr-us", "--keep-last", "2"}, storage...)...)
	res := create("c", "--prune", "-o", "json")
	if got, want := manifestIDs(t, bucket, "dr-us"), []string{"b", "c"}; !slices.Equal(got, want) {
		t.Errorf("after backup create --prune: %v, want %v\n%s", got, want, res)
	}
	if parseBackupResult(t, res).ID != "c" || !strings.Contains(res.stderr, "Removed 1 backup") {
		t.Errorf("stdout keeps -o json's document and the prune report goes to stderr:\n%s", res)
	}
}

// A prune has a run ID: in its report and in every log line it writes; a
// prune that follows a backup (--prune) shares the backup's run.
func TestPruneRunID(t *testing.T) {
	bucket := env.S3.NewBucket(t)
	storage := []string{"--storage", env.S3.RepositoryURL(bucket)}
	for _, id := range []string{"a", "b"} {
		mustRun(t, 0, invocation{}, append([]string{"backup", "create", id, "--context", "dr-us", "-n", "kube-public"}, storage...)...)
	}
	res := mustRun(t, 0, invocation{}, append([]string{"prune", "--context", "dr-us", "--keep-last", "1", "--yes", "-o", "json",
		"--log-format", "json", "--log-level", "info"}, storage...)...)
	var report struct {
		RunID   string `json:"runId"`
		Removed int    `json:"removed"`
	}
	if err := json.Unmarshal([]byte(res.stdout), &report); err != nil || !strings.HasPrefix(report.RunID, "run-") || report.Removed != 1 {
		t.Fatalf("the report should carry a run ID and one removal (%v):\n%s", err, res)
	}
	lines := strings.Split(strings.TrimSpace(res.stderr), "\n")
	if len(lines) < 2 {
		t.Fatalf("want the prune's log lines on stderr:\n%s", res)
	}
	for _, line := range lines {
		var entry map[string]any
		if err := json.Unmarshal([]byte(line), &entry); err != nil {
			t.Fatalf("a log line is not JSON: %q", line)
		}
		if entry["run"] != report.RunID {
			t.Errorf("log line without the prune's run ID %s: %s", report.RunID, line)
		}
	}
}
