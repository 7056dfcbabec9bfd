// Package clean turns an object as a cluster stored it into the object a
// user declared: it removes what the API server and controllers set (UIDs,
// versions, allocated IPs and ports, binding annotations, status) so that an
// object from a backup can be created in another cluster, and so that a
// backed-up object and a live one compare equal when they mean the same.
//
// Restore, diff and export share these rules, so that what a restore
// creates, what a diff compares and what an export writes agree. Each rule
// is listed in Rules with its reason, and docs/restore.md explains them.
//
// Cleaning is symmetric: diff and restore clean both sides of a comparison
// with the same options, so a field that is removed never makes two objects
// differ.
package clean

import (
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// Options change what cleaning keeps.
type Options struct {
	// KeepStatus keeps .status: for a diff that compares status, or an
	// export that wants it. A restore cannot create status through the main
	// resource of most types anyway.
	KeepStatus bool
	// PreserveNodePorts keeps the node ports of Services (spec.ports[].nodePort
	// and spec.healthCheckNodePort) instead of letting the target allocate
	// new ones. Creating a Service fails if its node port is taken.
	PreserveNodePorts bool
	// TokenSecrets names the ServiceAccount token Secrets a backup holds,
	// as "namespace/name", so that references to them are removed from
	// ServiceAccounts even when their names do not follow the token
	// controller's "<serviceaccount>-token-" pattern.
	TokenSecrets map[string]bool
}

// Rule is one cleaning rule.
type Rule struct {
	// Name identifies the rule in documentation and tests.
	Name string
	// What the rule removes or changes.
	What string
	// Why it does.
	Why   string
	apply func(obj map[string]any, kind string, opts Options)
}

// Well-known names the rules use.
const (
	AnnotationLastApplied = "kubectl.kubernetes.io/last-applied-configuration"
	LabelControllerUID    = "controller-uid"
	LabelBatchUID         = "batch.kubernetes.io/controller-uid"
	SecretTypeSAToken     = "kubernetes.io/service-account-token"
)

// Rules are applied in this order by Object.
var Rules = []Rule{
	{
		Name: "server-metadata",
		What: "metadata.uid, resourceVersion, generation, creationTimestamp, managedFields, selfLink, deletionTimestamp, deletionGracePeriodSeconds",
		Why: "the API server sets them for one object in one cluster at one time; a create that carries resourceVersion is refused, " +
			"and the others are ignored or meaningless in the target",
		apply: func(obj map[string]any, _ string, _ Options) {
			meta := mapAt(obj, "metadata")
			for _, f := range []string{"uid", "resourceVersion", "generation", "creationTimestamp", "managedFields", "selfLink",
				"deletionTimestamp", "deletionGracePeriodSeconds"} {
				delete(meta, f)
			}
		},
	},
	{
		Name: "owner-reference-uids",
		What: "metadata.ownerReferences[].uid",
		Why: "an owner reference names its owner by UID, and a restored owner gets a new one; the restore sets the new UID " +
			"(or drops the reference, see docs/restore.md) and a diff compares owners by kind and name",
		apply: func(obj map[string]any, _ string, _ Options) {
			for _, ref := range sliceAt(obj, "metadata", "ownerReferences") {
				if r, ok := ref.(map[string]any); ok {
					delete(r, "uid")
				}
			}
		},
	},
	{
		Name: "status",
		What: ".status, unless KeepStatus",
		Why: "status is observed state that controllers write for the target; the create of a type with a status " +
			"subresource ignores it, and comparing it would report every object whose controller ran as changed",
		apply: func(obj map[string]any, _ string, opts Options) {
			if !opts.KeepStatus {
				delete(obj, "status")
			}
		},
	},
	{
		Name: "controller-annotations",
		What: "annotations deployment.kubernetes.io/revision, desired-replicas and max-replicas, and endpoints.kubernetes.io/last-change-trigger-time",
		Why:  "the Deployment and endpoints controllers write them to count rollouts and changes in one cluster; they start again in the target",
		apply: func(obj map[string]any, _ string, _ Options) {
			ann := mapAt(obj, "metadata", "annotations")
			for _, a := range []string{"deployment.kubernetes.io/revision", "deployment.kubernetes.io/desired-replicas",
				"deployment.kubernetes.io/max-replicas", "endpoints.kubernetes.io/last-change-trigger-time"} {
				delete(ann, a)
			}
		},
	},
	{
		Name: "service-cluster-ip",
		What: "Service spec.clusterIP and spec.clusterIPs, unless they are \"None\"",
		Why: "the target allocates cluster IPs from its own service range; the source's address may be outside it or taken. " +
			"\"None\" makes a headless Service and is the user's choice",
		apply: func(obj map[string]any, kind string, _ Options) {
			if kind != "Service" {
				return
			}
			spec := mapAt(obj, "spec")
			if ip, _ := spec["clusterIP"].(string); ip == "None" {
				return
			}
			delete(spec, "clusterIP")
			delete(spec, "clusterIPs")
		},
	},
	{
		Name: "service-node-ports",
		What: "Service spec.ports[].nodePort and spec.healthCheckNodePort, unless PreserveNodePorts",
		Why: "node ports are allocated from the target's range, and a port taken in the target would make the create fail; " +
			"keep them when clients depend on the port numbers",
		apply: func(obj map[string]any, kind string, opts Options) {
			if kind != "Service" || opts.PreserveNodePorts {
				return
			}
			spec := mapAt(obj, "spec")
			delete(spec, "healthCheckNodePort")
			for _, p := range sliceAt(obj, "spec", "ports") {
				if port, ok := p.(map[string]any); ok {
					delete(port, "nodePort")
				}
			}
		},
	},
	{
		Name: "pod-node-name",
		What: "Pod spec.nodeName",
		Why:  "it names a node of the source cluster; the target's scheduler chooses a node, and a Pod bound to a missing node never runs",
		apply: func(obj map[string]any, kind string, _ Options) {
			if kind == "Pod" {
				delete(mapAt(obj, "spec"), "nodeName")
			}
		},
	},
	{
		Name: "job-controller-uid",
		What: "Job spec.selector (unless spec.manualSelector) and the labels controller-uid and batch.kubernetes.io/controller-uid of Jobs, their Pod templates and Pods",
		Why: "the API server generates a Job's selector from the Job's UID, which is new in the target; a create that carries " +
			"the old selector is refused because it does not match the new UID",
		apply: func(obj map[string]any, kind string, _ Options) {
			switch kind {
			case "Job":
				spec := mapAt(obj, "spec")
				if manual, _ := spec["manualSelector"].(bool); !manual {
					delete(spec, "selector")
				}
				deleteLabels(mapAt(obj, "spec", "template", "metadata", "labels"))
				deleteLabels(mapAt(obj, "metadata", "labels"))
			case "Pod":
				deleteLabels(mapAt(obj, "metadata", "labels"))
			}
		},
	},
	{
		Name: "service-account-token-references",
		What: "ServiceAccount secrets[] entries that name a token Secret (in TokenSecrets, or named <serviceaccount>-token-*)",
		Why: "token Secrets are not restored (see the exclusions); the target's token controller makes its own, and a " +
			"reference to a missing Secret is noise",
		apply: func(obj map[string]any, kind string, opts Options) {
			if kind != "ServiceAccount" {
				return
			}
			meta := mapAt(obj, "metadata")
			name, _ := meta["name"].(string)
			ns, _ := meta["namespace"].(string)
			secrets, ok := obj["secrets"].([]any)
			if !ok {
				return
			}
			kept := secrets[:0]
			for _, s := range secrets {
				ref, _ := s.(map[string]any)
				secret, _ := ref["name"].(string)
				if strings.HasPrefix(secret, name+"-token-") || opts.TokenSecrets[ns+"/"+secret] {
					continue
				}
				kept = append(kept, s)
			}
			if len(kept) == 0 {
				delete(obj, "secrets")
			} else {
				obj["secrets"] = kept
			}
		},
	},
	{
		Name: "volume-binding-annotations",
		What: "PersistentVolumeClaim and PersistentVolume annotations pv.kubernetes.io/bind-completed, pv.kubernetes.io/bound-by-controller, " +
			"volume.beta.kubernetes.io/storage-provisioner, volume.kubernetes.io/storage-provisioner and volume.kubernetes.io/selected-node",
		Why: "the persistent volume controller and the scheduler write them while binding in one cluster; left in place they " +
			"tell the target's controller that a binding it never made is complete, or pin a claim to a node that does not exist",
		apply: func(obj map[string]any, kind string, _ Options) {
			if kind != "PersistentVolumeClaim" && kind != "PersistentVolume" {
				return
			}
			ann := mapAt(obj, "metadata", "annotations")
			for _, a := range []string{"pv.kubernetes.io/bind-completed", "pv.kubernetes.io/bound-by-controller",
				"volume.beta.kubernetes.io/storage-provisioner", "volume.kubernetes.io/storage-provisioner",
				"volume.kubernetes.io/selected-node"} {
				delete(ann, a)
			}
		},
	},
	{
		Name: "volume-claim-ref",
		What: "PersistentVolume spec.claimRef.uid and spec.claimRef.resourceVersion",
		Why: "they name the claim of the source cluster; the restored claim has a new UID, and the controller binds a volume " +
			"whose claimRef has only namespace and name to the claim of that name",
		apply: func(obj map[string]any, kind string, _ Options) {
			if kind != "PersistentVolume" {
				return
			}
			ref := mapAt(obj, "spec", "claimRef")
			delete(ref, "uid")
			delete(ref, "resourceVersion")
		},
	},
	{
		Name: "empty-metadata-maps",
		What: "metadata.labels, metadata.annotations and metadata.ownerReferences when the rules above left them empty",
		Why:  "an empty map and a missing one mean the same; removing both keeps comparisons exact",
		apply: func(obj map[string]any, _ string, _ Options) {
			meta := mapAt(obj, "metadata")
			for _, f := range []string{"labels", "annotations"} {
				if m, ok := meta[f].(map[string]any); ok && len(m) == 0 {
					delete(meta, f)
				}
			}
			if refs, ok := meta["ownerReferences"].([]any); ok && len(refs) == 0 {
				delete(meta, "ownerReferences")
			}
		},
	},
}

// Object cleans obj in place with every rule and returns it. kubectl's
// last-applied-configuration annotation is kept: it is what the user last
// applied, and `kubectl apply` needs it to compute what to remove.
func Object(obj *unstructured.Unstructured, opts Options) *unstructured.Unstructured {
	kind := obj.GetKind()
	for _, r := range Rules {
		r.apply(obj.Object, kind, opts)
	}
	return obj
}

// Copy returns a cleaned deep copy of obj, leaving obj as it was.
func Copy(obj *unstructured.Unstructured, opts Options) *unstructured.Unstructured {
	return Object(obj.DeepCopy(), opts)
}

func deleteLabels(labels map[string]any) {
	delete(labels, LabelControllerUID)
	delete(labels, LabelBatchUID)
}

// mapAt returns the map at path, or an empty map that belongs to nothing,
// so that deletes from it do nothing.
func mapAt(obj map[string]any, path ...string) map[string]any {
	cur := obj
	for _, p := range path {
		next, ok := cur[p].(map[string]any)
		if !ok {
			return map[string]any{}
		}
		cur = next
	}
	return cur
}

// sliceAt returns the slice at path, or nil.
func sliceAt(obj map[string]any, path ...string) []any {
	if len(path) == 0 {
		return nil
	}
	s, _ := mapAt(obj, path[:len(path)-1]...)[path[len(path)-1]].([]any)
	return s
}
