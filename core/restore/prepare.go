package restore

import (
	"fmt"
	"slices"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/kbackup/kbackup/core/clean"
)

// preparer turns an object of the backup into the object a restore sends:
// cleaned (core/clean), mapped to its target namespace, and changed where
// sending it as it is could harm the source cluster or grant more than the
// restored namespaces had. The plan prepares each object to compare it with
// the target; Apply prepares it again from the backup, a pack at a time,
// with the same preparer, so that it sends what the plan showed.
type preparer struct {
	clean   clean.Options
	mapping clean.NamespaceMapping
	// otherCluster: the target is not the cluster the backup was taken of
	// (another kube-system UID, or either is unknown).
	otherCluster bool
	// subjectNamespaces are the target namespaces of a namespace restore:
	// role bindings keep only their subjects in them. nil keeps every
	// subject (a whole-cluster restore, or one object).
	subjectNamespaces map[string]bool
	// volumes are the PersistentVolumes a claim may stay bound to by
	// spec.volumeName: restored ones and those in the target. nil when
	// the target's could not be listed: claims keep their volume names.
	volumes map[string]bool
}

// Adaptation is a change a restore makes to an object so that sending it
// cannot harm the source or widen access; docs/restore.md lists each.
type Adaptation struct {
	Name string
	What string
	Why  string
}

// Adaptations lists what preparer.prepare changes besides cleaning and
// namespace mapping.
var Adaptations = []Adaptation{
	{"volume-reclaim-retain",
		"a PersistentVolume restored into another cluster than the backup's gets spec.persistentVolumeReclaimPolicy Retain",
		"its volume handle names the source cluster's disk; with Delete, deleting the claim or namespace in the target " +
			"would make the target's storage driver delete the disk the source may still be using"},
	{"binding-subjects",
		"in a namespace restore, RoleBindings and ClusterRoleBindings keep only the subjects in the restored (mapped) namespaces; " +
			"a binding left with none is skipped",
		"users, groups (system:authenticated) and other namespaces' service accounts are not part of the namespaces restored; " +
			"restoring them would grant the target's principals what the backup granted the source's"},
	{"claim-volume-name",
		"PersistentVolumeClaim spec.volumeName, when that volume is neither restored nor in the target",
		"such a claim would wait forever for a volume that will not come; without the name it is provisioned anew"},
}

// prepare cleans obj in place and adapts it to the target. It returns the
// notes to show for the changes, and a reason when the object must not be
// sent at all.
func (pr *preparer) prepare(gr schema.GroupResource, obj *unstructured.Unstructured) (notes []string, skip string) {
	clean.Object(obj, pr.clean)
	pr.mapping.Apply(obj)
	switch gr {
	case grPVs:
		if !pr.otherCluster {
			break
		}
		policy, _, _ := unstructured.NestedString(obj.Object, "spec", "persistentVolumeReclaimPolicy")
		if policy != "Retain" {
			_ = unstructured.SetNestedField(obj.Object, "Retain", "spec", "persistentVolumeReclaimPolicy")
			notes = append(notes, fmt.Sprintf("reclaim policy %s changed to Retain: the target is another cluster than the backup's, and this volume names the source's disk",
				orText(policy, "(none)")))
		}
	case grRoleBindings, grClusterRoleBindings:
		if pr.subjectNamespaces == nil {
			break
		}
		subjects, _, _ := unstructured.NestedSlice(obj.Object, "subjects")
		var kept []any
		var dropped []string
		for _, s := range subjects {
			subject, _ := s.(map[string]any)
			ns, _ := subject["namespace"].(string)
			if ns != "" && pr.subjectNamespaces[ns] {
				kept = append(kept, s)
				continue
			}
			kind, _ := subject["kind"].(string)
			name, _ := subject["name"].(string)
			if ns != "" {
				name = ns + "/" + name
			}
			dropped = append(dropped, kind+" "+name)
		}
		if len(dropped) == 0 {
			break
		}
		if len(kept) == 0 {
			return notes, fmt.Sprintf("none of its subjects is in the restored namespaces (%s), and a namespace restore grants nothing outside them",
				strings.Join(dropped, ", "))
		}
		_ = unstructured.SetNestedSlice(obj.Object, kept, "subjects")
		notes = append(notes, fmt.Sprintf("subjects outside the restored namespaces left out: %s", strings.Join(dropped, ", ")))
	case grPVCs:
		name, _, _ := unstructured.NestedString(obj.Object, "spec", "volumeName")
		if name == "" || pr.volumes == nil || pr.volumes[name] {
			break
		}
		unstructured.RemoveNestedField(obj.Object, "spec", "volumeName")
		notes = append(notes, fmt.Sprintf("spec.volumeName %s dropped: that PersistentVolume is neither restored nor in the target, so the claim is provisioned anew", name))
	}
	return notes, ""
}

func orText(s, none string) string {
	if s == "" {
		return none
	}
	return s
}

// mappedNamespaces returns the target names of source namespaces.
func mappedNamespaces(m clean.NamespaceMapping, namespaces map[string]bool) map[string]bool {
	out := make(map[string]bool, len(namespaces))
	for ns := range namespaces {
		out[m.Map(ns)] = true
	}
	return out
}

// sortedKeys lists a set's members in order.
func sortedKeys(set map[string]bool) []string {
	out := make([]string, 0, len(set))
	for k := range set {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}
