package kube

import (
	"errors"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// The node labels and provider IDs of each distribution, as their nodes
// carry them, give its provider and distribution; a provider ID outranks a
// label, a version suffix outranks both.
func TestNodeHints(t *testing.T) {
	t.Parallel()
	node := func(providerID string, labels map[string]string) *corev1.Node {
		return &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "n1", Labels: labels}, Spec: corev1.NodeSpec{ProviderID: providerID}}
	}
	for _, tc := range []struct {
		name                   string
		node                   *corev1.Node
		gitVersion             string
		provider, distribution string
	}{
		{"aks", node("azure:///subscriptions/s/resourceGroups/mc_rg_aks_westeurope/providers/Microsoft.Compute/virtualMachineScaleSets/aks-pool-1/virtualMachines/0",
			map[string]string{"kubernetes.azure.com/cluster": "MC_rg_aks_westeurope", "kubernetes.azure.com/agentpool": "pool"}), "v1.30.4", ProviderAzure, DistributionAKS},
		{"gke", node("gce://proj/europe-west1-b/gke-pool-1", map[string]string{"cloud.google.com/gke-nodepool": "default-pool"}), "v1.30.5-gke.1014001", ProviderGCP, DistributionGKE},
		{"eks by labels only", node("", map[string]string{"eks.amazonaws.com/nodegroup": "ng"}), "v1.30.4", ProviderAWS, DistributionEKS},
		{"kind", node("kind://docker/dev/dev-control-plane", nil), "v1.30.4", ProviderUnknown, DistributionKind},
		{"minikube", node("", map[string]string{"minikube.k8s.io/name": "minikube"}), "v1.30.4", ProviderUnknown, DistributionMinikube},
		{"k3s", node("k3s://n1", map[string]string{"node.kubernetes.io/instance-type": "k3s"}), "v1.30.4+k3s1", ProviderUnknown, DistributionK3s},
		{"rke2 on aws", node("aws:///eu-west-1a/i-1", map[string]string{"node.kubernetes.io/instance-type": "rke2"}), "v1.30.4+rke2r1", ProviderAWS, DistributionRKE2},
		{"other instance type", node("", map[string]string{"node.kubernetes.io/instance-type": "m5.large"}), "v1.30.4", ProviderUnknown, DistributionKubernetes},
		{"doks", node("digitalocean://1234", map[string]string{"doks.digitalocean.com/node-pool": "pool"}), "v1.30.4", ProviderDigitalOcean, DistributionDOKS},
	} {
		d := &detection{id: &Identity{}}
		d.fromNodeHints(tc.node)
		d.fromVersion(tc.gitVersion)
		id := d.result()
		if id.Provider != tc.provider || id.Distribution != tc.distribution {
			t.Errorf("%s: provider %q, distribution %q; want %q, %q (sources %v)", tc.name, id.Provider, id.Distribution, tc.provider, tc.distribution, id.Sources)
		}
	}
}

// Of the seed's label keys the first present wins, and a value with no
// usable characters is passed over.
func TestNameLabelsOrder(t *testing.T) {
	t.Parallel()
	d := &detection{id: &Identity{}}
	d.fromLabels("namespace kube-system", map[string]string{
		"container.googleapis.com/cluster_name": "gke-name",
		"gardener.cloud/shoot-name":             "shoot",
		"cluster-name":                          "___",
	}, rankNamespaceLabel)
	id := d.result()
	if id.Name != "shoot" || id.NameSource != "label gardener.cloud/shoot-name on namespace kube-system" {
		t.Errorf("name %q from %q", id.Name, id.NameSource)
	}
}

// A resource that the preferred version does not serve is taken from the
// next version that does; the core group comes first whatever the input
// order of versions; failed group versions are passed on.
func TestNewResourcesVersionSelection(t *testing.T) {
	t.Parallel()
	rw := metav1.Verbs{"get", "list", "watch", "create"}
	groups := []*metav1.APIGroup{
		{Name: "", Versions: []metav1.GroupVersionForDiscovery{{GroupVersion: "v1", Version: "v1"}}, PreferredVersion: metav1.GroupVersionForDiscovery{Version: "v1"}},
		{Name: "example.io", Versions: []metav1.GroupVersionForDiscovery{{Version: "v2"}, {Version: "v1"}, {Version: "v1beta1"}}, PreferredVersion: metav1.GroupVersionForDiscovery{Version: "v2"}},
	}
	lists := []*metav1.APIResourceList{
		{GroupVersion: "example.io/v1beta1", APIResources: []metav1.APIResource{{Name: "gadgets", Kind: "Gadget", Verbs: rw}, {Name: "legacy", Kind: "Legacy", Verbs: rw}}},
		{GroupVersion: "example.io/v1", APIResources: []metav1.APIResource{{Name: "gadgets", Kind: "Gadget", Verbs: rw}, {Name: "legacy", Kind: "Legacy", Verbs: rw}}},
		{GroupVersion: "example.io/v2", APIResources: []metav1.APIResource{{Name: "gadgets", Kind: "Gadget", Verbs: rw}, {Name: "gadgets/status", Kind: "Gadget", Verbs: metav1.Verbs{"get", "list"}}}},
		{GroupVersion: "v1", APIResources: []metav1.APIResource{{Name: "pods", Kind: "Pod", Namespaced: true, Verbs: rw}, {Name: "bindings", Kind: "Binding", Verbs: metav1.Verbs{"create"}}}},
	}
	failed := map[schema.GroupVersion]error{{Group: "metrics.example.io", Version: "v1"}: errors.New("stale")}
	rs := newResources(groups, lists, failed)

	var got []string
	for _, r := range rs.Items {
		got = append(got, r.Version+" "+r.String())
	}
	want := []string{"v1 pods", "v2 gadgets.example.io", "v1 legacy.example.io"}
	if len(got) != len(want) {
		t.Fatalf("items %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("items %v, want %v", got, want)
			break
		}
	}
	if p, _ := rs.Lookup(schema.GroupResource{Resource: "pods"}); !p.Builtin || p.SingularName != "pod" {
		t.Errorf("pods: %+v", p)
	}
	if g, _ := rs.Lookup(schema.GroupResource{Group: "example.io", Resource: "gadgets"}); g.Builtin {
		t.Error("gadgets.example.io taken for a built-in type")
	}
	if rs.Failed[schema.GroupVersion{Group: "metrics.example.io", Version: "v1"}] == nil || rs.PreferredVersions["example.io"] != "v2" {
		t.Errorf("Failed %v, PreferredVersions %v", rs.Failed, rs.PreferredVersions)
	}
}
