package e2e

import (
	"context"
	"encoding/json"
	"io"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/yaml"

	"github.com/kbackup/kbackup/core/catalog"
	"github.com/kbackup/kbackup/core/clean"
	"github.com/kbackup/kbackup/core/diff"
	"github.com/kbackup/kbackup/core/kube"
	"github.com/kbackup/kbackup/core/repo"
	"github.com/kbackup/kbackup/core/restore"
	"github.com/kbackup/kbackup/core/testenv/repotest"
	"github.com/kbackup/kbackup/core/testenv/workload"
)

// restoreOutput is what `restore -o json|yaml` prints.
type restoreOutput struct {
	restore.Result
	Record string `json:"record"`
}

func parseRestore(t *testing.T, res result, format string) restoreOutput {
	t.Helper()
	var out restoreOutput
	var err error
	if format == "yaml" {
		err = yaml.Unmarshal([]byte(res.stdout), &out)
	} else {
		err = json.Unmarshal([]byte(res.stdout), &out)
	}
	if err != nil || out.ID == "" {
		t.Fatalf("restore -o %s printed no result (%v):\n%s", format, err, res)
	}
	return out
}

// install puts the realistic application into a namespace of a cluster.
func install(t *testing.T, cluster, namespace string) {
	t.Helper()
	if _, err := workload.Install(context.Background(), env.Cluster(cluster).Config(), workload.Options{Namespace: namespace, OwnedObjects: true}); err != nil {
		t.Fatal(err)
	}
}

