package repo

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/kbackup/kbackup/core/selection"
)

// FuzzReadManifest feeds arbitrary bytes to the manifest parser: it never
// panics, fails only with ErrCorrupt or ErrUnsupportedFormat, whatever it
// accepts re-encodes to the same fields with the same values as the input
// (nothing dropped, renamed or changed), and encodes and parses back to the
// same bytes.
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
		if diff := sameJSONFields("", decodeGeneric(t, data), decodeGeneric(t, encoded)); diff != "" {
			t.Fatalf("the manifest re-encodes with other fields than it was decoded from: %s\ninput:\n%s\nencoded:\n%s", diff, data, encoded)
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

// decodeGeneric parses JSON into maps, lists, strings, booleans and
// json.Numbers, keeping the numbers' text.
func decodeGeneric(t *testing.T, data []byte) any {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		t.Fatalf("accepted input is not JSON: %v", err)
	}
	return v
}

// sameJSONFields describes the first difference between two JSON trees, or
// returns "". A field that is absent equals one that holds its zero value
// (null, "", 0, false, [], the zero time, or an object of zero values), since the encoder
// leaves those out or writes them; numbers compare by value, and times by
// instant and offset, since RFC 3339 has more than one text for each.
func sameJSONFields(path string, in, out any) string {
	if isZeroJSON(in) && isZeroJSON(out) {
		return ""
	}
	switch a := in.(type) {
	case map[string]any:
		b, ok := out.(map[string]any)
		if !ok {
			return fmt.Sprintf("%s: %v became %v", path, in, out)
		}
		for k, v := range a {
			if d := sameJSONFields(path+"."+k, v, b[k]); d != "" {
				return d
			}
		}
		for k, v := range b {
			if _, ok := a[k]; !ok && !isZeroJSON(v) {
				return fmt.Sprintf("%s.%s: absent in the input, %v in the encoding", path, k, v)
			}
		}
		return ""
	case []any:
		b, ok := out.([]any)
		if !ok || len(a) != len(b) {
			return fmt.Sprintf("%s: %v became %v", path, in, out)
		}
		for i := range a {
			if d := sameJSONFields(fmt.Sprintf("%s[%d]", path, i), a[i], b[i]); d != "" {
				return d
			}
		}
		return ""
	case json.Number:
		b, ok := out.(json.Number)
		x, okx := new(big.Float).SetString(a.String())
		y, oky := new(big.Float).SetString(string(b))
		if !ok || !okx || !oky || x.Cmp(y) != 0 {
			return fmt.Sprintf("%s: %v became %v", path, in, out)
		}
		return ""
	case string:
		b, ok := out.(string)
		if !ok {
			return fmt.Sprintf("%s: %q became %v", path, a, out)
		}
		if a == b {
			return ""
		}
		ta, erra := time.Parse(time.RFC3339Nano, a)
		tb, errb := time.Parse(time.RFC3339Nano, b)
		_, offa := ta.Zone()
		_, offb := tb.Zone()
		if erra == nil && errb == nil && ta.Equal(tb) && offa == offb {
			return ""
		}
		return fmt.Sprintf("%s: %q became %q", path, a, b)
	}
	if in != out {
		return fmt.Sprintf("%s: %v became %v", path, in, out)
	}
	return ""
}

func isZeroJSON(v any) bool {
	switch v := v.(type) {
	case nil:
		return true
	case bool:
		return !v
	case string:
		if t, err := time.Parse(time.RFC3339Nano, v); err == nil {
			return t.IsZero()
		}
		return v == ""
	case json.Number:
		f, ok := new(big.Float).SetString(v.String())
		return ok && f.Sign() == 0
	case map[string]any:
		for _, e := range v {
			if !isZeroJSON(e) {
				return false
			}
		}
		return true
	case []any:
		return len(v) == 0
	}
	return false
}
