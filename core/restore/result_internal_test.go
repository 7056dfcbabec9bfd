package restore

import (
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"testing"
	"time"
)

// The repository sizes the record's buffer by SizeHint: it should hold the
// encoding of a typical record without growing, and not be far over.
func TestResultSizeHintCoversItsJSON(t *testing.T) {
	res := &Result{FormatVersion: RecordFormatVersion, ID: "20261129T203921Z-c36b06", RunID: "run-20261129T203920Z-7bd20f",
		Phase: PhaseCompleted, StartedAt: time.Now(), CompletedAt: time.Now(),
		Backup: BackupRef{Cluster: "prod-eu", ID: "20261129T203435Z-611533", Location: "s3://bucket/prefix?endpoint=http://127.0.0.1:9000"}}
	for i := range 10_000 {
		o := ObjectResult{Stage: "Namespaced", Resource: "configmaps", Kind: "ConfigMap", Namespace: fmt.Sprintf("shop-%02d", i%20),
			Name: fmt.Sprintf("cm-%05d", i), Outcome: Created, Duration: 3 * time.Millisecond}
		if i%100 == 0 {
			o.SourceNamespace, o.Outcome, o.Reason = "shop", Skipped, "controlled by ReplicaSet web-7d9f, which is in this restore"
			o.Notes = []string{"owner reference to ReplicaSet web-7d9f re-pointed"}
		}
		res.Objects = append(res.Objects, o)
	}
	res.Totals, res.Counts = groupCounts(func(yield func(ObjectResult) bool) {
		for _, o := range res.Objects {
			if !yield(o) {
				return
			}
		}
	})
	data, err := json.Marshal(res)
	if err != nil {
		t.Fatal(err)
	}
	if hint := res.SizeHint(); hint < len(data)+1 || hint > 2*len(data) {
		t.Errorf("SizeHint() = %d for a record of %d bytes: want at least that, and at most twice", hint, len(data))
	}
}

// A result kept compact while a restore runs comes back as it was, and is
// kept whole only when it says more than its item.
func TestCompactResultComesBackAsItWas(t *testing.T) {
	it := &Item{Stage: StageConfig, Resource: "configmaps", Kind: "ConfigMap", Namespace: "dr", SourceNamespace: "shop", Name: "a",
		Reason: "exists in the target, equal to the backup after cleaning", Diff: "--- backup\n+++ live\n", Notes: []string{"note"}}
	base := ObjectResult{Stage: it.Stage, Resource: it.Resource, Kind: it.Kind, Namespace: it.Namespace, SourceNamespace: it.SourceNamespace,
		Name: it.Name, Notes: it.Notes}
	for _, c := range []struct {
		name  string
		edit  func(*ObjectResult)
		whole bool
	}{
		{"created", func(r *ObjectResult) { r.Outcome, r.Duration = Created, 3*time.Millisecond }, false},
		{"the item's reason and diff", func(r *ObjectResult) { r.Outcome, r.Reason, r.Diff = Skipped, it.Reason, it.Diff }, false},
		{"a reason of its own", func(r *ObjectResult) { r.Outcome, r.Reason = Unchanged, "appeared after the plan" }, true},
		{"an error", func(r *ObjectResult) { r.Outcome, r.Error = Failed, "denied" }, true},
		{"notes added", func(r *ObjectResult) { r.Outcome, r.Notes = Created, append(slices.Clone(it.Notes), "owner dropped") }, true},
		{"a diff of its own", func(r *ObjectResult) { r.Outcome, r.Diff = Updated, it.Diff+"more" }, true},
	} {
		r := base
		c.edit(&r)
		kept := compact(it, r)
		if (kept.whole != nil) != c.whole {
			t.Errorf("%s: kept whole %v, want %v", c.name, kept.whole != nil, c.whole)
		}
		if got := kept.result(it); !reflect.DeepEqual(got, r) {
			t.Errorf("%s: came back as %+v, want %+v", c.name, got, r)
		}
	}
}
