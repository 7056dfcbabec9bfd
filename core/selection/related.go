package selection

import (
	"slices"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

var (
	grCRDs                = schema.GroupResource{Group: "apiextensions.k8s.io", Resource: "customresourcedefinitions"}
	grPVs                 = schema.GroupResource{Resource: "persistentvolumes"}
	grPVCs                = schema.GroupResource{Resource: "persistentvolumeclaims"}
	grClusterRoles        = schema.GroupResource{Group: "rbac.authorization.k8s.io", Resource: "clusterroles"}
	grClusterRoleBindings = schema.GroupResource{Group: "rbac.authorization.k8s.io", Resource: "clusterrolebindings"}
	grRoleBindings        = schema.GroupResource{Group: "rbac.authorization.k8s.io", Resource: "rolebindings"}
	grPriorityClasses     = schema.GroupResource{Group: "scheduling.k8s.io", Resource: "priorityclasses"}
	grStorageClasses      = schema.GroupResource{Group: "storage.k8s.io", Resource: "storageclasses"}
	grIngressClasses      = schema.GroupResource{Group: "networking.k8s.io", Resource: "ingressclasses"}
	grRuntimeClasses      = schema.GroupResource{Group: "node.k8s.io", Resource: "runtimeclasses"}
)

// RelatedTypes are the cluster-scoped types whose objects a selection of
// some namespaces takes under ClusterResourcesAuto when the namespaces
// need them (Related says which).
var RelatedTypes = []schema.GroupResource{grCRDs, grPVs, grClusterRoles, grClusterRoleBindings,
	grPriorityClasses, grStorageClasses, grIngressClasses, grRuntimeClasses}

// Object is an object with the type (resource.group) it was read as.
type Object struct {
	Resource string
	Object   *unstructured.Unstructured
}

// Related returns the indices in cluster of the cluster-scoped objects that
// the selected namespaced objects, in the selected namespaces, need: the
// CustomResourceDefinitions of their custom resources, the
// PersistentVolumes their claims are bound to, the ClusterRoleBindings with
// a subject in them, the ClusterRoles those and their RoleBindings bind,
// and the PriorityClasses, RuntimeClasses, StorageClasses and
// IngressClasses their objects name.
func Related(cluster, namespaced []Object, namespaces map[string]bool) []int {
	needs := NewRelatedNeeds()
	for _, c := range namespaced {
		needs.Add(c)
	}
	var out []int
	// Bindings first: they decide which ClusterRoles come.
	for i, c := range cluster {
		if schema.ParseGroupResource(c.Resource) == grClusterRoleBindings && needs.Take(c, namespaces) {
			out = append(out, i)
		}
	}
	for i, c := range cluster {
		if schema.ParseGroupResource(c.Resource) != grClusterRoleBindings && needs.Take(c, namespaces) {
			out = append(out, i)
		}
	}
	return out
}

// RelatedNeeds is Related one object at a time, for a caller that cannot
// hold every object at once (a restore reads a backup a pack at a time):
// Add every selected namespaced object, then offer each cluster-scoped
// object to Take, every ClusterRoleBinding before any ClusterRole.
type RelatedNeeds struct {
	types        map[string]bool
	claims       map[string]bool
	clusterRoles map[string]bool
	classes      map[schema.GroupResource]map[string]bool
}

// NewRelatedNeeds returns needs with nothing added.
func NewRelatedNeeds() *RelatedNeeds {
	return &RelatedNeeds{types: map[string]bool{}, claims: map[string]bool{}, clusterRoles: map[string]bool{},
		classes: map[schema.GroupResource]map[string]bool{}}
}

// Add records what a selected namespaced object needs.
func (n *RelatedNeeds) Add(c Object) {
	n.types[c.Resource] = true
	classNames(c.Object, n.classes)
	switch schema.ParseGroupResource(c.Resource) {
	case grPVCs:
		n.claims[c.Object.GetNamespace()+"/"+c.Object.GetName()] = true
	case grRoleBindings:
		if name, ok := boundClusterRole(c.Object); ok {
			n.clusterRoles[name] = true
		}
	}
}

// Take reports whether the selected namespaces need a cluster-scoped
// object. A ClusterRoleBinding with a subject in namespaces is taken, and
// the ClusterRole it binds is needed from then on.
func (n *RelatedNeeds) Take(c Object, namespaces map[string]bool) bool {
	gr := schema.ParseGroupResource(c.Resource)
	switch gr {
	case grClusterRoleBindings:
		subjects, _, _ := unstructured.NestedSlice(c.Object.Object, "subjects")
		if !slices.ContainsFunc(subjects, func(s any) bool {
			subject, _ := s.(map[string]any)
			ns, _ := subject["namespace"].(string)
			return ns != "" && namespaces[ns]
		}) {
			return false
		}
		if name, ok := boundClusterRole(c.Object); ok {
			n.clusterRoles[name] = true
		}
		return true
	case grPriorityClasses, grStorageClasses, grIngressClasses, grRuntimeClasses:
		return n.classes[gr][c.Object.GetName()]
	case grCRDs:
		group, _, _ := unstructured.NestedString(c.Object.Object, "spec", "group")
		plural, _, _ := unstructured.NestedString(c.Object.Object, "spec", "names", "plural")
		return n.types[plural+"."+group]
	case grPVs:
		ns, _, _ := unstructured.NestedString(c.Object.Object, "spec", "claimRef", "namespace")
		name, _, _ := unstructured.NestedString(c.Object.Object, "spec", "claimRef", "name")
		return n.claims[ns+"/"+name]
	case grClusterRoles:
		return n.clusterRoles[c.Object.GetName()]
	}
	return false
}

// boundClusterRole returns the ClusterRole a (Cluster)RoleBinding binds.
func boundClusterRole(binding *unstructured.Unstructured) (string, bool) {
	if kind, _, _ := unstructured.NestedString(binding.Object, "roleRef", "kind"); kind != "ClusterRole" {
		return "", false
	}
	name, _, _ := unstructured.NestedString(binding.Object, "roleRef", "name")
	return name, true
}

// podSpecPaths are where pod specs sit in the workload kinds.
var podSpecPaths = map[string][]string{
	"Pod":                   {"spec"},
	"Deployment":            {"spec", "template", "spec"},
	"ReplicaSet":            {"spec", "template", "spec"},
	"StatefulSet":           {"spec", "template", "spec"},
	"DaemonSet":             {"spec", "template", "spec"},
	"Job":                   {"spec", "template", "spec"},
	"ReplicationController": {"spec", "template", "spec"},
	"CronJob":               {"spec", "jobTemplate", "spec", "template", "spec"},
}

// classNames collects the cluster-scoped classes an object names: the
// priority and runtime classes of its pods, the storage classes of its
// claims, the ingress class of an Ingress.
func classNames(obj *unstructured.Unstructured, names map[schema.GroupResource]map[string]bool) {
	add := func(gr schema.GroupResource, from map[string]any, fields ...string) {
		if name, _, _ := unstructured.NestedString(from, fields...); name != "" {
			if names[gr] == nil {
				names[gr] = map[string]bool{}
			}
			names[gr][name] = true
		}
	}
	if spec, ok := podSpecPaths[obj.GetKind()]; ok {
		add(grPriorityClasses, obj.Object, append(slices.Clone(spec), "priorityClassName")...)
		add(grRuntimeClasses, obj.Object, append(slices.Clone(spec), "runtimeClassName")...)
	}
	switch obj.GetKind() {
	case "PersistentVolumeClaim":
		add(grStorageClasses, obj.Object, "spec", "storageClassName")
	case "StatefulSet":
		templates, _, _ := unstructured.NestedSlice(obj.Object, "spec", "volumeClaimTemplates")
		for _, t := range templates {
			tmpl, _ := t.(map[string]any)
			add(grStorageClasses, tmpl, "spec", "storageClassName")
		}
	case "Ingress":
		add(grIngressClasses, obj.Object, "spec", "ingressClassName")
	}
}