// openBucket opens the repository in bucket as the binary does.
func openBucket(t *testing.T, bucket string) *repo.Repository {
	t.Helper()
	opts := repotest.S3Options(env.S3, bucket)
	opts.Create = false // read what the binary wrote
	r, err := repo.Open(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// clusterClient connects to a test cluster without a client-side limit.
func clusterClient(t *testing.T, name string) *kube.Client {
	t.Helper()
	c, err := kube.NewClient(env.Cluster(name).Config(), kube.ClientOptions{QPS: -1})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// listCluster lists every object of a cluster with its resourceVersion.
func listCluster(t *testing.T, name string) map[string]string {
	t.Helper()
	versions, err := env.Cluster(name).ObjectVersions(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return versions
}

// sameCluster fails the test when the cluster lists other objects, or
// other versions of them, than before.
func sameCluster(t *testing.T, what string, before, after map[string]string) {
	t.Helper()
	for k, v := range after {
		if before[k] != v {
			t.Errorf("%s changed %s (resourceVersion %q → %q)", what, k, before[k], v)
		}
	}
	for k := range before {
		if _, ok := after[k]; !ok {
			t.Errorf("%s removed %s", what, k)
		}
	}
}

// namespaceExists says whether a namespace exists in a cluster.
func namespaceExists(t *testing.T, cluster, name string) bool {
	t.Helper()
	cs, err := env.Cluster(cluster).Clientset()
	if err != nil {
		t.Fatal(err)
	}
	_, err = cs.CoreV1().Namespaces().Get(context.Background(), name, metav1.GetOptions{})
	if err != nil && !apierrors.IsNotFound(err) {
		t.Fatal(err)
	}
	return err == nil
}

// readRecord reads a restore record straight from the bucket.
func readRecord(t *testing.T, bucket, cluster, id string) restore.Result {
	t.Helper()
	obj, err := env.S3.Client().GetObject(context.Background(), bucket, cluster+"/_restores/"+id+".json", minio.GetObjectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer obj.Close()
	data, err := io.ReadAll(obj)
	if err != nil {
		t.Fatalf("reading the record of restore %s: %v", id, err)
	}
	var rec restore.Result
	if err := json.Unmarshal(data, &rec); err != nil {
		t.Fatalf("the record of restore %s is not JSON: %v\n%s", id, err, data)
	}
	return rec
}

// objectKey names an object of a result by its namespace in the backup.
func objectKey(o restore.ObjectResult) string {
	ns := o.Namespace
	if o.SourceNamespace != "" {
		ns = o.SourceNamespace
	}
	if o.Resource == "namespaces" {
		ns = ""
	}
	return o.Resource + " " + ns + "/" + o.Name
}

// The realistic application of prod-eu, backed up and restored into dr-us
// with the built binary: the plan comes first, every object it created
// equals its source after cleaning, what controllers make is left to them,
// the record in the bucket says what the output said, and a second restore
// changes nothing and says so.
func TestRestoreIntoAnotherCluster(t *testing.T) {
	ctx := context.Background()
	const ns = "e2e-dr"
	install(t, "prod-eu", ns)
	bucket := env.S3.NewBucket(t)
	storage := []string{"--storage", env.S3.RepositoryURL(bucket)}
	b := parseBackupResult(t, mustRun(t, 0, invocation{}, append([]string{"backup", "create", "--context", "prod-eu", "-o", "json"}, storage...)...))
	restoreArgs := append([]string{"restore", "latest", "--from-cluster", "prod-eu", "-n", ns, "--context", "dr-us", "--yes"}, storage...)

	// Cluster-scoped objects of the application (its CRD, ClusterRole, …)
	// may exist in dr-us already, restored by another test that ran first.
	before := listCluster(t, "dr-us")
	started := time.Now()
	first := mustRun(t, 0, invocation{}, restoreArgs...)
	t.Logf("first restore took %s:\n%s", time.Since(started).Round(time.Millisecond), first.stdout)
	for _, want := range []string{
		"Restore plan: backup " + b.ID + " of cluster prod-eu", "into cluster dr-us",
		"NAMESPACE", "CREATE", ns, "deployments.apps", "widgets.example.kbackup.io", "TOTAL",
		"CREATED", "UPDATED", "UNCHANGED", "SKIPPED", "FAILED", ": Completed",
		"controlled by", "Record:  s3://" + bucket + "/dr-us/_restores/",
	} {
		if !strings.Contains(first.stdout, want) {
			t.Errorf("the restore's output lacks %q:\n%s", want, first)
		}
	}
	if strings.Index(first.stdout, "Restore plan:") > strings.Index(first.stdout, ": Completed") {
		t.Errorf("the plan should come before the result:\n%s", first.stdout)
	}

	// The record, read back with restore list and describe, and straight
	// from the bucket.
	list := mustRun(t, 0, invocation{}, append([]string{"restore", "list", "--context", "dr-us", "-o", "json"}, storage...)...)
	var listed struct {
		Items []struct {
			ID     string            `json:"id"`
			Backup restore.BackupRef `json:"backup"`
			Phase  string            `json:"phase"`
			Record string            `json:"record"`
		} `json:"items"`
	}
	if err := json.Unmarshal([]byte(list.stdout), &listed); err != nil || len(listed.Items) != 1 {
		t.Fatalf("restore list -o json: %v\n%s", err, list)
	}
	id := listed.Items[0].ID
	if listed.Items[0].Backup.ID != b.ID || listed.Items[0].Backup.Cluster != "prod-eu" || listed.Items[0].Record != "dr-us/_restores/"+id+".json" {
		t.Errorf("restore list: %+v", listed.Items[0])
	}
	if !strings.Contains(first.stdout, "Restore "+id+" of backup "+b.ID) || !strings.Contains(first.stdout, "dr-us/_restores/"+id+".json") {
		t.Errorf("the output names neither the restore %s nor its record:\n%s", id, first.stdout)
	}
	rec := readRecord(t, bucket, "dr-us", id)
	described := mustRun(t, 0, invocation{}, append([]string{"restore", "describe", id, "-o", "json"}, storage...)...)
	var fromDescribe restore.Result
	if err := json.Unmarshal([]byte(described.stdout), &fromDescribe); err != nil || fromDescribe.Totals != rec.Totals || len(fromDescribe.Objects) != len(rec.Objects) {
		t.Errorf("restore describe -o json differs from the record in the bucket (%v): %+v, %+v", err, fromDescribe.Totals, rec.Totals)
	}
	table := mustRun(t, 0, invocation{}, append([]string{"restore", "describe", id}, storage...)...)
	for _, want := range []string{"Backup:", b.ID, "Target:", "dr-us", "Stages:", "CustomResourceDefinitions", "Outcomes:", "Skipped ("} {
		if !strings.Contains(table.stdout, want) {
			t.Errorf("restore describe lacks %q:\n%s", want, table)
		}
	}

	if rec.Phase != restore.PhaseCompleted || rec.Totals.Failed != 0 || rec.Totals.Created < 25 {
		t.Fatalf("record: phase %s, totals %+v", rec.Phase, rec.Totals)
	}
	created := map[string]bool{}
	owned := map[string]bool{}
	for _, o := range rec.Objects {
		switch {
		case o.Outcome == restore.Created:
			created[o.Resource] = true
		case o.Namespace == "" && before[o.Resource+" /"+o.Name] != "":
			created[o.Resource] = true // there before this test: not this restore's to create
		case o.Outcome == restore.Skipped && strings.HasPrefix(o.Reason, "controlled by"):
			owned[o.Resource] = true
		}
	}
	for _, want := range []string{"customresourcedefinitions.apiextensions.k8s.io", "widgets.example.kbackup.io", "namespaces", "configmaps", "secrets",
		"serviceaccounts", "roles.rbac.authorization.k8s.io", "rolebindings.rbac.authorization.k8s.io", "clusterrolebindings.rbac.authorization.k8s.io",
		"clusterroles.rbac.authorization.k8s.io", "deployments.apps", "statefulsets.apps", "services", "persistentvolumeclaims",
		"networkpolicies.networking.k8s.io", "horizontalpodautoscalers.autoscaling", "poddisruptionbudgets.policy", "ingresses.networking.k8s.io",
		"cronjobs.batch", "priorityclasses.scheduling.k8s.io", "storageclasses.storage.k8s.io", "ingressclasses.networking.k8s.io"} {
		if !created[want] {
			t.Errorf("no %s was created", want)
		}
	}
	for _, want := range []string{"replicasets.apps", "pods", "jobs.batch", "endpointslices.discovery.k8s.io"} {
		if !owned[want] {
			t.Errorf("the %s that a restored controller makes were not left to it", want)
		}
	}

	// Every created object equals its source in the backup after cleaning.
	r := openBucket(t, bucket)
	m, err := r.ReadManifest(ctx, "prod-eu", b.ID)
	if err != nil {
		t.Fatal(err)
	}
	objs, err := catalog.ReadAll(ctx, r, catalog.Packs(m), 4)
	if err != nil {
		t.Fatal(err)
	}
	source := map[string]*unstructured.Unstructured{}
	for _, o := range objs {
		source[o.Pack.Resource+" "+o.Object.GetNamespace()+"/"+o.Object.GetName()] = o.Object
	}
	dyn := clusterClient(t, "dr-us").Dynamic
	compared := 0
	for _, o := range rec.Objects {
		if o.Outcome != restore.Created {
			continue
		}
		src, ok := source[objectKey(o)]
		if !ok {
			t.Errorf("%s was created but is not in the backup", objectKey(o))
			continue
		}
		gv, _ := schema.ParseGroupVersion(src.GetAPIVersion())
		live, err := dyn.Resource(gv.WithResource(schema.ParseGroupResource(o.Resource).Resource)).Namespace(o.Namespace).Get(ctx, o.Name, metav1.GetOptions{})
		if err != nil {
			t.Errorf("%s: %v", objectKey(o), err)
			continue
		}
		text, differs, err := diff.Objects(clean.Copy(src, clean.Options{}), clean.Copy(live, clean.Options{}), "backup", "dr-us", 3)
		if err != nil || differs {
			t.Errorf("%s differs from its source after cleaning: %v\n%s", objectKey(o), err, text)
		}
		compared++
	}
	t.Logf("%d restored objects equal their source after cleaning", compared)

	// Again: nothing changes, and the output says so.
	again := parseRestore(t, mustRun(t, 0, invocation{}, append(restoreArgs, "-o", "json")...), "json")
	if again.Totals.Created+again.Totals.Updated+again.Totals.Failed != 0 || again.Totals.Unchanged != rec.Totals.Created+rec.Totals.Unchanged || again.Phase != restore.PhaseCompleted {
		t.Errorf("the second restore: %+v, want %d unchanged and nothing else but skips", again.Totals, rec.Totals.Created+rec.Totals.Unchanged)
	}
	for _, o := range again.Objects {
		if o.Outcome == restore.Skipped && strings.Contains(o.Reason, "differs") {
			t.Errorf("%s differs after being restored:\n%s", objectKey(o), o.Diff)
		}
	}
	if !strings.HasPrefix(again.Record, "s3://"+bucket+"/dr-us/_restores/"+again.ID+".json") {
		t.Errorf("-o json names the record %q", again.Record)
	}
	third := mustRun(t, 0, invocation{}, restoreArgs...)
	if !strings.Contains(third.stdout, "Nothing changed") || !strings.Contains(third.stdout, "0 created, 0 updated") {
		t.Errorf("a restore that changes nothing should say so:\n%s", third.stdout)
	}

	// One object, changed in dr-us since: skip leaves it and says how it
	// differs; update puts the backup's back.
	cs, err := env.Cluster("dr-us").Clientset()
	if err != nil {
		t.Fatal(err)
	}
	cm, err := cs.CoreV1().ConfigMaps(ns).Get(ctx, "shop-config", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	backedUp := cm.Data["LOG_LEVEL"]
	cm.Data["LOG_LEVEL"] = "changed-in-dr-us"
	if _, err := cs.CoreV1().ConfigMaps(ns).Update(ctx, cm, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	one := append([]string{"restore", "latest", "--from-cluster", "prod-eu", "--object", "cm/shop-config", "-n", ns, "--context", "dr-us", "--yes", "--show-diff"}, storage...)
	skipped := mustRun(t, 0, invocation{}, one...)
	for _, want := range []string{"Existing objects that differ from the backup (1)", "configmaps " + ns + "/shop-config", "+  LOG_LEVEL: changed-in-dr-us",
		"exists in the target and differs from the backup (policy skip)", "1 skipped"} {
		if !strings.Contains(skipped.stdout, want) {
			t.Errorf("restoring one changed object with policy skip lacks %q:\n%s", want, skipped)
		}
	}
	updated := parseRestore(t, mustRun(t, 0, invocation{}, append(one, "--existing-resource-policy", "update", "-o", "json")...), "json")
	if updated.Totals.Updated != 1 || updated.Totals.Total != 2 || updated.Objects[len(updated.Objects)-1].Name != "shop-config" {
		t.Errorf("restoring one object with policy update: %+v", updated.Totals)
	}
	if cm, err := cs.CoreV1().ConfigMaps(ns).Get(ctx, "shop-config", metav1.GetOptions{}); err != nil || cm.Data["LOG_LEVEL"] != backedUp {
		t.Errorf("after the update, LOG_LEVEL is %q, want the backup's %q (%v)", cm.Data["LOG_LEVEL"], backedUp, err)
	}
}

// A namespace restored under another name: its objects land in the new
// namespace, the references to it follow (RoleBinding and
// ClusterRoleBinding subjects), nothing lands in the old one; and diff with
// the same mapping finds nothing changed, only the objects left to
// controllers (which these test clusters do not run).
func TestRestoreWithNamespaceMapping(t *testing.T) {
	ctx := context.Background()
	const ns, mapped = "e2e-map", "e2e-map-restored"
	install(t, "prod-eu", ns)
	storage := []string{"--storage", env.S3.RepositoryURL(env.S3.NewBucket(t))}
	mustRun(t, 0, invocation{}, append([]string{"backup", "create", "--context", "prod-eu"}, storage...)...)

	res := mustRun(t, 0, invocation{}, append([]string{"restore", "latest", "--from-cluster", "prod-eu", "-n", ns, "--namespace-mapping", ns + ":" + mapped,
		"--context", "dr-us", "--yes", "-o", "yaml"}, storage...)...)
	out := parseRestore(t, res, "yaml")
	if out.Phase != restore.PhaseCompleted || out.Totals.Created < 25 {
		t.Fatalf("mapped restore: %s %+v\n%s", out.Phase, out.Totals, res)
	}
	for _, o := range out.Objects {
		if o.Namespace == ns || o.Resource == "namespaces" && o.Name == ns {
			t.Errorf("%s landed in the old namespace", objectKey(o))
		}
		if o.Namespace == mapped && o.SourceNamespace != ns {
			t.Errorf("%s does not say where it came from: %q", objectKey(o), o.SourceNamespace)
		}
	}
	if namespaceExists(t, "dr-us", ns) || !namespaceExists(t, "dr-us", mapped) {
		t.Errorf("namespace %s should not exist in dr-us, and %s should", ns, mapped)
	}
	cs, err := env.Cluster("dr-us").Clientset()
	if err != nil {
		t.Fatal(err)
	}
	rb, err := cs.RbacV1().RoleBindings(mapped).Get(ctx, "shop-api", metav1.GetOptions{})
	if err != nil || rb.Subjects[0].Namespace != mapped {
		t.Errorf("RoleBinding subjects should name %s: %+v %v", mapped, rb, err)
	}
	crb, err := cs.RbacV1().ClusterRoleBindings().Get(ctx, "shop-widget-reader-"+ns, metav1.GetOptions{})
	if err != nil || crb.Subjects[0].Namespace != mapped {
		t.Errorf("ClusterRoleBinding subjects should name %s: %+v %v", mapped, crb, err)
	}
	if deploy, err := cs.AppsV1().Deployments(mapped).Get(ctx, "shop-api", metav1.GetOptions{}); err != nil || deploy.Spec.Template.Spec.ServiceAccountName != "shop-api" {
		t.Errorf("the Deployment in %s: %v", mapped, err)
	}
	widgets, err := clusterClient(t, "dr-us").Dynamic.Resource(schema.GroupVersionResource{Group: "example.kbackup.io", Version: "v1", Resource: "widgets"}).Namespace(mapped).List(ctx, metav1.ListOptions{})
	if err != nil || len(widgets.Items) != 2 {
		t.Errorf("widgets in %s: %v", mapped, err)
	}

	// The backup against the restored copy: only what controllers would
	// have made differs (removed: no controller runs here).
	d := kbackup(t, invocation{}, append([]string{"diff", "latest", "--from-cluster", "prod-eu", "--context", "dr-us", "-n", ns, "--namespace-mapping", ns + ":" + mapped, "-o", "json"}, storage...)...)
	if d.code != 3 {
		t.Fatalf("want exit code 3 (differences):\n%s", d)
	}
	var rep diff.Report
	if err := json.Unmarshal([]byte(d.stdout), &rep); err != nil {
		t.Fatal(err)
	}
	for _, e := range rep.Entries {
		if e.Change != diff.Removed || !slices.Contains([]string{"replicasets.apps", "pods", "jobs.batch", "endpointslices.discovery.k8s.io"}, e.Resource) {
			t.Errorf("diff after a mapped restore: %s %s %s/%s\n%s", e.Change, e.Resource, e.Namespace, e.Name, e.Diff)
		}
	}
	if rep.Totals.Unchanged < 25 {
		t.Errorf("diff after a mapped restore compared too little: %+v", rep.Totals)
	}
	same := mustRun(t, 0, invocation{}, append([]string{"diff", "latest", "--from-cluster", "prod-eu", "--context", "dr-us", "-n", ns, "--namespace-mapping", ns + ":" + mapped,
		"--exclude-resources", "replicasets,pods,jobs,endpointslices"}, storage...)...)
	if !strings.Contains(same.stdout, "No differences") {
		t.Errorf("diff without the controllers' objects:\n%s", same)
	}
}

// --dry-run=server (or --dry-run alone) sends everything with dryRun=All:
// the target answers for every object, nothing changes (the cluster lists
// the same objects at the same versions), no record is written, and no
// confirmation is needed.
func TestRestoreDryRunChangesNothing(t *testing.T) {
	const ns = "e2e-dry"
	install(t, "prod-eu", ns)
	bucket := env.S3.NewBucket(t)
	storage := []string{"--storage", env.S3.RepositoryURL(bucket)}
	mustRun(t, 0, invocation{}, append([]string{"backup", "create", "--context", "prod-eu"}, storage...)...)

	before := listCluster(t, "dr-us")
	// The whole cluster: objects in namespaces dr-us does not have cannot
	// be checked (they are skipped, saying why); the others are.
	whole := parseRestore(t, mustRun(t, 0, invocation{}, append([]string{"restore", "latest", "--from-cluster", "prod-eu", "--context", "dr-us", "--dry-run", "-o", "json"}, storage...)...), "json")
	if !whole.DryRun || whole.Totals.Created == 0 || whole.Totals.Failed != 0 || whole.Record != "" {
		t.Errorf("whole-cluster dry run: dryRun %v, totals %+v, record %q", whole.DryRun, whole.Totals, whole.Record)
	}
	checked := false
	for _, o := range whole.Objects {
		if o.Outcome == restore.Skipped && strings.HasPrefix(o.Reason, "dry run: namespace "+ns+" does not exist") {
			checked = true
		}
	}
	if !checked {
		t.Errorf("objects of %s, which dr-us does not have, should be skipped saying why", ns)
	}
	// The whole-cluster dry run sent cluster-scoped objects too (the
	// backup holds prod-eu's ClusterRoles, PriorityClasses, …): nothing of
	// them, nor anything else, may have been created or changed.
	clusterScoped := 0
	for _, o := range whole.Objects {
		if o.Namespace == "" && o.Outcome == restore.Created {
			clusterScoped++
		}
	}
	if clusterScoped == 0 {
		t.Errorf("the whole-cluster dry run sent no cluster-scoped object, so it checks none of them: %+v", whole.Totals)
	}
	sameCluster(t, "a whole-cluster dry run", before, listCluster(t, "dr-us"))
	// Into a namespace that exists, the server checks every object.
	cs, err := env.Cluster("dr-us").Clientset()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cs.CoreV1().Namespaces().Create(context.Background(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "e2e-dry-target"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	before = listCluster(t, "dr-us")
	res := mustRun(t, 0, invocation{}, append([]string{"restore", "latest", "--from-cluster", "prod-eu", "-n", ns, "--namespace-mapping", ns + ":e2e-dry-target",
		"--context", "dr-us", "--dry-run=server"}, storage...)...)
	for _, want := range []string{"Dry run of restore", ": Completed", "accepted every object sent (dryRun=All)", "no restore record"} {
		if !strings.Contains(res.stdout, want) {
			t.Errorf("the dry run's output lacks %q:\n%s", want, res)
		}
	}
	sameCluster(t, "a dry run", before, listCluster(t, "dr-us"))
	for _, k := range bucketKeys(t, env.S3, bucket) {
		if strings.Contains(k, "/_restores/") {
			t.Errorf("a dry run wrote %s", k)
		}
	}
	bad := mustRun(t, 1, invocation{}, append([]string{"restore", "latest", "--from-cluster", "prod-eu", "--context", "dr-us", "--dry-run=client"}, storage...)...)
	if !strings.Contains(bad.stderr, "--dry-run=server") {
		t.Errorf("--dry-run=client should be refused, naming server:\n%s", bad)
	}
}

// Custom resources whose definition was left out with --exclude-resources
// are refused by the target: exactly those fail, with the reason, the rest
// is restored, the exit code is 2, and the record in the bucket says the
// same.
func TestRestoreReportsRefusedObjects(t *testing.T) {
	ctx := context.Background()
	const ns = "e2e-refused"
	prod := clusterClient(t, "prod-eu")
	crds := prod.Dynamic.Resource(schema.GroupVersionResource{Group: "apiextensions.k8s.io", Version: "v1", Resource: "customresourcedefinitions"})
	crd := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
		"metadata": map[string]any{"name": "gadgets.e2e.kbackup.io"},
		"spec": map[string]any{
			"group": "e2e.kbackup.io", "scope": "Namespaced",
			"names": map[string]any{"plural": "gadgets", "singular": "gadget", "kind": "Gadget"},
			"versions": []any{map[string]any{"name": "v1", "served": true, "storage": true,
				"schema": map[string]any{"openAPIV3Schema": map[string]any{"type": "object", "x-kubernetes-preserve-unknown-fields": true}}}},
		},
	}}
	if _, err := crds.Create(ctx, crd, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	gadgets := schema.GroupVersionResource{Group: "e2e.kbackup.io", Version: "v1", Resource: "gadgets"}
	eventually(t, 30*time.Second, "the Gadget CRD to be served", func() bool {
		_, err := prod.Dynamic.Resource(gadgets).List(ctx, metav1.ListOptions{})
		return err == nil
	})
	cs, err := env.Cluster("prod-eu").Clientset()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := cs.CoreV1().ConfigMaps(ns).Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "settings"}, Data: map[string]string{"a": "b"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := cs.CoreV1().Secrets(ns).Create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "token"}, StringData: map[string]string{"t": "x"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"gear", "sprocket"} {
		g := &unstructured.Unstructured{Object: map[string]any{"apiVersion": "e2e.kbackup.io/v1", "kind": "Gadget",
			"metadata": map[string]any{"name": name, "namespace": ns}, "spec": map[string]any{"size": int64(3)}}}
		if _, err := prod.Dynamic.Resource(gadgets).Namespace(ns).Create(ctx, g, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	bucket := env.S3.NewBucket(t)
	storage := []string{"--storage", env.S3.RepositoryURL(bucket)}
	mustRun(t, 0, invocation{}, append([]string{"backup", "create", "--context", "prod-eu", "-n", ns, "--cluster-resources", "on"}, storage...)...)

	args := append([]string{"restore", "latest", "--from-cluster", "prod-eu", "-n", ns, "--exclude-resources", "customresourcedefinitions", "--context", "dr-us", "--yes"}, storage...)
	res := mustRun(t, 2, invocation{}, args...)
	for _, want := range []string{"Cannot be restored (2):", "Failed (2):", "gadgets.e2e.kbackup.io " + ns + "/gear: the target serves no gadgets.e2e.kbackup.io",
		"gadgets.e2e.kbackup.io " + ns + "/sprocket", ": PartiallyFailed"} {
		if !strings.Contains(res.stdout, want) {
			t.Errorf("the output lacks %q:\n%s", want, res)
		}
	}
	if !strings.Contains(res.stderr, "PartiallyFailed: 2 objects failed") {
		t.Errorf("stderr should say how many failed:\n%s", res)
	}
	var id string
	for _, line := range strings.Split(res.stdout, "\n") {
		if rest, ok := strings.CutPrefix(line, "Restore "); ok {
			id, _, _ = strings.Cut(rest, " ")
		}
	}
	rec := readRecord(t, bucket, "dr-us", id)
	var failed, created []string
	for _, o := range rec.Objects {
		switch o.Outcome {
		case restore.Failed:
			failed = append(failed, objectKey(o))
		case restore.Created:
			created = append(created, objectKey(o))
		}
	}
	slices.Sort(created)
	if rec.Phase != restore.PhasePartiallyFailed || strings.Join(failed, ",") != "gadgets.e2e.kbackup.io "+ns+"/gear,gadgets.e2e.kbackup.io "+ns+"/sprocket" {
		t.Errorf("the record says phase %s, failed %v", rec.Phase, failed)
	}
	if strings.Join(created, ",") != "configmaps "+ns+"/settings,namespaces /"+ns+",secrets "+ns+"/token" {
		t.Errorf("the record says created %v", created)
	}
	if _, err := cs.CoreV1().ConfigMaps(ns).Get(ctx, "settings", metav1.GetOptions{}); err != nil {
		t.Errorf("the rest was not restored: %v", err)
	}
}

// Without --yes a restore asks on a terminal and refuses elsewhere; "n"
// changes nothing, "y" restores; on a terminal, without a backup ID, the
// user picks one of the recent backups.
func TestRestoreAsksFirst(t *testing.T) {
	const ns = "e2e-ask"
	cs, err := env.Cluster("prod-eu").Clientset()
	if err != nil {
		t.Fatal(err)
	}
	if err := workload.CreateConfigMaps(context.Background(), cs, workload.ConfigMaps{Namespaces: []string{ns}, Total: 5, Prefix: "ask"}); err != nil {
		t.Fatal(err)
	}
	storage := []string{"--storage", env.S3.RepositoryURL(env.S3.NewBucket(t))}
	for _, name := range []string{"ask-old", "ask-new"} {
		mustRun(t, 0, invocation{}, append([]string{"backup", "create", name, "--context", "prod-eu", "-n", ns}, storage...)...)
	}
	args := append([]string{"restore", "--from-cluster", "prod-eu", "-n", ns, "--context", "dr-us"}, storage...)

	before := listCluster(t, "dr-us")
	refused := mustRun(t, 1, invocation{}, append([]string{"restore", "latest"}, args[1:]...)...)
	if !strings.Contains(refused.stderr, "not restoring without --yes") || !strings.Contains(refused.stderr, "--dry-run") {
		t.Errorf("without a terminal and --yes:\n%s", refused)
	}
	noID := mustRun(t, 1, invocation{}, args...)
	if !strings.Contains(noID.stderr, "give its ID or latest") {
		t.Errorf("without a terminal and an ID:\n%s", noID)
	}
	out, code := ptyRunInput(t, nil, "n\n", append([]string{"restore", "latest"}, args[1:]...)...)
	if code != 1 || !strings.Contains(out, "Restore plan") || !strings.Contains(out, "[y/N]") || !strings.Contains(out, "not restored") {
		t.Errorf("answering n: exit %d\n%s", code, out)
	}
	sameCluster(t, "a restore answered n", before, listCluster(t, "dr-us"))
	if namespaceExists(t, "dr-us", ns) {
		t.Fatalf("answering n restored namespace %s", ns)
	}

	// The picker lists the newest first; 2 is the older backup.
	out, code = ptyRunInput(t, nil, "2\ny\n", args...)
	if code != 0 {
		t.Fatalf("picking and answering y: exit %d\n%s", code, out)
	}
	newer, older := strings.Index(out, "ask-new"), strings.Index(out, "ask-old")
	if !strings.Contains(out, "Recent backups of cluster prod-eu") || newer < 0 || older < newer || !strings.Contains(out, "Restore which backup?") {
		t.Errorf("the picker:\n%s", out)
	}
	if !strings.Contains(out, "of backup ask-old (cluster prod-eu) into cluster dr-us") || !strings.Contains(out, "\x1b[") {
		t.Errorf("the restore of the picked backup, styled on the terminal:\n%s", out)
	}
	if !namespaceExists(t, "dr-us", ns) {
		t.Errorf("answering y did not restore namespace %s", ns)
	}
	list := mustRun(t, 0, invocation{}, append([]string{"restore", "list", "--context", "dr-us"}, storage...)...)
	if !strings.Contains(list.stdout, "prod-eu/ask-old") || !strings.Contains(list.stdout, "Completed") {
		t.Errorf("restore list:\n%s", list)
	}
}
