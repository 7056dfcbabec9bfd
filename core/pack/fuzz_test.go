package pack

import (
	"fmt"
	"math"
	"reflect"
	"strings"
	"testing"
)

// FuzzPackRoundTrip checks that a pack gives back exactly the values it was
// built from: strings byte for byte, integers as the same int64 (not
// rounded through float64), floats as the same number, names in order.
func FuzzPackRoundTrip(f *testing.F) {
	f.Add("web", "config.yaml", "a: 1\n", int64(9007199254740993), 0.5, true)
	f.Add("a", "", "", int64(math.MinInt64), math.MaxFloat64, false)
	f.Add("z-1", "yes", "null", int64(math.MaxInt64), 1e21, true)
	f.Add("ns.name", "0123", "line\n---\nnot a separator\n", int64(-1), -0.0, false)
	f.Add("x", "k", "\xff invalid", int64(1<<53+1), 3.0, true)
	f.Add("ünï", "~", "'single' \"double\" \r\n", int64(0), 5e-324, false)
	f.Fuzz(func(t *testing.T, name, key, value string, n int64, x float64, labels bool) {
		// The API server serves valid UTF-8 JSON, finite numbers, and
		// non-empty names; that is what a pack is built from.
		name, key, value = strings.ToValidUTF8(name, "\uFFFD"), strings.ToValidUTF8(key, "\uFFFD"), strings.ToValidUTF8(value, "\uFFFD")
		if name == "" {
			name = "unnamed"
		}
		if math.IsNaN(x) || math.IsInf(x, 0) {
			x = math.MaxFloat64
		}
		objects := []map[string]any{
			object(name+"-b", key, value, n, x, labels),
			object(name, key, value, -n, -x, !labels),
		}
		var docs []Document
		for _, o := range objects {
			d, err := EncodeMap(deepCopyJSON(o).(map[string]any))
			if err != nil {
				t.Fatalf("EncodeMap: %v", err)
			}
			docs = append(docs, d)
		}
		content, names, err := Build(docs)
		if err != nil {
			t.Fatal(err)
		}
		if want := []string{name, name + "-b"}; !reflect.DeepEqual(names, want) {
			t.Fatalf("names %q, want %q", names, want)
		}
		decoded, err := Decode(content)
		if err != nil {
			t.Fatalf("Decode: %v\n%s", err, content)
		}
		if len(decoded) != 2 {
			t.Fatalf("%d objects decoded, want 2:\n%s", len(decoded), content)
		}
		for i, want := range []map[string]any{objects[1], objects[0]} {
			if diff := sameValue("", want, decoded[i].Object); diff != "" {
				t.Errorf("object %d comes back changed: %s\npack:\n%s", i, diff, content)
			}
		}
	})
}

func object(name, key, value string, n int64, x float64, labels bool) map[string]any {
	meta := map[string]any{"name": name, "namespace": "fuzz"}
	if labels {
		meta["labels"] = map[string]any{"app": value}
	}
	return map[string]any{
		"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta,
		"data": map[string]any{key: value, "n": fmt.Sprint(n)},
		"spec": map[string]any{"int": n, "float": x, "list": []any{n, value, x, true, nil}},
	}
}

// deepCopyJSON copies a tree of maps and lists, since EncodeMap changes its
// argument.
func deepCopyJSON(v any) any {
	switch v := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(v))
		for k, e := range v {
			out[k] = deepCopyJSON(e)
		}
		return out
	case []any:
		out := make([]any, len(v))
		for i, e := range v {
			out[i] = deepCopyJSON(e)
		}
		return out
	}
	return v
}

// sameValue compares what was built with what was decoded and describes the
// first difference. Integers must come back as int64 of the same value; a
// float may come back as an int64 when it is a whole number (JSON does not
// tell 3.0 from 3), but as the same number.
func sameValue(path string, want, got any) string {
	switch w := want.(type) {
	case map[string]any:
		g, ok := got.(map[string]any)
		if !ok || len(g) != len(w) {
			return fmt.Sprintf("%s: %#v, want %#v", path, got, want)
		}
		for k, wv := range w {
			gv, ok := g[k]
			if !ok {
				return fmt.Sprintf("%s.%s: missing", path, k)
			}
			if d := sameValue(path+"."+k, wv, gv); d != "" {
				return d
			}
		}
		return ""
	case []any:
		g, ok := got.([]any)
		if !ok || len(g) != len(w) {
			return fmt.Sprintf("%s: %#v, want %#v", path, got, want)
		}
		for i := range w {
			if d := sameValue(fmt.Sprintf("%s[%d]", path, i), w[i], g[i]); d != "" {
				return d
			}
		}
		return ""
	case int64:
		if g, ok := got.(int64); !ok || g != w {
			return fmt.Sprintf("%s: %#v (%T), want int64 %d", path, got, got, w)
		}
		return ""
	case float64:
		switch g := got.(type) {
		case float64:
			if g == w {
				return ""
			}
		case int64:
			if w == math.Trunc(w) && float64(g) == w {
				return ""
			}
		}
		return fmt.Sprintf("%s: %#v (%T), want float64 %v", path, got, got, w)
	}
	if !reflect.DeepEqual(want, got) {
		return fmt.Sprintf("%s: %#v, want %#v", path, got, want)
	}
	return ""
}
