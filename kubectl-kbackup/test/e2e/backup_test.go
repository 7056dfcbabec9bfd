package e2e

import (
	"bytes"
	"context"
	"io"
	"slices"
	"strings"
	"testing"

	"github.com/minio/minio-go/v7"
	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/dynamic"

	"github.com/kbackup/kbackup/core/testenv/workload"
)

// A whole-cluster backup of 20+ resource types, a CRD and its objects among
// them, reads back object by object with `backup get` exactly as the objects
// are live (but for managedFields, which backups leave out).
func TestFullBackupReadsBackEveryObject(t *testing.T) {
	ctx := context.Background()
	cluster := env.Cluster("prod-eu")
	installed, err := workload.Install(ctx, cluster.Config(), workload.Options{Namespace: "e2e-full", OwnedObjects: true})
	if err != nil {
		t.Fatal(err)
	}
	storage := []string{"--storage", env.S3.RepositoryURL(env.S3.NewBucket(t))}

	res := mustRun(t, 0, invocation{}, append([]string{"backup", "create", "--context", "prod-eu", "-o", "json"}, storage...)...)
	b := parseBackupResult(t, res)
	if b.Phase != "Completed" || b.Cluster.Name != "prod-eu" || b.Stats.ResourceTypes < 20 {
		t.Fatalf("want a Completed backup of prod-eu with 20+ types, got phase %s, cluster %s, %d types:\n%s", b.Phase, b.Cluster.Name, b.Stats.ResourceTypes, res)
	}
	kinds := installed.Kinds()
	for _, want := range []string{"customresourcedefinitions.apiextensions.k8s.io", "widgets.example.kbackup.io"} {
		if !slices.Contains(kinds, want) {
			t.Fatalf("the workload has no %s: %v", want, kinds)
		}
	}

	dyn, err := dynamic.NewForConfig(cluster.Config())
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range installed.Objects {
		ref := o.GroupVersionResource.GroupResource().String() + "/" + o.Name
		args := append([]string{"backup", "get", b.ID, ref, "-o", "json"}, storage...)
		if o.Namespace != "" {
			args = append(args, "-n", o.Namespace)
		}
		got := mustRun(t, 0, invocation{}, args...)
		stored := &unstructured.Unstructured{}
		if err := stored.UnmarshalJSON([]byte(got.stdout)); err != nil {
			t.Fatalf("%s: not an object: %v\n%s", ref, err, got)
		}
		live, err := dyn.Resource(o.GroupVersionResource).Namespace(o.Namespace).Get(ctx, o.Name, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		live.SetManagedFields(nil)
		if !equality.Semantic.DeepEqual(live.Object, stored.Object) {
			t.Errorf("%s in namespace %q differs from the live object:\nlive:   %v\nstored: %v", ref, o.Namespace, live.Object, stored.Object)
		}
	}

	// The type names a user types work too, and the namespace defaults to
	// the context's, as in kubectl.
	res = mustRun(t, 0, invocation{}, append([]string{"backup", "get", "latest", "Widget", "checkout-widget", "-n", "e2e-full", "--context", "prod-eu"}, storage...)...)
	if !strings.Contains(res.stdout, "kind: Widget") || !strings.Contains(res.stdout, "color: blue") {
		t.Errorf("backup get of a custom resource as YAML:\n%s", res)
	}
	res = kbackup(t, invocation{}, append([]string{"backup", "get", "latest", "deployments.apps/shop-api", "--context", "prod-eu"}, storage...)...)
	if res.code != 1 || !strings.Contains(res.stderr, `"shop-api" in namespace default`) {
		t.Errorf("without -n the namespace is the context's (default):\n%s", res)
	}
}

// A second backup after one object changed uploads one pack: the command's
// statistics and the bucket's contents agree.
func TestSecondBackupUploadsOnlyTheChangedPack(t *testing.T) {
	ctx := context.Background()
	cs, err := env.Cluster("prod-eu").Clientset()
	if err != nil {
		t.Fatal(err)
	}
	namespaces := []string{"e2e-incr-a", "e2e-incr-b", "e2e-incr-c"}
	if err := workload.CreateConfigMaps(ctx, cs, workload.ConfigMaps{Namespaces: namespaces, Total: 300, Prefix: "incr"}); err != nil {
		t.Fatal(err)
	}
	bucket := env.S3.NewBucket(t)
	args := []string{"backup", "create", "--context", "prod-eu", "--include-namespaces", "e2e-incr-*", "-o", "json", "--storage", env.S3.RepositoryURL(bucket)}

	first := parseBackupResult(t, mustRun(t, 0, invocation{}, args...))
	packsBefore := packKeys(bucketKeys(t, env.S3, bucket))
	if first.Stats.PacksUploaded != first.Stats.Packs || len(packsBefore) != first.Stats.Packs {
		t.Fatalf("first backup: %+v; the bucket holds %d packs", first.Stats, len(packsBefore))
	}

	cm, err := cs.CoreV1().ConfigMaps("e2e-incr-b").Get(ctx, "incr-000042", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	cm.Data["value"] = "changed"
	if _, err := cs.CoreV1().ConfigMaps("e2e-incr-b").Update(ctx, cm, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}

	second := parseBackupResult(t, mustRun(t, 0, invocation{}, args...))
	if second.Stats.PacksUploaded != 1 || second.Stats.PacksReused != second.Stats.Packs-1 || second.Stats.BytesUploaded <= 0 {
		t.Errorf("second backup after one change: %+v; want 1 pack uploaded, the others reused", second.Stats)
	}
	packsAfter := packKeys(bucketKeys(t, env.S3, bucket))
	var added []string
	for _, k := range packsAfter {
		if !slices.Contains(packsBefore, k) {
			added = append(added, k)
		}
	}
	if len(added) != 1 || !strings.HasPrefix(added[0], "prod-eu/e2e-incr-b/configmaps/") {
		t.Errorf("the bucket gained %v; want one configmaps pack of e2e-incr-b", added)
	}
}

// A type the backup's identity may not list (a ServiceAccount without
// access to Secrets) makes the backup PartiallyFailed, naming the type and
// the error, with exit code 2.
func TestForbiddenTypeGivesPartiallyFailedAndExitCode2(t *testing.T) {
	ctx := context.Background()
	cluster := env.Cluster("dr-us")
	cs, err := cluster.Clientset()
	if err != nil {
		t.Fatal(err)
	}
	const ns = "e2e-restricted"
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	_, err = cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{})
	must(err)
	_, err = cs.CoreV1().ConfigMaps(ns).Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "visible"}}, metav1.CreateOptions{})
	must(err)
	_, err = cs.CoreV1().Secrets(ns).Create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "hidden"}}, metav1.CreateOptions{})
	must(err)
	_, err = cs.CoreV1().ServiceAccounts(ns).Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "backup"}}, metav1.CreateOptions{})
	must(err)
	// Everything a namespace backup reads, but Secrets.
	_, err = cs.RbacV1().ClusterRoles().Create(ctx, &rbacv1.ClusterRole{
		ObjectMeta: metav1.ObjectMeta{Name: "e2e-backup-no-secrets"},
		Rules: []rbacv1.PolicyRule{
			{APIGroups: []string{""}, Resources: []string{"configmaps", "namespaces", "serviceaccounts"}, Verbs: []string{"get", "list"}},
		},
	}, metav1.CreateOptions{})
	must(err)
	_, err = cs.RbacV1().ClusterRoleBindings().Create(ctx, &rbacv1.ClusterRoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: "e2e-backup-no-secrets"},
		RoleRef:    rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "ClusterRole", Name: "e2e-backup-no-secrets"},
		Subjects:   []rbacv1.Subject{{Kind: "ServiceAccount", Name: "backup", Namespace: ns}},
	}, metav1.CreateOptions{})
	must(err)
	token, err := cs.CoreV1().ServiceAccounts(ns).CreateToken(ctx, "backup", &authenticationv1.TokenRequest{}, metav1.CreateOptions{})
	must(err)
	restricted := writeKubeconfig(t, cluster, "dr-us-restricted", token.Status.Token)

	storage := env.S3.RepositoryURL(env.S3.NewBucket(t))
	res := mustRun(t, 2, invocation{}, "backup", "create", "--kubeconfig", restricted, "--cluster-name", "dr-us",
		"-n", ns, "--include-resources", "configmaps,secrets,serviceaccounts", "--storage", storage)
	if !strings.Contains(res.stdout, "PartiallyFailed") || !strings.Contains(res.stdout, "secrets") || !strings.Contains(res.stdout, "forbidden") {
		t.Errorf("the summary should name the phase, the type and the error:\n%s", res)
	}
	if !strings.Contains(res.stderr, "PartiallyFailed") {
		t.Errorf("stderr should say the backup is PartiallyFailed:\n%s", res)
	}
	// What could be read is in the backup.
	got := mustRun(t, 0, invocation{}, "backup", "get", "latest", "configmaps/visible", "-n", ns, "--cluster", "dr-us", "--storage", storage)
	if !strings.Contains(got.stdout, "name: visible") {
		t.Errorf("the readable types were not backed up:\n%s", got)
	}
}

