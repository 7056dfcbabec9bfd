package repo

import (
	"bytes"
	"errors"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/kbackup/kbackup/core/selection"
)

// FuzzReadManifest feeds arbitrary bytes to the manifest parser: it never
// panics, fails only with ErrCorrupt or ErrUnsupportedFormat, and whatever
// it accepts encodes and parses back to the same bytes.
func FuzzReadManifest(f *testing.F) {
	const sha = "ab12cd34ef56ab12cd34ef56ab12cd34ef56ab12cd34ef56ab12cd34ef56ab12"
	ref := PackRef{Cluster: "prod-eu", Namespace: "payments", Resource: "deployments.apps", SHA256: sha, Size: 10, RawSize: 20, Encoding: "zstd"}
	m := testManifest("prod-eu", "20260301T020000Z-abcdef", time.Date(2026, 3, 1, 2, 0, 0, 0, time.UTC), PhasePartiallyFailed,
		NewPackEntry(ref, schema.GroupVersionKind{Group: "apps", Version: "v1", Kind: "Deployment"}, []string{"web", "api"}))
	m.Errors = []ResourceError{{Resource: "secrets", Namespace: "payments", Message: "forbidden"}}
	m.Warnings = []string{"cluster resources skipped"}
	m.Skipped = []SkippedObject{{Resource: "configmaps", Namespace: "shop", Name: "huge", Reason: "larger than 1Mi"}}
	m.Labels = map[string]string{"schedule": "nightly"}
	m.Options = BackupOptions{Selection: selection.Selection{IncludeNamespaces: []string{"payments"}, LabelSelector: "app=web"}, MaxResourceSize: 1 << 20}
	valid, err := MarshalManifest(m)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(valid)
	empty := testManifest("c", "b", time.Date(2026, 1, 1, 0, 0, 0, 0, time.FixedZone("", 3600)), PhaseCompleted)
	emptyData, _ := MarshalManifest(empty)
	f.Add(emptyData)
	// Valid manifests that exercise what the encoder may rewrite: time
	// zones and fractions, escapes and non-ASCII text, cluster-scoped
	// packs, empty lists, large numbers.
	varied := testManifest("c-1", "b_2", time.Date(2999, 12, 31, 23, 59, 59, 999999999, time.FixedZone("", -(23*3600+59*60))), PhaseFailed)
	varied.CompletedAt = time.Time{}
	varied.Name = "nächtlich \"quoted\" <tag> \u2028 ✓"
	varied.Cluster.NameSource = "env"
	varied.Stats = Stats{Objects: 1 << 40, BytesStored: 1<<63 - 1}
	varied.Labels = map[string]string{"b": "2", "a": "", "ключ": "значение"}
	clusterRef := PackRef{Cluster: "c-1", Resource: "clusterroles.rbac.authorization.k8s.io", SHA256: sha, Encoding: "zstd"}
	varied.Packs = []PackEntry{NewPackEntry(clusterRef, schema.GroupVersionKind{Group: "rbac.authorization.k8s.io", Version: "v1", Kind: "ClusterRole"}, []string{"Ä", "a", "system:admin"})}
	varied.Warnings = []string{}
	variedData, err := MarshalManifest(varied)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(variedData)
	f.Add(bytes.ReplaceAll(valid, []byte("\n  "), []byte(" ")))
	f.Add([]byte(`{"formatVersion": 2}`))
	f.Add([]byte(`{"formatVersion": 1, "id": "x", "packs": null}`))
	f.Add([]byte(`[]`))
	f.Add([]byte(``))

	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := ParseManifest(data)
		if err != nil {
			if !errors.Is(err, ErrCorrupt) && !errors.Is(err, ErrUnsupportedFormat) {
				t.Fatalf("error wraps neither ErrCorrupt nor ErrUnsupportedFormat: %v", err)
			}
			return
		}
		encoded, err := MarshalManifest(m)
		if err != nil {
			t.Fatalf("an accepted manifest does not encode: %v", err)
		}
		again, err := ParseManifest(encoded)
		if err != nil {
			t.Fatalf("an accepted manifest, encoded, is refused: %v\n%s", err, encoded)
		}
		reencoded, err := MarshalManifest(again)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(encoded, reencoded) {
			t.Fatalf("round trip changed the manifest:\n%s\n%s", encoded, reencoded)
		}
	})
}
