package ui

import (
	"bytes"
	"strings"
	"testing"

	"github.com/kbackup/kbackup/core/export"
)

// An export's result lists the files, the Secrets by name and keys, the
// objects left out grouped by type and reason, and a last line; --check
// says what it would do and whether the directory drifted.
func TestRenderExport(t *testing.T) {
	res := &export.Result{
		Backup: "20260301T020000Z-1a2b3c", Cluster: "prod-eu", Format: export.FormatGitOps, Dir: "gitops",
		Namespaces: []string{"shop"}, Objects: 28, ClusterObjects: 6, Files: 44,
		Created: []string{"namespaces/shop/base/deployment-shop-api.yaml"}, Unchanged: 43,
		Secrets: []export.SecretRef{{Namespace: "shop", Name: "db", Type: "Opaque", Keys: []string{"password", "username"}}},
		Left: []export.LeftOut{
			{Resource: "pods", Namespace: "shop", Name: "a", Reason: "controlled by its ReplicaSet, which makes it", Owner: "ReplicaSet x"},
			{Resource: "pods", Namespace: "shop", Name: "b", Reason: "controlled by its ReplicaSet, which makes it", Owner: "ReplicaSet x"},
		},
	}
	var buf bytes.Buffer
	if err := RenderExport(&buf, newStyles(&buf, true), res); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	for _, want := range []string{"Created (1):", "namespaces/shop/base/deployment-shop-api.yaml", "Secrets left out (1)", "password,username",
		"pods   2         controlled by its ReplicaSet", "Exported 28 objects (6 cluster-scoped) of 1 namespace from backup 20260301T020000Z-1a2b3c of cluster prod-eu into gitops (gitops, 44 files): 1 created, 0 updated, 0 deleted, 43 unchanged."} {
		if !strings.Contains(out, want) {
			t.Errorf("lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "\x1b") {
		t.Errorf("escape sequences in plain output:\n%q", out)
	}
	res.Check, res.Drift = true, true
	buf.Reset()
	if err := RenderExport(&buf, newStyles(&buf, true), res); err != nil {
		t.Fatal(err)
	}
	if out := buf.String(); !strings.Contains(out, "Would create (1):") || !strings.Contains(out, ": drift: 1 created") {
		t.Errorf("--check:\n%s", out)
	}
}
