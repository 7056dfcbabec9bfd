package e2e

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kbackup/kbackup/core/diff"
)

// diff finds a changed, an added and a removed object: between a backup and
// the live cluster, and between two backups; with a unified diff, a summary
// table, exit code 3 for differences and 0 for none.
func TestDiffFindsChangedAddedAndRemoved(t *testing.T) {
	ctx := context.Background()
	const ns = "e2e-diff"
	cs, err := env.Cluster("prod-eu").Clientset()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"kept", "changed", "removed"} {
		cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: name}, Data: map[string]string{"value": "before"}}
		if _, err := cs.CoreV1().ConfigMaps(ns).Create(ctx, cm, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	storage := []string{"--storage", env.S3.RepositoryURL(env.S3.NewBucket(t))}
	with := func(args ...string) []string { return append(args, storage...) }
	mustRun(t, 0, invocation{}, with("backup", "create", "diff-before", "--context", "prod-eu", "-n", ns)...)

	same := mustRun(t, 0, invocation{}, with("diff", "--context", "prod-eu", "-n", ns)...)
	if !strings.Contains(same.stdout, "No differences: 4 objects compared") {
		t.Errorf("the cluster right after its backup:\n%s", same)
	}

	cm, err := cs.CoreV1().ConfigMaps(ns).Get(ctx, "changed", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	cm.Data["value"] = "after"
	if _, err := cs.CoreV1().ConfigMaps(ns).Update(ctx, cm, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := cs.CoreV1().ConfigMaps(ns).Delete(ctx, "removed", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := cs.CoreV1().ConfigMaps(ns).Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "added"}, Data: map[string]string{"value": "new"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	want := []string{"Added configmaps " + ns + "/added", "Changed configmaps " + ns + "/changed", "Removed configmaps " + ns + "/removed"}
	check := func(name string, rep diff.Report) {
		t.Helper()
		var got []string
		for _, e := range rep.Entries {
			got = append(got, string(e.Change)+" "+e.Resource+" "+e.Namespace+"/"+e.Name)
		}
		if !slices.Equal(got, want) {
			t.Errorf("%s: %v, want %v", name, got, want)
		}
		if rep.Totals.Added != 1 || rep.Totals.Removed != 1 || rep.Totals.Changed != 1 || rep.Totals.Unchanged != 2 {
			t.Errorf("%s: totals %+v", name, rep.Totals)
		}
	}

	live := mustRun(t, 3, invocation{}, with("diff", "latest", "--context", "prod-eu", "-n", ns)...)
	for _, w := range append(want, "-  value: before", "+  value: after", "--- backup/diff-before/configmaps "+ns+"/changed", "+++ live/configmaps "+ns+"/changed",
		"ADDED", "REMOVED", "CHANGED", "UNCHANGED", "TOTAL") {
		if !strings.Contains(live.stdout, w) {
			t.Errorf("diff against the live cluster lacks %q:\n%s", w, live)
		}
	}
	if !strings.Contains(live.stderr, "differences found: 1 added, 1 removed, 1 changed") {
		t.Errorf("stderr:\n%s", live)
	}
	var rep diff.Report
	res := mustRun(t, 3, invocation{}, with("diff", "latest", "--context", "prod-eu", "-n", ns, "-o", "json")...)
	if err := json.Unmarshal([]byte(res.stdout), &rep); err != nil {
		t.Fatalf("diff -o json: %v\n%s", err, res)
	}
	check("backup to live", rep)
	summary := mustRun(t, 3, invocation{}, with("diff", "--context", "prod-eu", "-n", ns, "--summary")...)
	if strings.Contains(summary.stdout, "@@") || !strings.Contains(summary.stdout, "TOTAL") {
		t.Errorf("--summary prints the table only:\n%s", summary)
	}

	mustRun(t, 0, invocation{}, with("backup", "create", "diff-after", "--context", "prod-eu", "-n", ns)...)
	rep = diff.Report{}
	res = mustRun(t, 3, invocation{}, with("diff", "diff-before", "diff-after", "-o", "json")...)
	if err := json.Unmarshal([]byte(res.stdout), &rep); err != nil {
		t.Fatalf("diff -o json: %v\n%s", err, res)
	}
	check("backup to backup", rep)
	if rep.From.BackupID != "diff-before" || rep.To.BackupID != "diff-after" {
		t.Errorf("sides %+v → %+v", rep.From, rep.To)
	}
	mustRun(t, 0, invocation{}, with("diff", "diff-after", "--context", "prod-eu", "-n", ns)...)

	// backup get reads the short names the cluster declares.
	got := mustRun(t, 0, invocation{}, with("backup", "get", "diff-before", "cm/removed", "-n", ns, "--context", "prod-eu")...)
	if !strings.Contains(got.stdout, "value: before") {
		t.Errorf("backup get with a short name:\n%s", got)
	}
}
