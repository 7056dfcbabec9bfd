package restore_test

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/kbackup/kbackup/core/restore"
	"github.com/kbackup/kbackup/core/selection"
)

func clientset(t *testing.T, name string) *kubernetes.Clientset {
	t.Helper()
	cs, err := env.Cluster(name).Clientset()
	if err != nil {
		t.Fatal(err)
	}
	return cs
}

func createNamespace(t *testing.T, cs *kubernetes.Clientset, name string) {
	t.Helper()
	if _, err := cs.CoreV1().Namespaces().Create(context.Background(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
}

// applyWithin applies a plan, failing the test when Apply has not returned
// after limit: a restore that blocks must fail, not hang the test run.
func applyWithin(t *testing.T, ctx context.Context, p *restore.Plan, limit time.Duration) (*restore.Result, error) {
	t.Helper()
	type outcome struct {
		res *restore.Result
		err error
	}
	done := make(chan outcome, 1)
	go func() {
		res, err := restore.Apply(ctx, p)
		done <- outcome{res, err}
	}()
	select {
	case o := <-done:
		return o.res, o.err
	case <-time.After(limit):
		t.Fatalf("Apply has not returned after %s", limit)
		return nil, nil
	}
}

// Two objects that own each other (nothing in Kubernetes forbids it, and
// no garbage collector runs in these clusters) are both restored: each
// waits only for owners before it in the order, and the reference to the
// later one is dropped with a note. Cancelled, such a restore still ends,
// and its record is written.
func TestOwnershipCycleDoesNotBlock(t *testing.T) {
	ctx := context.Background()
	src := clientset(t, "src")
	createNamespace(t, src, "cycle")
	a, err := src.CoreV1().ConfigMaps("cycle").Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "a"}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	yes := true
	b, err := src.CoreV1().ConfigMaps("cycle").Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "b",
		OwnerReferences: []metav1.OwnerReference{{APIVersion: "v1", Kind: "ConfigMap", Name: "a", UID: a.UID, BlockOwnerDeletion: &yes}}}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	a.OwnerReferences = []metav1.OwnerReference{{APIVersion: "v1", Kind: "ConfigMap", Name: "b", UID: b.UID}}
	if _, err := src.CoreV1().ConfigMaps("cycle").Update(ctx, a, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	storage := newRepo(t)
	r, m := backupOf(t, "src", storage, "cycle")
	opts := restore.Options{Selection: selection.Selection{IncludeNamespaces: []string{"cycle"}, IncludeResources: []string{"configmaps"}}}

	// Cancelled as it starts: the restore ends, and the record says so.
	cancelled, cancel := context.WithCancel(ctx)
	defer cancel()
	p := plan(t, r, m, "refused", opts)
	p.Options.Progress = func(e restore.Event) {
		if e.Kind == restore.EventStageStarted {
			cancel()
		}
	}
	res, err := applyWithin(t, cancelled, p, time.Minute)
	if err == nil || res == nil || res.Phase != restore.PhaseFailed || res.RecordKey == "" {
		t.Fatalf("cancelled restore: %v, %+v", err, res)
	}
	if _, err := restore.ReadRecord(ctx, r, "refused", res.ID); err != nil {
		t.Errorf("the cancelled restore's record: %v", err)
	}

	res, err = applyWithin(t, ctx, plan(t, r, m, "refused", opts), time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	var created []string
	for _, o := range res.With(restore.Created) {
		if o.Resource == "configmaps" {
			created = append(created, o.Name)
		}
	}
	if !slices.Equal(created, []string{"a", "b"}) {
		t.Fatalf("created %v, want a and b:\n%s", created, outcomes(res))
	}
	dst := clientset(t, "refused")
	liveA, err := dst.CoreV1().ConfigMaps("cycle").Get(ctx, "a", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	liveB, err := dst.CoreV1().ConfigMaps("cycle").Get(ctx, "b", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	// a comes first: its owner b is not there yet, and its reference is
	// dropped; b's reference points at a's new UID.
	if len(liveA.OwnerReferences) != 0 {
		t.Errorf("a's owner references %+v, want none", liveA.OwnerReferences)
	}
	if refs := liveB.OwnerReferences; len(refs) != 1 || refs[0].UID != liveA.UID {
		t.Errorf("b's owner references %+v, want a's new UID %s", refs, liveA.UID)
	}
	for _, o := range res.Objects {
		if o.Name == "a" && !slices.ContainsFunc(o.Notes, func(n string) bool { return strings.Contains(n, "ownership cycle") }) {
			t.Errorf("a's notes %q do not name the cycle", o.Notes)
		}
	}
}

// A PersistentVolume restored into another cluster keeps its volume
// handle, which names the source's disk, and gets reclaim policy Retain,
// so that deleting it in the target never deletes that disk; the plan
// says so.
func TestVolumesRestoredElsewhereAreRetained(t *testing.T) {
	ctx := context.Background()
	src := clientset(t, "src")
	createNamespace(t, src, "vol")
	pv := &corev1.PersistentVolume{
		ObjectMeta: metav1.ObjectMeta{Name: "pv-vol-data"},
		Spec: corev1.PersistentVolumeSpec{
			Capacity:                      corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("1Gi")},
			AccessModes:                   []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
			PersistentVolumeReclaimPolicy: corev1.PersistentVolumeReclaimDelete,
			ClaimRef:                      &corev1.ObjectReference{Kind: "PersistentVolumeClaim", Namespace: "vol", Name: "data"},
			PersistentVolumeSource: corev1.PersistentVolumeSource{CSI: &corev1.CSIPersistentVolumeSource{
				Driver: "ebs.csi.aws.com", VolumeHandle: "vol-0123456789abcdef0", FSType: "ext4"}},
		},
	}
	if _, err := src.CoreV1().PersistentVolumes().Create(ctx, pv, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	empty := ""
	pvc := &corev1.PersistentVolumeClaim{
		ObjectMeta: metav1.ObjectMeta{Name: "data", Namespace: "vol"},
		Spec: corev1.PersistentVolumeClaimSpec{
			AccessModes:      []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
			Resources:        corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("1Gi")}},
			VolumeName:       "pv-vol-data",
			StorageClassName: &empty,
		},
	}
	if _, err := src.CoreV1().PersistentVolumeClaims("vol").Create(ctx, pvc, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	r, m := backupOf(t, "src", newRepo(t))

	p := plan(t, r, m, "dst", restore.Options{Selection: selection.Selection{IncludeNamespaces: []string{"vol"}}})
	if !slices.ContainsFunc(p.Warnings, func(w string) bool {
		return strings.Contains(w, "Retain") && strings.Contains(w, "pv-vol-data")
	}) {
		t.Errorf("the plan does not say that pv-vol-data is restored with Retain: %q", p.Warnings)
	}
	res := apply(t, p)
	if res.Totals.Failed > 0 {
		t.Fatalf("restore:\n%s", outcomes(res))
	}
	live, err := clientset(t, "dst").CoreV1().PersistentVolumes().Get(ctx, "pv-vol-data", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if live.Spec.PersistentVolumeReclaimPolicy != corev1.PersistentVolumeReclaimRetain {
		t.Errorf("restored into another cluster, the volume's reclaim policy is %s, want Retain", live.Spec.PersistentVolumeReclaimPolicy)
	}
	if live.Spec.CSI == nil || live.Spec.CSI.VolumeHandle != "vol-0123456789abcdef0" {
		t.Errorf("volume source %+v", live.Spec.PersistentVolumeSource)
	}
	for _, o := range res.Objects {
		if o.Resource == "persistentvolumes" && !slices.ContainsFunc(o.Notes, func(n string) bool { return strings.Contains(n, "changed to Retain") }) {
			t.Errorf("the volume's outcome has no note of the change: %q", o.Notes)
		}
	}
}

// A namespace restore grants nothing outside its namespaces: role bindings
// keep only their subjects in the restored (mapped) namespaces, and an
// existing ClusterRoleBinding that differs is changed by policy update only
// when asked to; the plan names every cluster-scoped object.
func TestNamespaceRestoreGrantsNothingOutside(t *testing.T) {
	ctx := context.Background()
	src := clientset(t, "src")
	for _, ns := range []string{"team17", "other17"} {
		createNamespace(t, src, ns)
		if _, err := src.CoreV1().ServiceAccounts(ns).Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "app"}}, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	subjects := []rbacv1.Subject{
		{Kind: "Group", APIGroup: "rbac.authorization.k8s.io", Name: "system:authenticated"},
		{Kind: "ServiceAccount", Namespace: "team17", Name: "app"},
		{Kind: "ServiceAccount", Namespace: "other17", Name: "app"},
		{Kind: "User", APIGroup: "rbac.authorization.k8s.io", Name: "alice"},
	}
	view := rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "ClusterRole", Name: "view"}
	if _, err := src.RbacV1().ClusterRoleBindings().Create(ctx, &rbacv1.ClusterRoleBinding{ObjectMeta: metav1.ObjectMeta{Name: "team17-view"},
		RoleRef: view, Subjects: subjects}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := src.RbacV1().RoleBindings("team17").Create(ctx, &rbacv1.RoleBinding{ObjectMeta: metav1.ObjectMeta{Name: "readers"},
		RoleRef: view, Subjects: subjects}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := src.RbacV1().RoleBindings("team17").Create(ctx, &rbacv1.RoleBinding{ObjectMeta: metav1.ObjectMeta{Name: "outsiders"},
		RoleRef: view, Subjects: []rbacv1.Subject{subjects[0], subjects[2]}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	r, m := backupOf(t, "src", newRepo(t))
	opts := restore.Options{Selection: selection.Selection{IncludeNamespaces: []string{"team17"}},
		NamespaceMapping: map[string]string{"team17": "team17b"}}

	p := plan(t, r, m, "mapped", opts)
	var clusterScoped []string
	for _, it := range p.ClusterScoped() {
		clusterScoped = append(clusterScoped, it.Resource+" "+it.Name)
	}
	for _, want := range []string{"clusterrolebindings.rbac.authorization.k8s.io team17-view", "clusterroles.rbac.authorization.k8s.io view"} {
		if !slices.Contains(clusterScoped, want) {
			t.Errorf("the plan's cluster-scoped objects %q do not name %s", clusterScoped, want)
		}
	}
	res := apply(t, p)
	if res.Totals.Failed > 0 {
		t.Fatalf("restore:\n%s", outcomes(res))
	}
	dst := clientset(t, "mapped")
	want := []rbacv1.Subject{{Kind: "ServiceAccount", Namespace: "team17b", Name: "app"}}
	crb, err := dst.RbacV1().ClusterRoleBindings().Get(ctx, "team17-view", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(crb.Subjects, want) {
		t.Errorf("ClusterRoleBinding subjects %+v, want only %+v", crb.Subjects, want)
	}
	rb, err := dst.RbacV1().RoleBindings("team17b").Get(ctx, "readers", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(rb.Subjects, want) {
		t.Errorf("RoleBinding subjects %+v, want only %+v", rb.Subjects, want)
	}
	for _, o := range res.Objects {
		if o.Name == "outsiders" && o.Outcome != restore.Skipped {
			t.Errorf("RoleBinding outsiders, with no subject in the namespace: %s %s", o.Outcome, o.Reason)
		}
	}

	// The target's binding changes; policy update leaves it alone unless
	// asked to change cluster-scoped objects.
	crb.Subjects = []rbacv1.Subject{{Kind: "ServiceAccount", Namespace: "team17b", Name: "someone-else"}}
	if _, err := dst.RbacV1().ClusterRoleBindings().Update(ctx, crb, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	opts.ExistingResourcePolicy = restore.PolicyUpdate
	res = apply(t, plan(t, r, m, "mapped", opts))
	for _, o := range res.Objects {
		if o.Name == "team17-view" && o.Outcome != restore.Skipped {
			t.Errorf("without UpdateClusterResources, the differing ClusterRoleBinding was %s", o.Outcome)
		}
	}
	if live, _ := dst.RbacV1().ClusterRoleBindings().Get(ctx, "team17-view", metav1.GetOptions{}); live == nil || live.Subjects[0].Name != "someone-else" {
		t.Errorf("the live ClusterRoleBinding changed: %+v", live)
	}
	opts.UpdateClusterResources = true
	res = apply(t, plan(t, r, m, "mapped", opts))
	for _, o := range res.Objects {
		if o.Name == "team17-view" && o.Outcome != restore.Updated {
			t.Errorf("with UpdateClusterResources, the differing ClusterRoleBinding was %s: %s", o.Outcome, o.Reason)
		}
	}
}
