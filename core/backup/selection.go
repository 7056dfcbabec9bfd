package backup

import (
	"fmt"
	"path"
	"slices"
	"strings"

	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/kbackup/kbackup/core/kube"
)

// DefaultExclusions are the resource types a backup leaves out unless they
// are asked for by name in IncludeResources. Each is here for a reason:
var DefaultExclusions = []ExcludedResource{
	{schema.GroupResource{Resource: "events"}, "events are a log of the past, recreated by the cluster, and no cluster takes them back"},
	{schema.GroupResource{Group: "events.k8s.io", Resource: "events"}, "the same events through the events.k8s.io API"},
	{schema.GroupResource{Group: "coordination.k8s.io", Resource: "leases"}, "node heartbeats and leader elections renew every few seconds: they would change every backup and mean nothing after a restore"},
	{schema.GroupResource{Group: "coordination.k8s.io", Resource: "leasecandidates"}, "leader election candidacies, renewed like leases"},
	{schema.GroupResource{Resource: "componentstatuses"}, "computed health reports of control-plane components, not stored objects; no cluster can create them"},
}

// ExcludedResource is a resource type left out of backups by default.
type ExcludedResource struct {
	GroupResource schema.GroupResource
	Reason        string
}

func defaultExcluded(gr schema.GroupResource) bool {
	return slices.ContainsFunc(DefaultExclusions, func(e ExcludedResource) bool { return e.GroupResource == gr })
}

// ClusterResources says whether cluster-scoped resources are backed up.
type ClusterResources string

const (
	// ClusterResourcesAuto backs up cluster-scoped resources when every
	// namespace is selected (IncludeNamespaces empty or "*"), as a whole
	// cluster backup should, and leaves them out of a namespace backup.
	ClusterResourcesAuto ClusterResources = "auto"
	ClusterResourcesOn   ClusterResources = "on"
	ClusterResourcesOff  ClusterResources = "off"
)

// namespaceFilter selects namespaces by name with shell patterns (path.Match):
// included when an include pattern matches (or none is given) and no
// exclude pattern does.
type namespaceFilter struct {
	include, exclude []string
}

func newNamespaceFilter(include, exclude []string) (namespaceFilter, error) {
	for _, p := range slices.Concat(include, exclude) {
		if _, err := path.Match(p, ""); err != nil {
			return namespaceFilter{}, fmt.Errorf("namespace pattern %q: %w; use a name or a shell pattern like team-*", p, err)
		}
	}
	return namespaceFilter{include: include, exclude: exclude}, nil
}

func (f namespaceFilter) matches(namespace string) bool {
	match := func(patterns []string) bool {
		return slices.ContainsFunc(patterns, func(p string) bool {
			ok, _ := path.Match(p, namespace)
			return ok
		})
	}
	if len(f.include) > 0 && !match(f.include) {
		return false
	}
	return !match(f.exclude)
}

// allNamespaces reports whether the filter includes every namespace (it may
// still exclude some).
func (f namespaceFilter) allNamespaces() bool {
	return len(f.include) == 0 || slices.Contains(f.include, "*")
}

// exactNamespaces returns the included namespaces when they are plain names
// (no patterns) and no more than max of them: listing those namespaces one
// by one is cheaper than listing the whole cluster.
func (f namespaceFilter) exactNamespaces(max int) ([]string, bool) {
	if f.allNamespaces() || len(f.include) > max {
		return nil, false
	}
	var names []string
	for _, p := range f.include {
		if strings.ContainsAny(p, `*?[\`) {
			return nil, false
		}
		if f.matches(p) {
			names = append(names, p)
		}
	}
	slices.Sort(names)
	return slices.Compact(names), true
}

// selection is what a backup reads.
type selection struct {
	resources  []kube.Resource
	namespaces namespaceFilter
	// excluded lists the types left out by default, for the manifest.
	excluded []string
	// clusterScoped says whether cluster-scoped types (other than
	// namespaces) are taken as a whole.
	clusterScoped bool
}

var namespacesResource = schema.GroupResource{Resource: "namespaces"}

// selectResources picks the types to back up from what discovery found.
func selectResources(found *kube.Resources, opts Options) (*selection, error) {
	nsFilter, err := newNamespaceFilter(opts.IncludeNamespaces, opts.ExcludeNamespaces)
	if err != nil {
		return nil, err
	}
	included := map[schema.GroupResource]bool{}
	if len(opts.IncludeResources) > 0 {
		rs, err := found.ResolveAll(opts.IncludeResources)
		if err != nil {
			return nil, fmt.Errorf("--include-resources: %w", err)
		}
		for _, r := range rs {
			included[r.GroupResource()] = true
		}
	}
	excluded := map[schema.GroupResource]bool{}
	if len(opts.ExcludeResources) > 0 {
		rs, err := found.ResolveAll(opts.ExcludeResources)
		if err != nil {
			return nil, fmt.Errorf("--exclude-resources: %w", err)
		}
		for _, r := range rs {
			excluded[r.GroupResource()] = true
		}
	}

	mode := opts.ClusterResources
	if mode == "" {
		mode = ClusterResourcesAuto
	}
	if mode != ClusterResourcesAuto && mode != ClusterResourcesOn && mode != ClusterResourcesOff {
		return nil, fmt.Errorf("cluster resources %q: use auto, on or off", mode)
	}
	// wantClusterScoped decides for a cluster-scoped type other than
	// namespaces. Auto takes them all for a whole-cluster backup, and for a
	// namespace backup only those named in IncludeResources.
	wantClusterScoped := func(gr schema.GroupResource) bool {
		switch mode {
		case ClusterResourcesOn:
			return true
		case ClusterResourcesOff:
			return false
		}
		return nsFilter.allNamespaces() || included[gr]
	}

	sel := &selection{namespaces: nsFilter, clusterScoped: mode == ClusterResourcesOn || (mode == ClusterResourcesAuto && nsFilter.allNamespaces())}
	for _, r := range found.Items {
		gr := r.GroupResource()
		switch {
		case excluded[gr]:
			continue
		case len(included) > 0 && !included[gr]:
			continue
		case len(included) == 0 && defaultExcluded(gr):
			sel.excluded = append(sel.excluded, r.String())
			continue
		}
		// Namespace objects go with the namespaces they describe, whatever
		// ClusterResources says: a restore into a new cluster needs them.
		if !r.Namespaced && gr != namespacesResource && !wantClusterScoped(gr) {
			continue
		}
		sel.resources = append(sel.resources, r)
	}
	return sel, nil
}
