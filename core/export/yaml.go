package export

import (
	"slices"

	"go.yaml.in/yaml/v2"
)

// The export writes YAML with go.yaml.in/yaml/v2, the library behind
// sigs.k8s.io/yaml, which kubectl and Argo CD read manifests with: it
// quotes every string YAML 1.1 would read as something else ("on", "yes",
// "n", "0x1F"), writes several lines as a literal block, lists without
// indenting them under their key and long strings folded at 80 columns, as
// `kubectl get -o yaml` does. go.yaml.in/yaml/v3 left "on" and "yes"
// plain, which kubectl reads as booleans, and took 40 µs an object
// against 25.

// topKeys and metadataKeys are the order Kubernetes documentation writes
// an object's keys in; other keys follow, sorted.
var (
	topKeys      = []string{"apiVersion", "kind", "metadata", "spec", "data", "stringData", "binaryData", "type"}
	metadataKeys = []string{"name", "namespace", "labels", "annotations"}
	nameFirst    = []string{"name"}
)

// encodeObject writes an object as YAML with its keys in documentation
// order at the top and in metadata, sorted below.
func encodeObject(obj map[string]any) ([]byte, error) {
	return yaml.Marshal(ordered(obj, topKeys, true))
}

// ordered is m as a mapping with first's keys first, in that order, then
// the others sorted; top says m is an object, whose metadata has an order
// of its own.
func ordered(m map[string]any, first []string, top bool) yaml.MapSlice {
	out := make(yaml.MapSlice, 0, len(m))
	for _, k := range first {
		if v, ok := m[k]; ok {
			out = append(out, yaml.MapItem{Key: k, Value: orderedValue(v, top && k == "metadata")})
		}
	}
	rest := make([]string, 0, len(m)-len(out))
	for k := range m {
		if !slices.Contains(first, k) {
			rest = append(rest, k)
		}
	}
	slices.Sort(rest)
	for _, k := range rest {
		out = append(out, yaml.MapItem{Key: k, Value: orderedValue(m[k], false)})
	}
	return out
}

// orderedValue orders the mappings in v: a list item's name first, as
// people write containers, ports and volumes, the rest sorted.
func orderedValue(v any, metadata bool) any {
	switch x := v.(type) {
	case map[string]any:
		if metadata {
			return ordered(x, metadataKeys, false)
		}
		return ordered(x, nameFirst, false)
	case []any:
		out := make([]any, len(x))
		for i, item := range x {
			out[i] = orderedValue(item, false)
		}
		return out
	case pairs:
		return x.mapSlice()
	}
	return v
}

// pairs is a mapping written in the order given: generated files
// (kustomizations, Applications) read as their documentation shows them.
type pairs []pair

type pair struct {
	key   string
	value any
}

func (p pairs) mapSlice() yaml.MapSlice {
	out := make(yaml.MapSlice, len(p))
	for i, kv := range p {
		out[i] = yaml.MapItem{Key: kv.key, Value: orderedValue(kv.value, false)}
	}
	return out
}

// encodePairs writes a generated document.
func encodePairs(p pairs) []byte {
	data, err := yaml.Marshal(p.mapSlice())
	if err != nil {
		panic(err) // generated documents hold strings, numbers, bools, lists and pairs only
	}
	return data
}
