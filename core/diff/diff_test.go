package diff_test

import (
	"context"
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/kbackup/kbackup/core/backup"
	"github.com/kbackup/kbackup/core/clean"
	"github.com/kbackup/kbackup/core/diff"
	"github.com/kbackup/kbackup/core/fleet"
	"github.com/kbackup/kbackup/core/kube"
	"github.com/kbackup/kbackup/core/repo"
	"github.com/kbackup/kbackup/core/selection"
	"github.com/kbackup/kbackup/core/testenv"
	"github.com/kbackup/kbackup/core/testenv/repotest"
	"github.com/kbackup/kbackup/core/testenv/workload"
)

var env *testenv.Env

func TestMain(m *testing.M) {
	var err error
	env, err = testenv.New(context.Background(), testenv.Options{ClusterNames: []string{"live"}, S3: true})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	code := m.Run()
	env.Stop()
	os.Exit(code)
}

func TestObjects(t *testing.T) {
	a := &unstructured.Unstructured{Object: map[string]any{"kind": "ConfigMap", "metadata": map[string]any{"name": "a"}, "data": map[string]any{"k": "v"}}}
	if text, differs, err := diff.Objects(a, a.DeepCopy(), "x", "y", 3); err != nil || differs || text != "" {
		t.Errorf("equal objects: %q %v %v", text, differs, err)
	}
	b := a.DeepCopy()
	b.Object["data"] = map[string]any{"k": "w"}
	text, differs, err := diff.Objects(a, b, "from/a", "to/a", 3)
	if err != nil || !differs || !strings.Contains(text, "--- from/a\n+++ to/a\n") || !strings.Contains(text, "-  k: v\n+  k: w\n") {
		t.Errorf("changed object:\n%s", text)
	}
	text, differs, _ = diff.Objects(nil, a, "from/a", "to/a", 3)
	if !differs || !strings.Contains(text, "+kind: ConfigMap") || strings.Contains(text, "\n-") || !strings.Contains(text, "@@ -0,0 +1,") || strings.Contains(text, "\n \n") {
		t.Errorf("added object:\n%s", text)
	}
	text, _, _ = diff.Objects(a, nil, "from/a", "to/a", 3)
	if !strings.HasSuffix(text, "-kind: ConfigMap\n-metadata:\n-  name: a\n") || !strings.Contains(text, " +0,0 @@") {
		t.Errorf("removed object:\n%q", text)
	}
}

type change struct {
	change diff.Change
	key    string
}

func changes(rep *diff.Report) []change {
	var out []change
	for _, e := range rep.Entries {
		out = append(out, change{e.Change, e.Resource + " " + e.Namespace + "/" + e.Name})
	}
	return out
}

