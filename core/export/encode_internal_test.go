package export

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"
)

func configMap() map[string]any {
	return map[string]any{
		"apiVersion": "v1", "kind": "ConfigMap",
		"metadata": map[string]any{"name": "cm-1", "namespace": "ns", "labels": map[string]any{"app": "x"}},
		"data":     map[string]any{"config.yaml": strings.Repeat("key: value\n", 20), "enabled": "true", "count": "3"},
	}
}

func BenchmarkEncodeObject(b *testing.B) {
	obj := configMap()
	for b.Loop() {
		if _, err := encodeObject(obj); err != nil {
			b.Fatal(err)
		}
	}
}

// readAsKubectl reads YAML as kubectl and Argo CD do (sigs.k8s.io/yaml,
// YAML 1.1) into the JSON value the API server would be sent.
func readAsKubectl(t *testing.T, data []byte) map[string]any {
	t.Helper()
	js, err := yaml.YAMLToJSON(data)
	if err != nil {
		t.Fatalf("kubectl could not read:\n%s\n%v", data, err)
	}
	back := map[string]any{}
	if err := json.Unmarshal(js, &back); err != nil {
		t.Fatal(err)
	}
	return back
}

// Keys come in documentation order, several lines are a literal block, and
// kubectl reads the file back as the object: a string YAML 1.1 would take
// for a boolean, a number or null stays a string (a ConfigMap's data
// holding `on` unquoted is refused by the API server).
func TestEncodeObjectRoundTrip(t *testing.T) {
	obj := configMap()
	data := obj["data"].(map[string]any)
	for _, s := range []string{"", "on", "Off", "yes", "NO", "y", "n", "true", "null", "~", "0x1F", "012", "1e3", "1.5", ".inf",
		"2026-11-30", "trailing ", " leading", "tab\there", "café", "- item", "key: value", "#comment", "@at", "&anchor", "*alias",
		"!tag", "%pct", "|", ">", "{x}", "[x]", "'single'", "\"double\"", "trailing \nline\n", "crlf\r\nline", "a\n\n\nb", "\n",
		strings.Repeat("a long line of words ", 10)} {
		data["k"+strings.Repeat("x", len(data))] = s
	}
	obj["spec"] = map[string]any{"replicas": int64(3), "ratio": 0.5, "on": true, "none": nil,
		"list": []any{"a", int64(1), map[string]any{"port": int64(80), "name": "http"}}}
	out, err := encodeObject(obj)
	if err != nil {
		t.Fatal(err)
	}
	text := string(out)
	for _, want := range []string{"enabled: \"true\"", "count: \"3\"", "config.yaml: |", "replicas: 3", "ratio: 0.5", "\"on\": true",
		": \"on\"\n", ": \"yes\"\n", ": \"n\"\n", "- name: http\n    port: 80\n"} {
		if !strings.Contains(text, want) {
			t.Errorf("lacks %q:\n%s", want, text)
		}
	}
	if !strings.HasPrefix(text, "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm-1\n  namespace: ns\n  labels:\n") {
		t.Errorf("order:\n%s", text)
	}
	if i, j := strings.Index(text, "\ndata:"), strings.Index(text, "\nspec:"); i < 0 || j < 0 || j > i {
		t.Errorf("spec does not come before data:\n%s", text)
	}
	want, err := json.Marshal(obj)
	if err != nil {
		t.Fatal(err)
	}
	var wantBack map[string]any
	if err := json.Unmarshal(want, &wantBack); err != nil {
		t.Fatal(err)
	}
	if back := readAsKubectl(t, out); !reflect.DeepEqual(back, wantBack) {
		t.Errorf("kubectl reads back\n%v\nwant\n%v\nfrom:\n%s", back, wantBack, text)
	}
}

// Generated documents keep the order given, and lists of pairs are
// mappings.
func TestEncodePairs(t *testing.T) {
	got := string(encodePairs(pairs{
		{"apiVersion", "kustomize.config.k8s.io/v1beta1"},
		{"kind", "Kustomization"},
		{"resources", []any{"../base"}},
		{"labels", []any{pairs{{"pairs", pairs{{"kbackup.io/environment", "on"}}}, {"includeSelectors", false}}}},
	}))
	want := `apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
resources:
- ../base
labels:
- pairs:
    kbackup.io/environment: "on"
  includeSelectors: false
`
	if got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
}
