// Package diff compares backups with the live cluster and with each other,
// object by object, after the cleaning of core/clean, and writes what
// differs as unified diffs of YAML with a summary per namespace and type.
package diff

import (
	"fmt"
	"strings"

	"github.com/pmezard/go-difflib/difflib"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"
)

// DefaultContext is the number of unchanged lines around each change.
const DefaultContext = 3

// YAML renders an object as diffs show it: YAML with sorted keys. nil is
// the empty text.
func YAML(obj *unstructured.Unstructured) (string, error) {
	if obj == nil {
		return "", nil
	}
	data, err := yaml.Marshal(obj.Object)
	if err != nil {
		return "", fmt.Errorf("rendering %s %s/%s as YAML: %w", obj.GetKind(), obj.GetNamespace(), obj.GetName(), err)
	}
	return string(data), nil
}

// Objects returns the unified diff from a to b, labelled with fromName and
// toName, and whether they differ. Either may be nil: the other is then all
// added or all removed. Objects are compared as YAML text, so two objects
// are equal exactly when they render the same. The values of a Secret
// never appear: they are masked (maskSecrets), and the diff says which
// keys differ.
func Objects(a, b *unstructured.Unstructured, fromName, toName string, context int) (string, bool, error) {
	a, b = maskSecrets(a, b)
	from, err := YAML(a)
	if err != nil {
		return "", false, err
	}
	to, err := YAML(b)
	if err != nil {
		return "", false, err
	}
	if from == to {
		return "", false, nil
	}
	if context < 0 {
		context = DefaultContext
	}
	text, err := difflib.GetUnifiedDiffString(difflib.UnifiedDiff{
		A:        splitLines(from),
		B:        splitLines(to),
		FromFile: fromName,
		ToFile:   toName,
		Context:  context,
	})
	if err != nil {
		return "", true, fmt.Errorf("diffing %s: %w", fromName, err)
	}
	return text, true, nil
}

// splitLines splits YAML text into lines, each with its newline. Unlike
// difflib.SplitLines it adds no empty last line, so that the diff of an
// added or removed object is its lines alone, with no blank context line.
func splitLines(s string) []string {
	if s == "" {
		return nil
	}
	lines := strings.SplitAfter(s, "\n")
	if lines[len(lines)-1] == "" {
		return lines[:len(lines)-1]
	}
	lines[len(lines)-1] += "\n"
	return lines
}
