package export

import (
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
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

// Values that would read as other types are quoted, several lines are a
// literal block, and the result reads back as the object.
func TestEncodeObjectRoundTrip(t *testing.T) {
	obj := configMap()
	obj["data"].(map[string]any)["empty"] = ""
	obj["data"].(map[string]any)["spaces"] = "trailing \nline\n"
	obj["data"].(map[string]any)["null"] = "null"
	obj["spec"] = map[string]any{"replicas": int64(3), "ratio": 0.5, "on": true, "none": nil, "list": []any{"a", int64(1)}}
	data, err := encodeObject(obj)
	if err != nil {
		t.Fatal(err)
	}
	text := string(data)
	for _, want := range []string{"enabled: \"true\"", "count: \"3\"", "config.yaml: |", "\"null\": \"null\"", "replicas: 3", "ratio: 0.5", "on: true"} {
		if !strings.Contains(text, want) {
			t.Errorf("lacks %q:\n%s", want, text)
		}
	}
	if !strings.HasPrefix(text, "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm-1\n  namespace: ns\n") {
		t.Errorf("order:\n%s", text)
	}
	back := map[string]any{}
	if err := yaml.Unmarshal(data, &back); err != nil {
		t.Fatal(err)
	}
	for k, v := range obj["data"].(map[string]any) {
		if back["data"].(map[string]any)[k] != v {
			t.Errorf("data %s: %q, want %q", k, back["data"].(map[string]any)[k], v)
		}
	}
	spec := back["spec"].(map[string]any)
	if spec["replicas"] != 3 || spec["ratio"] != 0.5 || spec["on"] != true || spec["none"] != nil {
		t.Errorf("spec read back: %v", spec)
	}
}
