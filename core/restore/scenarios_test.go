package restore_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	admissionv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/wait"

	"github.com/kbackup/kbackup/core/clean"
	"github.com/kbackup/kbackup/core/restore"
	"github.com/kbackup/kbackup/core/selection"
	"github.com/kbackup/kbackup/core/testenv/workload"
)

var widgetsGVR = schema.GroupVersionResource{Group: "example.kbackup.io", Version: "v1", Resource: "widgets"}

func install(t *testing.T, clusterName, namespace string) {
	t.Helper()
	if _, err := workload.Install(context.Background(), env.Cluster(clusterName).Config(), workload.Options{Namespace: namespace, OwnedObjects: true}); err != nil {
		t.Fatal(err)
	}
}

// A namespace restored under another name takes the references to it
// along: RoleBinding and ClusterRoleBinding subjects, the namespace's own
// label. With cluster resources on auto, a namespace restore brings only
// the cluster-scoped objects the namespace needs.
func TestNamespaceMapping(t *testing.T) {
	ctx := context.Background()
	install(t, "src", "shop-m")
	r, m := backupOf(t, "src", newRepo(t))
	mapping, err := clean.ParseNamespaceMapping("shop-m:shop-m2")
	if err != nil {
		t.Fatal(err)
	}
	p := plan(t, r, m, "mapped", restore.Options{Selection: selection.Selection{IncludeNamespaces: []string{"shop-m"}}, NamespaceMapping: mapping})
	res := apply(t, p)
	if res.Totals.Failed > 0 || res.Totals.Created == 0 {
		t.Fatalf("restore:\n%s", outcomes(res))
	}
	for _, o := range res.Objects {
		if o.Namespace == "shop-m" || o.Resource == "namespaces" && o.Name == "shop-m" {
			t.Errorf("%s %s/%s was restored under its old namespace", o.Resource, o.Namespace, o.Name)
		}
	}

	cs, _ := env.Cluster("mapped").Clientset()
	ns, err := cs.CoreV1().Namespaces().Get(ctx, "shop-m2", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if ns.Labels["team"] != "commerce" || ns.Labels["kubernetes.io/metadata.name"] != "shop-m2" {
		t.Errorf("namespace labels %v", ns.Labels)
	}
	if _, err := cs.CoreV1().Namespaces().Get(ctx, "shop-m", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("namespace shop-m exists in the target: %v", err)
	}
	rb, err := cs.RbacV1().RoleBindings("shop-m2").Get(ctx, "shop-api", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if rb.Subjects[0].Namespace != "shop-m2" {
		t.Errorf("RoleBinding subject %+v", rb.Subjects[0])
	}
	crb, err := cs.RbacV1().ClusterRoleBindings().Get(ctx, "shop-widget-reader-shop-m", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if crb.Subjects[0].Namespace != "shop-m2" {
		t.Errorf("ClusterRoleBinding subject %+v", crb.Subjects[0])
	}
	if _, err := cs.RbacV1().ClusterRoles().Get(ctx, "shop-widget-reader", metav1.GetOptions{}); err != nil {
		t.Errorf("the ClusterRole the binding names was not restored: %v", err)
	}
	// Auto: the classes the namespace's objects name come along; cluster
	// configuration of other namespaces stays out.
	if _, err := cs.StorageV1().StorageClasses().Get(ctx, "shop-fast", metav1.GetOptions{}); err != nil {
		t.Errorf("the StorageClass the claims name was not restored: %v", err)
	}
	if _, err := cs.SchedulingV1().PriorityClasses().Get(ctx, "shop-critical", metav1.GetOptions{}); err != nil {
		t.Errorf("the PriorityClass the pods name was not restored: %v", err)
	}
	for _, o := range res.Objects {
		if o.Resource == "clusterrolebindings.rbac.authorization.k8s.io" && o.Name != "shop-widget-reader-shop-m" {
			t.Errorf("ClusterRoleBinding %s of another namespace came along", o.Name)
		}
	}
	widgets, err := cluster(t, "mapped").Dynamic.Resource(widgetsGVR).Namespace("shop-m2").List(ctx, metav1.ListOptions{})
	if err != nil || len(widgets.Items) != 2 {
		t.Errorf("widgets in shop-m2: %v %v", widgets, err)
	}
}

// snapshotCluster lists every object of a cluster with its resourceVersion.
func snapshotCluster(t *testing.T, name string) map[string]string {
	t.Helper()
	versions, err := env.Cluster(name).ObjectVersions(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return versions
}

// A dry run sends everything with dryRun=All and changes nothing: the
// cluster lists the same objects at the same versions afterwards, while the
// result says what would have been created.
func TestDryRunChangesNothing(t *testing.T) {
	install(t, "src", "shop-d")
	r, m := backupOf(t, "src", newRepo(t))
	// Into an existing namespace (the server checks every object) and a
	// missing one (the server cannot: the namespace is not created).
	cs, _ := env.Cluster("dst").Clientset()
	if _, err := cs.CoreV1().Namespaces().Create(context.Background(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "shop-d-existing"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	before := snapshotCluster(t, "dst")
	p := plan(t, r, m, "dst", restore.Options{
		Selection: selection.Selection{IncludeNamespaces: []string{"shop-d"}}, DryRun: true, NamespaceMapping: clean.NamespaceMapping{"shop-d": "shop-d-existing"},
	})
	res := apply(t, p)
	after := snapshotCluster(t, "dst")
	for k, v := range after {
		if before[k] != v {
			t.Errorf("dry run changed %s (resourceVersion %q → %q)", k, before[k], v)
		}
	}
	for k := range before {
		if _, ok := after[k]; !ok {
			t.Errorf("dry run removed %s", k)
		}
	}
	if res.Totals.Created < 15 || res.Totals.Failed > 0 || !res.DryRun {
		t.Errorf("dry run result:\n%s", outcomes(res))
	}
	if res.RecordKey != "" {
		t.Errorf("a dry run wrote a record at %s", res.RecordKey)
	}
	if list, err := r.ListRestores(context.Background(), "dst"); err != nil || len(list) != 0 {
		t.Errorf("restore records after a dry run: %v %v", list, err)
	}

	// Into a namespace that does not exist, objects in it are reported as
	// unchecked, not as created.
	p = plan(t, r, m, "dst", restore.Options{
		Selection: selection.Selection{IncludeNamespaces: []string{"shop-d"}}, DryRun: true, NamespaceMapping: clean.NamespaceMapping{"shop-d": "shop-d-missing"},
	})
	res = apply(t, p)
	for _, o := range res.Objects {
		if o.Namespace == "shop-d-missing" && o.Outcome != restore.Skipped {
			t.Errorf("%s in a missing namespace: %s %s", key(o), o.Outcome, o.Error)
		}
	}
	if _, err := cs.CoreV1().Namespaces().Get(context.Background(), "shop-d-missing", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("a dry run created namespace shop-d-missing: %v", err)
	}
}

// Objects the target refuses are reported, exactly those, with the
// target's error; the rest is restored.
func TestRefusedObjectsAreReported(t *testing.T) {
	ctx := context.Background()
	install(t, "src", "shop-r")
	r, m := backupOf(t, "src", newRepo(t))
	denyConfigMap(t, "refused", "shop-db-init")

	// Without their CustomResourceDefinition, Widgets cannot be created.
	p := plan(t, r, m, "refused", restore.Options{Selection: selection.Selection{IncludeNamespaces: []string{"shop-r"}, ExcludeResources: []string{"customresourcedefinitions"}}})
	for _, it := range p.Items {
		if it.Resource == "widgets.example.kbackup.io" && it.Action != restore.ActionFail {
			t.Errorf("the plan does not say %s will fail: %s %s", it.Display(), it.Action, it.Reason)
		}
	}
	res := apply(t, p)
	var failed []string
	for _, o := range res.With(restore.Failed) {
		failed = append(failed, key(o))
		if o.Error == "" {
			t.Errorf("%s failed without an error", key(o))
		}
	}
	want := []string{"configmaps shop-r/shop-db-init", "widgets.example.kbackup.io shop-r/checkout-widget", "widgets.example.kbackup.io shop-r/search-widget"}
	slices.Sort(failed)
	if !slices.Equal(failed, want) {
		t.Errorf("failed %v, want %v:\n%s", failed, want, outcomes(res))
	}
	for _, o := range res.With(restore.Failed) {
		if o.Resource == "configmaps" && !strings.Contains(o.Error, "kbackup-test-deny") {
			t.Errorf("the refusal does not carry the target's answer: %s", o.Error)
		}
	}
	if res.Phase != restore.PhasePartiallyFailed || res.Totals.Created < 20 {
		t.Errorf("phase %s, totals %+v", res.Phase, res.Totals)
	}
	cs, _ := env.Cluster("refused").Clientset()
	if _, err := cs.CoreV1().ConfigMaps("shop-r").Get(ctx, "shop-config", metav1.GetOptions{}); err != nil {
		t.Errorf("the rest was not restored: %v", err)
	}
}

// denyConfigMap makes the cluster refuse ConfigMaps of one name, with a
// ValidatingAdmissionPolicy, and waits until the policy takes effect.
func denyConfigMap(t *testing.T, clusterName, name string) {
	t.Helper()
	ctx := context.Background()
	cs, _ := env.Cluster(clusterName).Clientset()
	fail := admissionv1.Fail
	policy := &admissionv1.ValidatingAdmissionPolicy{
		ObjectMeta: metav1.ObjectMeta{Name: "kbackup-test-deny"},
		Spec: admissionv1.ValidatingAdmissionPolicySpec{
			FailurePolicy: &fail,
			MatchConstraints: &admissionv1.MatchResources{ResourceRules: []admissionv1.NamedRuleWithOperations{{
				RuleWithOperations: admissionv1.RuleWithOperations{
					Operations: []admissionv1.OperationType{admissionv1.Create},
					Rule:       admissionv1.Rule{APIGroups: []string{""}, APIVersions: []string{"v1"}, Resources: []string{"configmaps"}},
				},
			}}},
			Validations: []admissionv1.Validation{{Expression: fmt.Sprintf("object.metadata.name != %q", name), Message: "kbackup-test-deny refuses it"}},
		},
	}
	if _, err := cs.AdmissionregistrationV1().ValidatingAdmissionPolicies().Create(ctx, policy, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	binding := &admissionv1.ValidatingAdmissionPolicyBinding{
		ObjectMeta: metav1.ObjectMeta{Name: "kbackup-test-deny"},
		Spec:       admissionv1.ValidatingAdmissionPolicyBindingSpec{PolicyName: "kbackup-test-deny", ValidationActions: []admissionv1.ValidationAction{admissionv1.Deny}},
	}
	if _, err := cs.AdmissionregistrationV1().ValidatingAdmissionPolicyBindings().Create(ctx, binding, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	err := wait.PollUntilContextTimeout(ctx, 200*time.Millisecond, 30*time.Second, true, func(ctx context.Context) (bool, error) {
		_, err := cs.CoreV1().ConfigMaps("default").Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: name}},
			metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}})
		return err != nil, nil
	})
	if err != nil {
		t.Fatalf("the policy did not take effect: %v", err)
	}
}

// skip leaves a differing object alone and shows how it differs; fail
// refuses the restore before anything changes; update applies the backup
// with server-side apply as field manager kbackup.
func TestExistingResourcePolicies(t *testing.T) {
	ctx := context.Background()
	install(t, "src", "shop-p")
	r, m := backupOf(t, "src", newRepo(t))
	opts := restore.Options{Selection: selection.Selection{IncludeNamespaces: []string{"shop-p"}}}
	if res := apply(t, plan(t, r, m, "dst", opts)); res.Totals.Failed > 0 {
		t.Fatalf("first restore:\n%s", outcomes(res))
	}

	cs, _ := env.Cluster("dst").Clientset()
	cm, err := cs.CoreV1().ConfigMaps("shop-p").Get(ctx, "shop-config", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	cm.Data["LOG_LEVEL"] = "debug"
	if _, err := cs.CoreV1().ConfigMaps("shop-p").Update(ctx, cm, metav1.UpdateOptions{FieldManager: "someone-else"}); err != nil {
		t.Fatal(err)
	}
	if err := cs.CoreV1().Secrets("shop-p").Delete(ctx, "shop-registry", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	logLevel := func() string {
		cm, err := cs.CoreV1().ConfigMaps("shop-p").Get(ctx, "shop-config", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return cm.Data["LOG_LEVEL"]
	}

	// skip
	opts.ExistingResourcePolicy = restore.PolicySkip
	p := plan(t, r, m, "dst", opts)
	if d := p.Differing(); len(d) != 1 || d[0].Name != "shop-config" || !strings.Contains(d[0].Diff, "+  LOG_LEVEL: debug") {
		t.Fatalf("differing objects in the plan: %v", d)
	}
	res := apply(t, p)
	byName := map[string]restore.ObjectResult{}
	for _, o := range res.Objects {
		byName[key(o)] = o
	}
	if o := byName["configmaps shop-p/shop-config"]; o.Outcome != restore.Skipped || !strings.Contains(o.Diff, "-  LOG_LEVEL: info") {
		t.Errorf("skip: shop-config %s %q", o.Outcome, o.Diff)
	}
	if o := byName["secrets shop-p/shop-registry"]; o.Outcome != restore.Created {
		t.Errorf("skip: the deleted Secret was %s", o.Outcome)
	}
	if res.Totals.Created != 1 || res.Totals.Failed != 0 || res.Totals.Unchanged < 20 {
		t.Errorf("skip: %+v", res.Totals)
	}
	if logLevel() != "debug" {
		t.Error("skip changed the live object")
	}

	// fail
	opts.ExistingResourcePolicy = restore.PolicyFail
	p = plan(t, r, m, "dst", opts)
	if len(p.Conflicts()) != 1 {
		t.Errorf("conflicts %v", p.Conflicts())
	}
	if _, err := restore.Apply(ctx, p); !errors.Is(err, restore.ErrExistingObjects) || !strings.Contains(err.Error(), "shop-config") {
		t.Errorf("fail: Apply returned %v", err)
	}
	if logLevel() != "debug" {
		t.Error("fail changed the live object")
	}

	// update
	opts.ExistingResourcePolicy = restore.PolicyUpdate
	res = apply(t, plan(t, r, m, "dst", opts))
	if got := res.With(restore.Updated); len(got) != 1 || got[0].Name != "shop-config" || res.Totals.Failed != 0 {
		t.Errorf("update: %+v\n%s", res.Totals, outcomes(res))
	}
	cm, err = cs.CoreV1().ConfigMaps("shop-p").Get(ctx, "shop-config", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if cm.Data["LOG_LEVEL"] != "info" {
		t.Errorf("update: LOG_LEVEL is %q", cm.Data["LOG_LEVEL"])
	}
	applied := slices.ContainsFunc(cm.ManagedFields, func(f metav1.ManagedFieldsEntry) bool {
		return f.Manager == restore.FieldManager && f.Operation == metav1.ManagedFieldsOperationApply
	})
	if !applied {
		t.Errorf("update did not server-side apply as %s: %+v", restore.FieldManager, cm.ManagedFields)
	}
	if again := apply(t, plan(t, r, m, "dst", opts)); again.Totals.Updated+again.Totals.Created+again.Totals.Failed != 0 {
		t.Errorf("after update, a restore still changes something:\n%s", outcomes(again))
	}
}

// One object, from a namespace, into a namespace that does not exist yet:
// the plan holds the object and the Namespace it needs, nothing else.
func TestSingleObject(t *testing.T) {
	install(t, "src", "shop-s")
	r, m := backupOf(t, "src", newRepo(t), "shop-s")
	p := plan(t, r, m, "dst", restore.Options{
		Object:           &restore.ObjectRef{Resource: "cm", Namespace: "shop-s", Name: "shop-config"},
		NamespaceMapping: clean.NamespaceMapping{"shop-s": "shop-s-one"},
	})
	var got []string
	for _, it := range p.Items {
		got = append(got, it.Resource+" "+it.Namespace+"/"+it.Name+" "+string(it.Action))
	}
	want := []string{"namespaces /shop-s-one Create", "configmaps shop-s-one/shop-config Create"}
	if !slices.Equal(got, want) {
		t.Fatalf("plan %v, want %v", got, want)
	}
	if res := apply(t, p); res.Totals.Created != 2 {
		t.Errorf("result:\n%s", outcomes(res))
	}
	_, err := restore.NewPlan(context.Background(), restore.PlanInput{Repository: r, Manifest: m, Target: cluster(t, "dst"),
		Options: restore.Options{TargetClusterName: "dst", Object: &restore.ObjectRef{Resource: "cm", Namespace: "shop-s", Name: "nope"}}})
	if err == nil || !strings.Contains(err.Error(), "nope") {
		t.Errorf("a missing object: %v", err)
	}
}

// With IncludeOwned, what controllers made is restored too, and each owner
// reference points at the owner's new UID in the target. An object whose
// owner is not restored but exists in the target points at the live owner.
func TestOwnerReferencesFollowTheOwners(t *testing.T) {
	ctx := context.Background()
	install(t, "src", "shop-o")
	r, m := backupOf(t, "src", newRepo(t))
	mapping := clean.NamespaceMapping{"shop-o": "shop-owned"}
	res := apply(t, plan(t, r, m, "mapped", restore.Options{Selection: selection.Selection{IncludeNamespaces: []string{"shop-o"}}, IncludeOwned: true, NamespaceMapping: mapping}))
	if res.Totals.Failed > 0 {
		t.Fatalf("restore:\n%s", outcomes(res))
	}
	cs, _ := env.Cluster("mapped").Clientset()
	deploy, err := cs.AppsV1().Deployments("shop-owned").Get(ctx, "shop-api", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	rs, err := cs.AppsV1().ReplicaSets("shop-owned").Get(ctx, "shop-api-6d4cf56db6", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if refs := rs.OwnerReferences; len(refs) != 1 || refs[0].UID != deploy.UID || refs[0].Name != "shop-api" {
		t.Errorf("ReplicaSet owner references %+v, want the Deployment's new UID %s", refs, deploy.UID)
	}
	pod, err := cs.CoreV1().Pods("shop-owned").Get(ctx, "shop-api-6d4cf56db6-x7k2p", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if refs := pod.OwnerReferences; len(refs) != 1 || refs[0].UID != rs.UID {
		t.Errorf("Pod owner references %+v, want the ReplicaSet's new UID %s", refs, rs.UID)
	}
	if pod.Spec.NodeName != "" {
		t.Errorf("the Pod kept node %s of the source cluster", pod.Spec.NodeName)
	}
	job, err := cs.BatchV1().Jobs("shop-owned").Get(ctx, "shop-report-29012345", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if job.Spec.Selector == nil || job.Spec.Selector.MatchLabels["batch.kubernetes.io/controller-uid"] != string(job.UID) {
		t.Errorf("the Job's selector was not generated for its new UID: %+v", job.Spec.Selector)
	}

	// Only the ReplicaSet, into a namespace whose Deployment exists.
	if err := cs.AppsV1().ReplicaSets("shop-owned").Delete(ctx, rs.Name, metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	p := plan(t, r, m, "mapped", restore.Options{Selection: selection.Selection{IncludeNamespaces: []string{"shop-o"}, IncludeResources: []string{"rs"}}, NamespaceMapping: mapping})
	res = apply(t, p)
	if got := res.With(restore.Created); len(got) != 1 || got[0].Resource != "replicasets.apps" || len(got[0].Notes) != 1 {
		t.Fatalf("restore of the ReplicaSet alone:\n%s", outcomes(res))
	}
	rs, err = cs.AppsV1().ReplicaSets("shop-owned").Get(ctx, "shop-api-6d4cf56db6", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if refs := rs.OwnerReferences; len(refs) != 1 || refs[0].UID != deploy.UID {
		t.Errorf("ReplicaSet owner references %+v, want the live Deployment %s", refs, deploy.UID)
	}
}
