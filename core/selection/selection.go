// Package selection is what users select objects by, for backup, restore,
// diff and export alike: one Selection type (namespaces by name or shell
// pattern, resource types in any form, a label selector, which
// cluster-scoped objects come along) with its validation, compiled into a
// Matcher that every operation applies the same way, and the rules that
// find the cluster-scoped objects a namespace needs (Related).
//
// It reads no cluster and no repository: type names are resolved by a
// TypeResolver that the caller gives (core/catalog resolves them against a
// cluster's discovery and a backup's manifest, in one order).
package selection

import (
	"fmt"
	"path"
	"slices"
	"strings"

	"k8s.io/apimachinery/pkg/labels"
)

// Namespaces selects namespaces by name or shell pattern (path.Match): a
// namespace is selected when an include pattern matches it (or none is
// given) and no exclude pattern does.
type Namespaces struct {
	include, exclude []string
}

// NewNamespaces checks the patterns and returns the selection.
func NewNamespaces(include, exclude []string) (Namespaces, error) {
	for _, p := range slices.Concat(include, exclude) {
		if _, err := path.Match(p, ""); err != nil {
			return Namespaces{}, fmt.Errorf("namespace pattern %q: %w; use a name or a shell pattern like team-*", p, err)
		}
	}
	return Namespaces{include: include, exclude: exclude}, nil
}

// Match reports whether namespace is selected.
func (n Namespaces) Match(namespace string) bool {
	match := func(patterns []string) bool {
		return slices.ContainsFunc(patterns, func(p string) bool {
			ok, _ := path.Match(p, namespace)
			return ok
		})
	}
	if len(n.include) > 0 && !match(n.include) {
		return false
	}
	return !match(n.exclude)
}

// All reports whether every namespace is included (some may still be
// excluded): a whole-cluster selection.
func (n Namespaces) All() bool {
	return len(n.include) == 0 || slices.Contains(n.include, "*")
}

// Exact returns the included namespaces when they are plain names (no
// patterns), at most max of them, less the excluded ones: reading those
// namespaces one by one can be cheaper than reading the whole cluster.
func (n Namespaces) Exact(max int) ([]string, bool) {
	if n.All() || len(n.include) > max {
		return nil, false
	}
	var names []string
	for _, p := range n.include {
		if strings.ContainsAny(p, `*?[\`) {
			return nil, false
		}
		if n.Match(p) {
			names = append(names, p)
		}
	}
	slices.Sort(names)
	return slices.Compact(names), true
}

// Named returns the included namespaces written as plain names, not
// patterns, less the excluded ones: a name someone typed, which a backup
// either holds or not.
func (n Namespaces) Named() []string {
	var names []string
	for _, p := range n.include {
		if !strings.ContainsAny(p, `*?[\`) && n.Match(p) {
			names = append(names, p)
		}
	}
	slices.Sort(names)
	return slices.Compact(names)
}

const labelSelectorHint = "key=value, key!=value, key in (a,b) or key, joined by commas"

// ParseLabelSelector parses a label selector ("" selects everything).
func ParseLabelSelector(s string) (labels.Selector, error) {
	if s == "" {
		return labels.Everything(), nil
	}
	sel, err := labels.Parse(s)
	if err != nil {
		return nil, fmt.Errorf("label selector %q: %w; use %s", s, err, labelSelectorHint)
	}
	return sel, nil
}
