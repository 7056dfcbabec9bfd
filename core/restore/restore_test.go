package restore_test

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/kbackup/kbackup/core/catalog"
	"github.com/kbackup/kbackup/core/clean"
	"github.com/kbackup/kbackup/core/diff"
	"github.com/kbackup/kbackup/core/restore"
	"github.com/kbackup/kbackup/core/selection"
	"github.com/kbackup/kbackup/core/testenv/workload"
)

// The realistic application, backed up from one cluster, restored into
// another: every restored object equals its source after cleaning, what
// controllers make is left to them, the record is written, and a second
// restore changes nothing and says so.
func TestRestoreIntoAnotherCluster(t *testing.T) {
	ctx := context.Background()
	if _, err := workload.Install(ctx, env.Cluster("src").Config(), workload.Options{Namespace: "shop", OwnedObjects: true}); err != nil {
		t.Fatal(err)
	}
	storage := newRepo(t)
	r, m := backupOf(t, "src", storage)
	opts := restore.Options{RunID: "run-restore-test", Selection: selection.Selection{IncludeNamespaces: []string{"shop"}, ClusterResources: selection.ClusterResourcesOn}}

	// A namespace the backup does not hold is refused before anything is
	// planned, rather than restored as nothing and called completed.
	missing := opts
	missing.Selection.IncludeNamespaces = []string{"shop", "payments-typo"}
	_, err := restore.NewPlan(ctx, restore.PlanInput{Repository: r, Manifest: m, Target: cluster(t, "dst"), Options: withName(missing, "dst")})
	var notIn *catalog.NamespacesNotInBackupError
	if !errors.As(err, &notIn) || !slices.Equal(notIn.Absent, []string{"payments-typo"}) || !slices.Contains(notIn.Held, "shop") {
		t.Errorf("restoring a namespace the backup lacks: %v, want it refused naming payments-typo and what the backup holds", err)
	}

	p := plan(t, r, m, "dst", opts)
	if p.Target.Name != "dst" || p.Backup.Cluster != "src" {
		t.Errorf("plan from %+v into %+v", p.Backup, p.Target)
	}
	owned := map[string]bool{}
	for _, it := range p.Items {
		if it.Action == restore.ActionSkip && strings.HasPrefix(it.Reason, "controlled by") {
			owned[it.Resource] = true
		}
	}
	for _, res := range []string{"replicasets.apps", "pods", "jobs.batch", "endpointslices.discovery.k8s.io"} {
		if !owned[res] {
			t.Errorf("the plan does not skip the %s that a restored controller makes", res)
		}
	}

	res := apply(t, p)
	t.Logf("%s\n%+v", outcomes(res), res.Stages)
	t.Logf("first restore: %d objects in %s (%.0f objects/s at concurrency %d): %+v",
		res.Totals.Total, res.Duration(), res.Rate(), restore.DefaultConcurrency, res.Totals)
	if res.Totals.Failed > 0 || res.Phase != restore.PhaseCompleted {
		t.Fatalf("failures:\n%s", outcomes(res))
	}
	if res.Totals.Created < 25 {
		t.Errorf("created only %d objects:\n%s", res.Totals.Created, outcomes(res))
	}

	// Every created object equals its source after cleaning.
	source := backupObjects(t, r, m)
	dyn := cluster(t, "dst").Dynamic
	for _, o := range res.With(restore.Created) {
		src, ok := source[key(o)]
		if !ok {
			t.Errorf("%s was created but is not in the backup", key(o))
			continue
		}
		gv, _ := schema.ParseGroupVersion(src.GetAPIVersion())
		gvr := gv.WithResource(schema.ParseGroupResource(o.Resource).Resource)
		live, err := dyn.Resource(gvr).Namespace(o.Namespace).Get(ctx, o.Name, metav1.GetOptions{})
		if err != nil {
			t.Errorf("%s: %v", key(o), err)
			continue
		}
		text, differs, err := diff.Objects(clean.Copy(src, clean.Options{}), clean.Copy(live, clean.Options{}), "source", "restored", 3)
		if err != nil || differs {
			t.Errorf("%s differs from its source after cleaning: %v\n%s", key(o), err, text)
		}
	}

	// The record holds what the result says.
	var record restore.Result
	if err := r.ReadRestoreRecord(ctx, "dst", res.ID, &record); err != nil {
		t.Fatal(err)
	}
	if record.Totals != res.Totals || len(record.Objects) != len(res.Objects) || record.Backup.ID != m.ID || record.RunID != "run-restore-test" {
		t.Errorf("record %+v differs from the result %+v", record.Totals, res.Totals)
	}

	// Again: nothing to create or update, every object sent is unchanged.
	again := apply(t, plan(t, r, m, "dst", opts))
	if again.Totals.Created+again.Totals.Updated+again.Totals.Failed > 0 {
		t.Errorf("the second restore changed something:\n%s", outcomes(again))
	}
	for _, o := range again.Objects {
		if o.Outcome == restore.Skipped && strings.Contains(o.Reason, "differs") {
			t.Errorf("%s differs after being restored: %s", key(o), o.Diff)
		}
	}
	if again.Totals.Unchanged != res.Totals.Created+res.Totals.Unchanged {
		t.Errorf("second restore: %d unchanged, want %d (created %d + unchanged %d the first time)",
			again.Totals.Unchanged, res.Totals.Created+res.Totals.Unchanged, res.Totals.Created, res.Totals.Unchanged)
	}
	data, _ := json.Marshal(again)
	if !strings.Contains(string(data), `"outcome":"Unchanged"`) {
		t.Error("the result does not encode its outcomes")
	}
}
