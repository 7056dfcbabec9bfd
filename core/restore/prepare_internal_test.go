package restore

import (
	"slices"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

func persistentVolume(policy string) *unstructured.Unstructured {
	return &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "v1", "kind": "PersistentVolume", "metadata": map[string]any{"name": "pv"},
		"spec": map[string]any{"persistentVolumeReclaimPolicy": policy,
			"csi": map[string]any{"driver": "ebs.csi.aws.com", "volumeHandle": "vol-1"}},
	}}
}

// Restored into the cluster it came from, a volume keeps its reclaim
// policy; into another, it gets Retain, and a note says so.
func TestPrepareRetainsVolumesOnlyElsewhere(t *testing.T) {
	same := &preparer{}
	obj := persistentVolume("Delete")
	if notes, skip := same.prepare(grPVs, obj); len(notes) != 0 || skip != "" {
		t.Errorf("same cluster: notes %q, skip %q", notes, skip)
	}
	if p, _, _ := unstructured.NestedString(obj.Object, "spec", "persistentVolumeReclaimPolicy"); p != "Delete" {
		t.Errorf("same cluster: reclaim policy %s, want Delete kept", p)
	}
	other := &preparer{otherCluster: true}
	obj = persistentVolume("Delete")
	notes, _ := other.prepare(grPVs, obj)
	if p, _, _ := unstructured.NestedString(obj.Object, "spec", "persistentVolumeReclaimPolicy"); p != "Retain" || len(notes) != 1 {
		t.Errorf("another cluster: reclaim policy %s, notes %q", p, notes)
	}
	obj = persistentVolume("Retain")
	if notes, _ := other.prepare(grPVs, obj); len(notes) != 0 {
		t.Errorf("a volume that has Retain already: notes %q", notes)
	}
}

// A whole-cluster restore (no subject namespaces) keeps every subject; a
// namespace restore keeps those in its namespaces and skips a binding left
// with none.
func TestPrepareBindingSubjects(t *testing.T) {
	binding := func() *unstructured.Unstructured {
		return &unstructured.Unstructured{Object: map[string]any{
			"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding", "metadata": map[string]any{"name": "b"},
			"subjects": []any{
				map[string]any{"kind": "Group", "name": "system:authenticated"},
				map[string]any{"kind": "ServiceAccount", "namespace": "team", "name": "app"},
			},
		}}
	}
	whole := &preparer{}
	obj := binding()
	if notes, skip := whole.prepare(grClusterRoleBindings, obj); len(notes) != 0 || skip != "" {
		t.Errorf("whole cluster: notes %q, skip %q", notes, skip)
	}
	if subjects, _, _ := unstructured.NestedSlice(obj.Object, "subjects"); len(subjects) != 2 {
		t.Errorf("whole cluster: subjects %v", subjects)
	}
	team := &preparer{subjectNamespaces: map[string]bool{"team": true}}
	obj = binding()
	notes, skip := team.prepare(grClusterRoleBindings, obj)
	subjects, _, _ := unstructured.NestedSlice(obj.Object, "subjects")
	if skip != "" || len(subjects) != 1 || !slices.Equal(notes, []string{"subjects outside the restored namespaces left out: Group system:authenticated"}) {
		t.Errorf("namespace team: subjects %v, notes %q, skip %q", subjects, notes, skip)
	}
	other := &preparer{subjectNamespaces: map[string]bool{"other": true}}
	if _, skip := other.prepare(grClusterRoleBindings, binding()); skip == "" {
		t.Error("a binding with no subject in the restored namespaces is not skipped")
	}
}
