package selection

import (
	"slices"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

func object(kind, namespace, name string, fields map[string]any) *unstructured.Unstructured {
	o := &unstructured.Unstructured{Object: fields}
	if o.Object == nil {
		o.Object = map[string]any{}
	}
	o.SetKind(kind)
	o.SetNamespace(namespace)
	o.SetName(name)
	return o
}

// Each kind of need brings its cluster-scoped object, and nothing else
// comes along.
func TestRelated(t *testing.T) {
	namespaced := []Object{
		{"deployments.apps", object("Deployment", "shop", "api", map[string]any{"spec": map[string]any{"template": map[string]any{"spec": map[string]any{
			"priorityClassName": "shop-critical", "runtimeClassName": "gvisor"}}}})},
		{"persistentvolumeclaims", object("PersistentVolumeClaim", "shop", "data", map[string]any{"spec": map[string]any{"storageClassName": "fast"}})},
		{"statefulsets.apps", object("StatefulSet", "shop", "db", map[string]any{"spec": map[string]any{"volumeClaimTemplates": []any{
			map[string]any{"spec": map[string]any{"storageClassName": "slow"}}}}})},
		{"ingresses.networking.k8s.io", object("Ingress", "shop", "web", map[string]any{"spec": map[string]any{"ingressClassName": "nginx"}})},
		{"rolebindings.rbac.authorization.k8s.io", object("RoleBinding", "shop", "read", map[string]any{"roleRef": map[string]any{"kind": "ClusterRole", "name": "view"}})},
		{"widgets.example.io", object("Widget", "shop", "w", nil)},
	}
	cluster := []Object{
		{"priorityclasses.scheduling.k8s.io", object("PriorityClass", "", "shop-critical", nil)},
		{"priorityclasses.scheduling.k8s.io", object("PriorityClass", "", "other", nil)},
		{"runtimeclasses.node.k8s.io", object("RuntimeClass", "", "gvisor", nil)},
		{"storageclasses.storage.k8s.io", object("StorageClass", "", "fast", nil)},
		{"storageclasses.storage.k8s.io", object("StorageClass", "", "slow", nil)},
		{"storageclasses.storage.k8s.io", object("StorageClass", "", "unused", nil)},
		{"ingressclasses.networking.k8s.io", object("IngressClass", "", "nginx", nil)},
		{"persistentvolumes", object("PersistentVolume", "", "pv-data", map[string]any{"spec": map[string]any{"claimRef": map[string]any{"namespace": "shop", "name": "data"}}})},
		{"persistentvolumes", object("PersistentVolume", "", "pv-other", map[string]any{"spec": map[string]any{"claimRef": map[string]any{"namespace": "other", "name": "data"}}})},
		{"customresourcedefinitions.apiextensions.k8s.io", object("CustomResourceDefinition", "", "widgets.example.io", map[string]any{"spec": map[string]any{"group": "example.io", "names": map[string]any{"plural": "widgets"}}})},
		{"customresourcedefinitions.apiextensions.k8s.io", object("CustomResourceDefinition", "", "gadgets.example.io", map[string]any{"spec": map[string]any{"group": "example.io", "names": map[string]any{"plural": "gadgets"}}})},
		{"clusterrolebindings.rbac.authorization.k8s.io", object("ClusterRoleBinding", "", "shop-admin", map[string]any{
			"roleRef": map[string]any{"kind": "ClusterRole", "name": "admin"}, "subjects": []any{map[string]any{"kind": "ServiceAccount", "namespace": "shop", "name": "ops"}}})},
		{"clusterrolebindings.rbac.authorization.k8s.io", object("ClusterRoleBinding", "", "other-admin", map[string]any{
			"roleRef": map[string]any{"kind": "ClusterRole", "name": "cluster-admin"}, "subjects": []any{map[string]any{"kind": "ServiceAccount", "namespace": "other", "name": "ops"}}})},
		{"clusterroles.rbac.authorization.k8s.io", object("ClusterRole", "", "view", nil)},
		{"clusterroles.rbac.authorization.k8s.io", object("ClusterRole", "", "admin", nil)},
		{"clusterroles.rbac.authorization.k8s.io", object("ClusterRole", "", "cluster-admin", nil)},
	}
	var got []string
	for _, i := range Related(cluster, namespaced, map[string]bool{"shop": true}) {
		got = append(got, cluster[i].Object.GetName())
	}
	slices.Sort(got)
	want := []string{"admin", "fast", "gvisor", "nginx", "pv-data", "shop-admin", "shop-critical", "slow", "view", "widgets.example.io"}
	if !slices.Equal(got, want) {
		t.Errorf("related = %v\nwant      %v", got, want)
	}
}
