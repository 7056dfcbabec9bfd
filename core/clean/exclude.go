package clean

import (
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// Exclusion is a resource type that is never restored, and why.
type Exclusion struct {
	GroupResource schema.GroupResource
	Reason        string
}

// ExcludedTypes are the resource types no cluster takes back. A restore
// records their objects as skipped with the reason; an export leaves them
// out.
var ExcludedTypes = []Exclusion{
	{schema.GroupResource{Resource: "nodes"}, "Nodes register themselves through their kubelet; a restored Node would be a machine that does not exist"},
	{schema.GroupResource{Resource: "events"}, "events are a log of what happened in the source cluster; the target writes its own"},
	{schema.GroupResource{Group: "events.k8s.io", Resource: "events"}, "events are a log of what happened in the source cluster; the target writes its own"},
	{schema.GroupResource{Resource: "componentstatuses"}, "component statuses are computed by the API server on each read; they cannot be created"},
	{schema.GroupResource{Group: "coordination.k8s.io", Resource: "leases"}, "leases are heartbeats and leader elections, renewed every few seconds by their holders in the target"},
	{schema.GroupResource{Group: "coordination.k8s.io", Resource: "leasecandidates"}, "leader election candidacies are renewed by their holders in the target"},
	{schema.GroupResource{Group: "storage.k8s.io", Resource: "csinodes"}, "CSINodes are written by the kubelet of each node"},
	{schema.GroupResource{Group: "storage.k8s.io", Resource: "volumeattachments"}, "volume attachments record which node a volume is attached to in the source; the attach/detach controller makes them in the target"},
	{schema.GroupResource{Group: "networking.k8s.io", Resource: "ipaddresses"}, "the API server allocates an IPAddress for each Service cluster IP; restored Services get new addresses"},
	{schema.GroupResource{Group: "certificates.k8s.io", Resource: "certificatesigningrequests"}, "a signing request was answered by the source cluster's signer; its certificate cannot be restored, and its requester asks the target again"},
}

// ExcludedType returns why objects of gr are never restored, or "".
func ExcludedType(gr schema.GroupResource) string {
	for _, e := range ExcludedTypes {
		if e.GroupResource == gr {
			return e.Reason
		}
	}
	return ""
}

// ExcludedObject returns why obj, of resource type gr, is never restored,
// or "": the objects that the target makes for itself.
func ExcludedObject(gr schema.GroupResource, obj *unstructured.Unstructured) string {
	if reason := ExcludedType(gr); reason != "" {
		return reason
	}
	name, ns := obj.GetName(), obj.GetNamespace()
	switch gr {
	case schema.GroupResource{Resource: "secrets"}:
		if t, _, _ := unstructured.NestedString(obj.Object, "type"); t == SecretTypeSAToken {
			return "ServiceAccount token Secrets are minted by the target's token controller for its own ServiceAccount UIDs; this one holds a token signed by the source cluster"
		}
	case schema.GroupResource{Resource: "configmaps"}:
		if name == "kube-root-ca.crt" {
			return "the controller manager publishes kube-root-ca.crt into every namespace with the target cluster's own CA"
		}
	case schema.GroupResource{Resource: "pods"}:
		if _, mirror := obj.GetAnnotations()["kubernetes.io/config.mirror"]; mirror {
			return "a mirror Pod shows a static Pod that a kubelet runs from a file on its node; only that kubelet can create it"
		}
	case schema.GroupResource{Resource: "services"}, schema.GroupResource{Resource: "endpoints"},
		schema.GroupResource{Group: "discovery.k8s.io", Resource: "endpointslices"}:
		if ns == "default" && name == "kubernetes" {
			return "the API server maintains the kubernetes Service of the default namespace, and its endpoints, pointing at itself"
		}
	case schema.GroupResource{Group: "apiregistration.k8s.io", Resource: "apiservices"}:
		if obj.GetLabels()["kube-aggregator.kubernetes.io/automanaged"] != "" {
			return "the API server registers an APIService for each API group it serves itself"
		}
	case schema.GroupResource{Group: "flowcontrol.apiserver.k8s.io", Resource: "flowschemas"},
		schema.GroupResource{Group: "flowcontrol.apiserver.k8s.io", Resource: "prioritylevelconfigurations"}:
		if obj.GetAnnotations()["apf.kubernetes.io/autoupdate-spec"] == "true" {
			return "the API server keeps its built-in flow control configuration up to date itself"
		}
	case schema.GroupResource{Group: "rbac.authorization.k8s.io", Resource: "clusterroles"},
		schema.GroupResource{Group: "rbac.authorization.k8s.io", Resource: "clusterrolebindings"},
		schema.GroupResource{Group: "rbac.authorization.k8s.io", Resource: "roles"},
		schema.GroupResource{Group: "rbac.authorization.k8s.io", Resource: "rolebindings"}:
		if obj.GetAnnotations()["rbac.authorization.kubernetes.io/autoupdate"] == "true" {
			return "the API server reconciles its bootstrap roles and bindings at every start (annotation rbac.authorization.kubernetes.io/autoupdate)"
		}
	case schema.GroupResource{Group: "scheduling.k8s.io", Resource: "priorityclasses"}:
		if strings.HasPrefix(name, "system-") {
			return "PriorityClasses named system-* are built into the API server"
		}
	case schema.GroupResource{Group: "networking.k8s.io", Resource: "servicecidrs"}:
		if name == "kubernetes" {
			return "the API server makes the ServiceCIDR \"kubernetes\" from its own service cluster IP range"
		}
	}
	return ""
}
