package restore

import (
	"encoding/json"
	"fmt"
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
