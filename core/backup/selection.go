package backup

import (
	"slices"

	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/kbackup/kbackup/core/catalog"
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

// ClusterResources says whether cluster-scoped resources are backed up
// (selection.ClusterResources).
type ClusterResources = selection.ClusterResources

const (
	ClusterResourcesAuto = selection.ClusterResourcesAuto
	ClusterResourcesOn   = selection.ClusterResourcesOn
	ClusterResourcesOff  = selection.ClusterResourcesOff
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

// selectResources picks the types to back up from what discovery found.
// Under ClusterResourcesAuto a namespace backup takes the cluster-scoped
// types named in IncludeResources only: what the namespaces need is known
// only once they are read, so it is restore that narrows cluster-scoped
// objects down to them.
func selectResources(found *kube.Resources, opts Options) (*resourceSelection, error) {
	m, err := opts.Selection.Compile(field.NewPath("spec"), catalog.TypeNames{Discovery: found}.Resolver())
	if err != nil {
		return nil, err
	}
	mode := m.Spec().ClusterResources
	sel := &resourceSelection{
		namespaces:    m.Namespaces(),
		clusterScoped: mode == ClusterResourcesOn || (mode == ClusterResourcesAuto && m.WholeCluster()),
	}
	for _, r := range found.Items {
		name := r.String()
		switch {
		case !m.TypeSelected(name):
			continue
		case !m.HasIncludedTypes() && defaultExcluded(r.GroupResource()):
			sel.excluded = append(sel.excluded, name)
			continue
		case !m.TakesType(name, r.Namespaced, false):
			// Namespace objects go with the namespaces they describe,
			// whatever ClusterResources says: a restore into a new
			// cluster needs them.
			continue
		}
		sel.resources = append(sel.resources, r)
	}
	return sel, nil
}