// Two clusters backed up into one bucket land under their own names; a
// different cluster claiming a name already taken is refused, and
// --force-cluster-name overrides.
func TestTwoClustersShareABucketUnderTheirNames(t *testing.T) {
	bucket := env.S3.NewBucket(t)
	storage := []string{"--storage", env.S3.RepositoryURL(bucket)}
	for _, name := range []string{"prod-eu", "dr-us"} {
		mustRun(t, 0, invocation{}, append([]string{"backup", "create", "--context", name, "-n", "kube-system"}, storage...)...)
	}
	var prefixes []string
	for _, k := range bucketKeys(t, env.S3, bucket) {
		first, _, _ := strings.Cut(k, "/")
		if !slices.Contains(prefixes, first) {
			prefixes = append(prefixes, first)
		}
	}
	for _, want := range []string{"prod-eu", "dr-us", "_fleet"} {
		if !slices.Contains(prefixes, want) {
			t.Errorf("bucket %s has no %s/: %v", bucket, want, prefixes)
		}
	}
	list := mustRun(t, 0, invocation{}, append([]string{"backup", "list", "--all-clusters"}, storage...)...)
	if !strings.Contains(list.stdout, "prod-eu") || !strings.Contains(list.stdout, "dr-us") {
		t.Errorf("backup list --all-clusters:\n%s", list)
	}
	// The default is the current context's cluster only.
	list = mustRun(t, 0, invocation{}, append([]string{"backup", "list", "--context", "dr-us"}, storage...)...)
	if strings.Contains(list.stdout, "prod-eu") || !strings.Contains(list.stdout, "dr-us") {
		t.Errorf("backup list of context dr-us:\n%s", list)
	}

	claim := append([]string{"backup", "create", "--context", "dr-us", "-n", "kube-system", "--cluster-name", "prod-eu"}, storage...)
	res := mustRun(t, 1, invocation{}, claim...)
	if !strings.Contains(res.stderr, `cluster name "prod-eu" belongs to`) || !strings.Contains(res.stderr, "--force-cluster-name") {
		t.Errorf("a second cluster claiming prod-eu should be refused, saying how to override:\n%s", res)
	}
	mustRun(t, 0, invocation{}, append(claim, "--force-cluster-name")...)
}

