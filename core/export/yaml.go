package export

import (
	"bytes"
	"math"
	"slices"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

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
	node, err := orderedNode(obj, topKeys, func(key string, v any) (*yaml.Node, error) {
		if m, ok := v.(map[string]any); ok && key == "metadata" {
			return orderedNode(m, metadataKeys, nil)
		}
		return valueNode(v)
	})
	if err != nil {
		return nil, err
	}
	return encodeNode(node)
}

// orderedNode makes a mapping of m with first's keys first, in that order,
// then the others sorted. child encodes a value (valueNode when nil).
func orderedNode(m map[string]any, first []string, child func(string, any) (*yaml.Node, error)) (*yaml.Node, error) {
	if child == nil {
		child = func(_ string, v any) (*yaml.Node, error) { return valueNode(v) }
	}
	keys := make([]string, 0, len(m))
	for _, k := range first {
		if _, ok := m[k]; ok {
			keys = append(keys, k)
		}
	}
	var rest []string
	for k := range m {
		if !slices.Contains(first, k) {
			rest = append(rest, k)
		}
	}
	slices.Sort(rest)
	keys = append(keys, rest...)
	node := &yaml.Node{Kind: yaml.MappingNode}
	for _, k := range keys {
		v, err := child(k, m[k])
		if err != nil {
			return nil, err
		}
		node.Content = append(node.Content, &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: k}, v)
	}
	return node, nil
}

// pairs is a mapping written in the order given: generated files
// (kustomizations, Applications) read as their documentation shows them.
type pairs []pair

type pair struct {
	key   string
	value any
}

func valueNode(v any) (*yaml.Node, error) {
	switch x := v.(type) {
	case pairs:
		node := &yaml.Node{Kind: yaml.MappingNode}
		for _, p := range x {
			child, err := valueNode(p.value)
			if err != nil {
				return nil, err
			}
			node.Content = append(node.Content, &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: p.key}, child)
		}
		return node, nil
	case []any:
		node := &yaml.Node{Kind: yaml.SequenceNode}
		for _, item := range x {
			child, err := valueNode(item)
			if err != nil {
				return nil, err
			}
			node.Content = append(node.Content, child)
		}
		return node, nil
	case map[string]any:
		// A list item's name first, as people write containers, ports
		// and volumes; the rest sorted.
		return orderedNode(x, nameFirst, nil)
	}
	return scalarNode(v)
}

// scalarNode makes a leaf node directly: yaml.Node.Encode encodes a value
// to text and parses it back, which cost about 300 µs an object here. The
// encoder quotes a !!str whose text would read as another type ("true",
// "3"); a string of several lines is written as a literal block.
func scalarNode(v any) (*yaml.Node, error) {
	switch x := v.(type) {
	case nil:
		return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!null", Value: "null"}, nil
	case string:
		n := &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: x}
		if strings.Contains(x, "\n") {
			n.Style = yaml.LiteralStyle
		}
		return n, nil
	case bool:
		return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!bool", Value: strconv.FormatBool(x)}, nil
	case int64:
		return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!int", Value: strconv.FormatInt(x, 10)}, nil
	case int:
		return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!int", Value: strconv.Itoa(x)}, nil
	case float64:
		if x == math.Trunc(x) && math.Abs(x) < 1<<53 {
			return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!int", Value: strconv.FormatInt(int64(x), 10)}, nil
		}
		return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!float", Value: strconv.FormatFloat(x, 'g', -1, 64)}, nil
	}
	node := &yaml.Node{}
	if err := node.Encode(v); err != nil {
		return nil, err
	}
	return node, nil
}

func encodeNode(node *yaml.Node) ([]byte, error) {
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(node); err != nil {
		return nil, err
	}
	if err := enc.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// encodePairs writes a generated document.
func encodePairs(p pairs) []byte {
	node, err := valueNode(p)
	if err != nil {
		panic(err) // generated documents hold strings, numbers, bools, lists and pairs only
	}
	data, err := encodeNode(node)
	if err != nil {
		panic(err)
	}
	return data
}
