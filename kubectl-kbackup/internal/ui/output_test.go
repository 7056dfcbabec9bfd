package ui

import (
	"bytes"
	"encoding/json"
	"testing"
	"time"

	"github.com/kbackup/kbackup/core/restore"
)

// PrintObject streams JSON with the v2 encoder under v1's rules; what it
// writes must be byte for byte what encoding/json's indenting Encoder
// wrote before, for every shape the commands print.
func TestPrintObjectJSONMatchesEncodingJSON(t *testing.T) {
	at := time.Date(2026, 11, 29, 20, 0, 0, 123456789, time.FixedZone("x", 3600))
	type embedded struct {
		Inner string `json:"inner"`
	}
	type sample struct {
		embedded
		HTML     string            `json:"html"`
		Empty    []string          `json:"empty"`
		Nil      []string          `json:"nil"`
		NilMap   map[string]int    `json:"nilMap"`
		Map      map[string]string `json:"map"`
		Omitted  string            `json:"omitted,omitempty"`
		Ptr      *int              `json:"ptr"`
		Float    float64           `json:"float"`
		Duration time.Duration     `json:"duration"`
		Raw      json.RawMessage   `json:"raw"`
		Any      any               `json:"any"`
		Bytes    []byte            `json:"bytes"`
		Skipped  string            `json:"-"`
		unexport int
	}
	values := []any{
		sample{
			embedded: embedded{Inner: "in"}, HTML: "<a href=\"x\">&amp;</a> \u2028 é \x01", Empty: []string{},
			Map: map[string]string{"b": "2", "a": "1", "<": ">"}, Float: 1.5e-7, Duration: 90 * time.Second,
			Raw: json.RawMessage(`{"z": 1, "a": [1, 2]}`), Any: map[string]any{"n": 3.0, "l": []any{"x", nil, true}},
			Bytes: []byte{0, 1, 2, 255},
		},
		&restore.Result{
			FormatVersion: restore.RecordFormatVersion, ID: "r1", StartedAt: at, CompletedAt: at.Add(time.Second),
			Phase: restore.PhasePartiallyFailed, Warnings: []string{"w"},
			Objects: []restore.ObjectResult{
				{Resource: "configmaps", Kind: "ConfigMap", Namespace: "shop", Name: "a", Outcome: restore.Created, Duration: time.Millisecond},
				{Resource: "secrets", Kind: "Secret", Namespace: "shop", Name: "b", Outcome: restore.Failed, Error: "forbidden: <x>", Notes: []string{"n"}},
			},
		},
		[]any{}, map[string]any{}, nil, "text", 12,
	}
	for i, v := range values {
		var want bytes.Buffer
		enc := json.NewEncoder(&want)
		enc.SetIndent("", "  ")
		if err := enc.Encode(v); err != nil {
			t.Fatal(err)
		}
		var got bytes.Buffer
		if err := PrintObject(&got, OutputJSON, v); err != nil {
			t.Fatalf("value %d: %v", i, err)
		}
		if got.String() != want.String() {
			t.Errorf("value %d: PrintObject wrote\n%s\nencoding/json writes\n%s", i, got.String(), want.String())
		}
	}
}