// A pack whose bytes changed in the bucket is detected on read, by `backup
// get` and by `describe --details`, and the error names it.
func TestCorruptPackIsDetectedOnRead(t *testing.T) {
	ctx := context.Background()
	cs, err := env.Cluster("prod-eu").Clientset()
	if err != nil {
		t.Fatal(err)
	}
	const ns = "e2e-corrupt"
	if err := workload.CreateConfigMaps(ctx, cs, workload.ConfigMaps{Namespaces: []string{ns}, Total: 5, Prefix: "victim"}); err != nil {
		t.Fatal(err)
	}
	bucket := env.S3.NewBucket(t)
	storage := []string{"--storage", env.S3.RepositoryURL(bucket)}
	mustRun(t, 0, invocation{}, append([]string{"backup", "create", "--context", "prod-eu", "-n", ns}, storage...)...)
	var pack string
	for _, k := range packKeys(bucketKeys(t, env.S3, bucket)) {
		if strings.HasPrefix(k, "prod-eu/"+ns+"/configmaps/") {
			pack = k
		}
	}
	if pack == "" {
		t.Fatal("no configmaps pack in the bucket")
	}
	mustRun(t, 0, invocation{}, append([]string{"backup", "describe", "latest", "--details", "--context", "prod-eu"}, storage...)...)

	// Flip bytes in the middle of the stored object.
	client := env.S3.Client()
	obj, err := client.GetObject(ctx, bucket, pack, minio.GetObjectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	data, err := io.ReadAll(obj)
	obj.Close()
	if err != nil {
		t.Fatal(err)
	}
	for i := len(data) / 2; i < len(data)/2+4 && i < len(data); i++ {
		data[i] ^= 0xff
	}
	if _, err := client.PutObject(ctx, bucket, pack, bytes.NewReader(data), int64(len(data)), minio.PutObjectOptions{}); err != nil {
		t.Fatal(err)
	}

	res := mustRun(t, 1, invocation{}, append([]string{"backup", "get", "latest", "configmaps/victim-000001", "-n", ns, "--context", "prod-eu"}, storage...)...)
	if !strings.Contains(res.stderr, pack) || !strings.Contains(res.stderr, "corrupt") {
		t.Errorf("backup get of a corrupt pack should fail naming the pack %s:\n%s", pack, res)
	}
	res = mustRun(t, 1, invocation{}, append([]string{"backup", "describe", "latest", "--details", "--context", "prod-eu"}, storage...)...)
	if !strings.Contains(res.stderr, pack) || !strings.Contains(res.stdout, "CORRUPT") {
		t.Errorf("describe --details should mark and name the corrupt pack %s:\n%s", pack, res)
	}
	// Without --details only the manifest is read, which is intact.
	mustRun(t, 0, invocation{}, append([]string{"backup", "describe", "latest", "--context", "prod-eu"}, storage...)...)
}
