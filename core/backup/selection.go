package backup

import (
	"slices"
	"strings"

	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/kbackup/kbackup/core/fleet"
	"github.com/kbackup/kbackup/core/kube"
	"github.com/kbackup/kbackup/core/selection"
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
type ClusterResources = fleet.ClusterResources

const (
	// ClusterResourcesAuto backs up cluster-scoped resources when every
	// namespace is selected (IncludeNamespaces empty or "*"), as a whole
	// cluster backup should, and leaves them out of a namespace backup.
	ClusterResourcesAuto ClusterResources = "auto"
	ClusterResourcesOn   ClusterResources = "on"
	ClusterResourcesOff  ClusterResources = "off"
)

// resourceSelection is what a backup reads.
type resourceSelection struct {
	resources  []kube.Resource
	namespaces selection.Namespaces
	// excluded lists the types left out by default, for the manifest.
	excluded []string
	// clusterScoped says whether cluster-scoped types (other than
	// namespaces) are taken as a whole.
	clusterScoped bool
}

var namespacesResource = schema.GroupResource{Resource: "namespaces"}

// selectResources picks the types to back up from what discovery found.
func selectResources(found *kube.Resources, opts Options) (*resourceSelection, error) {
	nsFilter, err := selection.NewNamespaces(opts.IncludeNamespaces, opts.ExcludeNamespaces)
	if err != nil {
		return nil, err
	}
	included := map[schema.GroupResource]bool{}
	if len(opts.IncludeResources) > 0 {
		rs, err := found.ResolveAll(opts.IncludeResources)
		if err != nil {
			return nil, field.Invalid(field.NewPath("spec", "include_resources"), strings.Join(opts.IncludeResources, ","), err.Error())
		}
		for _, r := range rs {
			included[r.GroupResource()] = true
		}
	}
	excluded := map[schema.GroupResource]bool{}
	if len(opts.ExcludeResources) > 0 {
		rs, err := found.ResolveAll(opts.ExcludeResources)
		if err != nil {
			return nil, field.Invalid(field.NewPath("spec", "exclude_resources"), strings.Join(opts.ExcludeResources, ","), err.Error())
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
		return nil, field.NotSupported(field.NewPath("spec", "cluster_resources"), mode, []ClusterResources{ClusterResourcesAuto, ClusterResourcesOn, ClusterResourcesOff})
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
		return nsFilter.All() || included[gr]
	}

	sel := &resourceSelection{namespaces: nsFilter, clusterScoped: mode == ClusterResourcesOn || (mode == ClusterResourcesAuto && nsFilter.All())}
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