// A backup compared with the cluster right after it shows nothing; after a
// change, an addition and a deletion, the live diff and the diff against a
// second backup show exactly those three, with unified diffs and counts.
func TestDiff(t *testing.T) {
	ctx := context.Background()
	c := env.Cluster("live")
	if _, err := workload.Install(ctx, c.Config(), workload.Options{Namespace: "shop", OwnedObjects: true}); err != nil {
		t.Fatal(err)
	}
	kc, err := kube.NewClient(c.Config(), kube.ClientOptions{})
	if err != nil {
		t.Fatal(err)
	}
	bucket := env.S3.NewBucket(t)
	storage := repotest.S3Options(env.S3, bucket)
	run := func() *repo.Manifest {
		res, err := backup.Run(ctx, kc, repo.NewChooser(storage), backup.Options{ClusterName: "live", BackupSpec: fleet.BackupSpec{Selection: selection.Selection{IncludeNamespaces: []string{"shop"}}}})
		if err != nil {
			t.Fatal(err)
		}
		return res.Manifest
	}
	before := run()
	r, err := repo.Open(ctx, storage)
	if err != nil {
		t.Fatal(err)
	}

	rep, err := diff.BackupToLive(ctx, r, before, kc, diff.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if rep.HasChanges() || rep.Totals.Unchanged < 25 {
		t.Fatalf("the cluster right after its backup differs: %+v\n%v", rep.Totals, rep.Entries)
	}

	cs, _ := c.Clientset()
	cm, err := cs.CoreV1().ConfigMaps("shop").Get(ctx, "shop-config", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	cm.Data["LOG_LEVEL"] = "debug"
	if _, err := cs.CoreV1().ConfigMaps("shop").Update(ctx, cm, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := cs.CoreV1().ConfigMaps("shop").Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "added"}, Data: map[string]string{"a": "b"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := cs.CoreV1().Secrets("shop").Delete(ctx, "shop-registry", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	want := []change{
		{diff.Added, "configmaps shop/added"},
		{diff.Changed, "configmaps shop/shop-config"},
		{diff.Removed, "secrets shop/shop-registry"},
	}
	check := func(name string, rep *diff.Report) {
		t.Helper()
		if got := changes(rep); !slices.Equal(got, want) {
			t.Errorf("%s: changes %v, want %v", name, got, want)
		}
		for _, e := range rep.Entries {
			if e.Change == diff.Changed && (!strings.Contains(e.Diff, "-  LOG_LEVEL: info") || !strings.Contains(e.Diff, "+  LOG_LEVEL: debug")) {
				t.Errorf("%s: diff of %s:\n%s", name, e.Name, e.Diff)
			}
		}
		var cms diff.Count
		for _, c := range rep.Counts {
			if c.Namespace == "shop" && c.Resource == "configmaps" {
				cms = c
			}
		}
		if cms.Added != 1 || cms.Changed != 1 || cms.Removed != 0 || cms.Unchanged != 1 {
			t.Errorf("%s: configmaps of shop counted %+v", name, cms)
		}
		if rep.Totals.Added != 1 || rep.Totals.Removed != 1 || rep.Totals.Changed != 1 {
			t.Errorf("%s: totals %+v", name, rep.Totals)
		}
	}

	rep, err = diff.BackupToLive(ctx, r, before, kc, diff.Options{})
	if err != nil {
		t.Fatal(err)
	}
	check("backup to live", rep)
	if rep.From.Kind != "backup" || rep.To.Kind != "live" {
		t.Errorf("sides %+v %+v", rep.From, rep.To)
	}

	after := run()
	rep, err = diff.BackupToBackup(ctx, r, before, after, diff.Options{})
	if err != nil {
		t.Fatal(err)
	}
	check("backup to backup", rep)

	// Selections: one type; one namespace with a mapping (the live
	// namespace "shop" is compared as if restored from "old").
	rep, err = diff.BackupToBackup(ctx, r, before, after, diff.Options{Selection: selection.Selection{IncludeResources: []string{"secret"}}})
	if err != nil {
		t.Fatal(err)
	}
	if got := changes(rep); !slices.Equal(got, want[2:]) {
		t.Errorf("secrets only: %v", got)
	}
	for name, opts := range map[string]diff.Options{
		"secrets left out": {Selection: selection.Selection{ExcludeResources: []string{"secret"}}},
		"configmaps only":  {Selection: selection.Selection{IncludeResources: []string{"configmaps"}, ExcludeResources: []string{"secrets"}}},
	} {
		for side, diffOf := range map[string]func() (*diff.Report, error){
			"backup to backup": func() (*diff.Report, error) { return diff.BackupToBackup(ctx, r, before, after, opts) },
			"backup to live":   func() (*diff.Report, error) { return diff.BackupToLive(ctx, r, before, kc, opts) },
		} {
			rep, err := diffOf()
			if err != nil {
				t.Fatal(err)
			}
			if got := changes(rep); !slices.Equal(got, want[:2]) {
				t.Errorf("%s, %s: %v", name, side, got)
			}
		}
	}
	rep, err = diff.BackupToLive(ctx, r, after, kc, diff.Options{Selection: selection.Selection{IncludeNamespaces: []string{"shop"}}, NamespaceMapping: clean.NamespaceMapping{"shop": "shop"}})
	if err != nil {
		t.Fatal(err)
	}
	if rep.HasChanges() {
		t.Errorf("the latest backup against the live cluster: %v", changes(rep))
	}

	// Mapped to a namespace the cluster lacks: every object of the backup
	// is removed, and the live namespace it maps away from is not compared
	// (after a restore beside the original, the original is not the copy).
	rep, err = diff.BackupToLive(ctx, r, after, kc, diff.Options{Selection: selection.Selection{IncludeNamespaces: []string{"shop"}}, NamespaceMapping: clean.NamespaceMapping{"shop": "shop-elsewhere"}})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Totals.Added != 0 || rep.Totals.Removed == 0 {
		t.Errorf("mapped away from the live namespace: totals %+v, want every object removed and none added: %v", rep.Totals, changes(rep))
	}
}
