package backup_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/rest"

	"github.com/kbackup/kbackup/core/backup"
	"github.com/kbackup/kbackup/core/fleet"
	"github.com/kbackup/kbackup/core/kube"
	"github.com/kbackup/kbackup/core/pack"
	"github.com/kbackup/kbackup/core/repo"
	"github.com/kbackup/kbackup/core/selection"
	"github.com/kbackup/kbackup/core/storage"
	"github.com/kbackup/kbackup/core/testenv"
	"github.com/kbackup/kbackup/core/testenv/repotest"
	"github.com/kbackup/kbackup/core/testenv/workload"
)

// env is shared by the tests of this package: two clusters and an S3
// server. Each test uses namespaces and buckets of its own.
var env *testenv.Env

func TestMain(m *testing.M) {
	var err error
	env, err = testenv.New(context.Background(), testenv.Options{ClusterNames: []string{"alpha", "beta"}, S3: true})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	code := m.Run()
	env.Stop()
	os.Exit(code)
}

func client(t *testing.T, cfg *rest.Config) *kube.Client {
	t.Helper()
	c, err := kube.NewClient(cfg, kube.ClientOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// target is the storage of a test's run: a chooser of one bucket.
type target struct {
	*repo.Chooser
	Primary repo.Options
}

func s3Storage(t *testing.T) (target, string) {
	t.Helper()
	bucket := env.S3.NewBucket(t)
	opts := s3Options(t, bucket)
	return target{repo.NewChooser(opts), opts}, bucket
}

func s3Options(t *testing.T, bucket string) repo.Options {
	return repotest.S3Options(env.S3, bucket)
}

func openRepo(t *testing.T, opts repo.Options) *repo.Repository {
	t.Helper()
	opts.Create = false
	r, err := repo.Open(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// readBackup returns every object of a backup, keyed by
// "resource.group namespace/name".
func readBackup(t *testing.T, r *repo.Repository, m *repo.Manifest) map[string]*unstructured.Unstructured {
	t.Helper()
	objs := map[string]*unstructured.Unstructured{}
	for _, p := range m.Packs {
		content, err := r.ReadPack(context.Background(), p.PackRef)
		if err != nil {
			t.Fatal(err)
		}
		decoded, err := pack.Decode(content)
		if err != nil {
			t.Fatalf("pack %s: %v", p.Key, err)
		}
		if len(decoded) != len(p.Objects) {
			t.Errorf("pack %s holds %d objects, the manifest names %d", p.Key, len(decoded), len(p.Objects))
		}
		for i, o := range decoded {
			if o.GetName() != p.Objects[i] {
				t.Errorf("pack %s object %d is %s, the manifest says %s", p.Key, i, o.GetName(), p.Objects[i])
			}
			objs[p.Resource+" "+o.GetNamespace()+"/"+o.GetName()] = o
		}
	}
	return objs
}

// A whole-cluster backup holds every installed object as the API server
// returns it, minus managedFields; it covers 20+ types, a CRD and its
// objects among them.
func TestBackupHoldsEveryObjectAsLive(t *testing.T) {
	ctx := context.Background()
	cluster := env.Cluster("alpha")
	installed, err := workload.Install(ctx, cluster.Config(), workload.Options{Namespace: "full-shop", OwnedObjects: true})
	if err != nil {
		t.Fatal(err)
	}
	tgt, _ := s3Storage(t)
	var events []backup.Event
	var mu sync.Mutex
	res, err := backup.Run(ctx, client(t, cluster.Config()), tgt.Chooser, backup.Options{
		ClusterName: "alpha", ClusterNameSource: "test",
		Progress: func(e backup.Event) { mu.Lock(); events = append(events, e); mu.Unlock() },
	})
	if err != nil {
		t.Fatal(err)
	}
	m := res.Manifest
	if m.Phase != repo.PhaseCompleted {
		t.Fatalf("phase %s, errors %v, skipped %v", m.Phase, m.Errors, m.Skipped)
	}
	if m.Stats.ResourceTypes < 20 {
		t.Errorf("backup holds %d resource types, want 20+", m.Stats.ResourceTypes)
	}
	if m.Stats.PacksUploaded != m.Stats.Packs || m.Stats.BytesUploaded != m.Stats.BytesStored {
		t.Errorf("first backup into an empty repository reused packs: %+v", m.Stats)
	}
	if m.Cluster.Name != "alpha" || m.Cluster.UID == "" {
		t.Errorf("cluster identity %+v", m.Cluster)
	}

	stored := readBackup(t, openRepo(t, tgt.Primary), m)
	if len(stored) != m.Stats.Objects {
		t.Errorf("read %d objects, manifest counts %d", len(stored), m.Stats.Objects)
	}
	dyn := client(t, cluster.Config()).Dynamic
	for _, o := range installed.Objects {
		key := o.GroupVersionResource.GroupResource().String() + " " + o.Namespace + "/" + o.Name
		got, ok := stored[key]
		if !ok {
			t.Errorf("%s is not in the backup", key)
			continue
		}
		live, err := dyn.Resource(o.GroupVersionResource).Namespace(o.Namespace).Get(ctx, o.Name, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		live.SetManagedFields(nil)
		if !equality.Semantic.DeepEqual(live.Object, got.Object) {
			t.Errorf("%s differs from the live object:\nlive:   %v\nstored: %v", key, live.Object, got.Object)
		}
	}
	for _, excluded := range []string{"events", "leases.coordination.k8s.io"} {
		for key := range stored {
			if strings.HasPrefix(key, excluded+" ") {
				t.Errorf("%s is in the backup, but %s are excluded by default", key, excluded)
			}
		}
	}

	mu.Lock()
	defer mu.Unlock()
	if len(events) == 0 || events[0].Kind != backup.EventStarted || events[len(events)-1].Kind != backup.EventCommitted {
		t.Errorf("progress events should run from Started to Committed: %v", events)
	}
}

// An unchanged cluster costs no upload; one changed object costs one pack.
func TestIncrementalBackupUploadsOnlyWhatChanged(t *testing.T) {
	ctx := context.Background()
	cluster := env.Cluster("alpha")
	cs, _ := cluster.Clientset()
	if err := workload.CreateConfigMaps(ctx, cs, workload.ConfigMaps{Namespaces: []string{"incr-a", "incr-b", "incr-c"}, Total: 300}); err != nil {
		t.Fatal(err)
	}
	tgt, bucket := s3Storage(t)
	opts := backup.Options{ClusterName: "alpha", BackupSpec: fleet.BackupSpec{Selection: selection.Selection{IncludeNamespaces: []string{"incr-*"}}}}
	kc := client(t, cluster.Config())
	first, err := backup.Run(ctx, kc, tgt.Chooser, opts)
	if err != nil {
		t.Fatal(err)
	}
	unchanged, err := backup.Run(ctx, kc, tgt.Chooser, opts)
	if err != nil {
		t.Fatal(err)
	}
	if s := unchanged.Manifest.Stats; s.PacksUploaded != 0 || s.BytesUploaded != 0 || s.Packs != first.Manifest.Stats.Packs {
		t.Errorf("backup of an unchanged cluster uploaded %d packs (%d bytes) of %d", s.PacksUploaded, s.BytesUploaded, s.Packs)
	}

	cm, err := cs.CoreV1().ConfigMaps("incr-b").Get(ctx, "cm-000007", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	cm.Data["index"] = "changed"
	if _, err := cs.CoreV1().ConfigMaps("incr-b").Update(ctx, cm, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	before := countObjects(t, bucket)
	changed, err := backup.Run(ctx, kc, tgt.Chooser, opts)
	if err != nil {
		t.Fatal(err)
	}
	s := changed.Manifest.Stats
	if s.PacksUploaded != 1 {
		t.Errorf("after one change, %d packs uploaded, want 1", s.PacksUploaded)
	}
	// One new pack and one new manifest (and the in-progress marker, gone).
	if after := countObjects(t, bucket); after != before+2 {
		t.Errorf("bucket went from %d to %d objects, want +2 (a pack and a manifest)", before, after)
	}
	var newPack repo.PackEntry
	for _, p := range changed.Manifest.Packs {
		if !slicesContainsKey(first.Manifest.Packs, p.Key) {
			newPack = p
		}
	}
	if newPack.Namespace != "incr-b" || newPack.Resource != "configmaps" {
		t.Errorf("the new pack is %s, want configmaps of incr-b", newPack.Key)
	}
}

func slicesContainsKey(packs []repo.PackEntry, key string) bool {
	for _, p := range packs {
		if p.Key == key {
			return true
		}
	}
	return false
}

func countObjects(t *testing.T, bucket string) int {
	t.Helper()
	n := 0
	for obj := range env.S3.Client().ListObjects(context.Background(), bucket, minio.ListObjectsOptions{Recursive: true}) {
		if obj.Err != nil {
			t.Fatal(obj.Err)
		}
		n++
	}
	return n
}

// A type the backup's identity may not list fails alone: the backup is
// PartiallyFailed and names the type and the error.
func TestForbiddenTypeMakesBackupPartiallyFailed(t *testing.T) {
	ctx := context.Background()
	cluster := env.Cluster("beta")
	cs, _ := cluster.Clientset()
	const ns = "restricted"
	mustCreate(t, func() error {
		_, err := cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{})
		return err
	})
	mustCreate(t, func() error {
		_, err := cs.CoreV1().ConfigMaps(ns).Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "visible"}}, metav1.CreateOptions{})
		return err
	})
	mustCreate(t, func() error {
		_, err := cs.CoreV1().Secrets(ns).Create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "hidden"}}, metav1.CreateOptions{})
		return err
	})
	mustCreate(t, func() error {
		_, err := cs.CoreV1().ServiceAccounts(ns).Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "backup"}}, metav1.CreateOptions{})
		return err
	})
	// May read everything in the cluster but Secrets.
	mustCreate(t, func() error {
		_, err := cs.RbacV1().ClusterRoles().Create(ctx, &rbacv1.ClusterRole{
			ObjectMeta: metav1.ObjectMeta{Name: "backup-no-secrets"},
			Rules: []rbacv1.PolicyRule{
				{APIGroups: []string{""}, Resources: []string{"configmaps", "namespaces", "serviceaccounts"}, Verbs: []string{"get", "list"}},
			},
		}, metav1.CreateOptions{})
		return err
	})
	mustCreate(t, func() error {
		_, err := cs.RbacV1().ClusterRoleBindings().Create(ctx, &rbacv1.ClusterRoleBinding{
			ObjectMeta: metav1.ObjectMeta{Name: "backup-no-secrets"},
			RoleRef:    rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "ClusterRole", Name: "backup-no-secrets"},
			Subjects:   []rbacv1.Subject{{Kind: "ServiceAccount", Name: "backup", Namespace: ns}},
		}, metav1.CreateOptions{})
		return err
	})
	tr, err := cs.CoreV1().ServiceAccounts(ns).CreateToken(ctx, "backup", &authenticationv1.TokenRequest{}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	tgt, _ := s3Storage(t)
	res, err := backup.Run(ctx, client(t, cluster.ConfigForToken(tr.Status.Token)), tgt.Chooser, backup.Options{
		ClusterName: "beta",
		BackupSpec: fleet.BackupSpec{
			Selection: selection.Selection{IncludeNamespaces: []string{ns}, IncludeResources: []string{"configmaps", "secrets", "serviceaccounts"}},
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	m := res.Manifest
	if m.Phase != repo.PhasePartiallyFailed {
		t.Fatalf("phase %s, want PartiallyFailed", m.Phase)
	}
	if len(m.Errors) != 1 || m.Errors[0].Resource != "secrets" || !strings.Contains(m.Errors[0].Message, "forbidden") {
		t.Errorf("errors %+v, want one for secrets saying forbidden", m.Errors)
	}
	stored := readBackup(t, openRepo(t, tgt.Primary), m)
	if _, ok := stored["configmaps restricted/visible"]; !ok {
		t.Errorf("the allowed types are not backed up: %v", keys(stored))
	}
}

func keys(m map[string]*unstructured.Unstructured) []string {
	var ks []string
	for k := range m {
		ks = append(ks, k)
	}
	return ks
}

func mustCreate(t *testing.T, f func() error) {
	t.Helper()
	if err := f(); err != nil {
		t.Fatal(err)
	}
}

// Two clusters share a bucket under their own names; a third claim of a
// name with another kube-system UID is refused unless forced.
func TestTwoClustersOneBucket(t *testing.T) {
	ctx := context.Background()
	tgt, bucket := s3Storage(t)
	opts := backup.Options{BackupSpec: fleet.BackupSpec{Selection: selection.Selection{IncludeNamespaces: []string{"shared-bucket"}, IncludeResources: []string{"configmaps"}}}}
	for _, name := range []string{"alpha", "beta"} {
		cs, _ := env.Cluster(name).Clientset()
		mustCreate(t, func() error {
			_, err := cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "shared-bucket"}}, metav1.CreateOptions{})
			return err
		})
		mustCreate(t, func() error {
			_, err := cs.CoreV1().ConfigMaps("shared-bucket").Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "from-" + name}}, metav1.CreateOptions{})
			return err
		})
	}
	for _, name := range []string{"alpha", "beta"} {
		opts.ClusterName = name
		res, err := backup.Run(ctx, client(t, env.Cluster(name).Config()), tgt.Chooser, opts)
		if err != nil {
			t.Fatalf("cluster %s: %v", name, err)
		}
		if len(res.Manifest.Packs) != 1 || !strings.HasPrefix(res.Manifest.Packs[0].Key, name+"/shared-bucket/configmaps/") {
			t.Errorf("cluster %s wrote %s", name, res.Manifest.Packs[0].Key)
		}
	}
	clusters, err := openRepo(t, tgt.Primary).Clusters(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(clusters, ",") != "alpha,beta" {
		t.Errorf("clusters in %s: %v", bucket, clusters)
	}

	opts.ClusterName = "alpha"
	_, err = backup.Run(ctx, client(t, env.Cluster("beta").Config()), tgt.Chooser, opts)
	if !errors.Is(err, repo.ErrClusterNameTaken) {
		t.Fatalf("cluster beta writing as alpha: want ErrClusterNameTaken, got %v", err)
	}
	opts.ForceClusterName = true
	if _, err := backup.Run(ctx, client(t, env.Cluster("beta").Config()), tgt.Chooser, opts); err != nil {
		t.Errorf("forced: %v", err)
	}
}

// A backup refused for its cluster name stops the LISTs it started while
// it claimed the name, and the user reads the refusal alone, with no
// client-go line per LIST it cancelled. A slow S3 server keeps the claim
// waiting, so that the LISTs are in flight when it is refused.
func TestRefusedBackupCancelsItsListsQuietly(t *testing.T) {
	ctx := context.Background()
	tgt, _ := s3Storage(t)
	opts := backup.Options{ClusterName: "quiet-claim", BackupSpec: fleet.BackupSpec{Selection: selection.Selection{IncludeNamespaces: []string{"default"}}}}
	if _, err := backup.Run(ctx, client(t, env.Cluster("alpha").Config()), tgt.Chooser, opts); err != nil {
		t.Fatal(err)
	}

	slow := testenv.StartLatencyProxy(t, env.S3.Host(), 300*time.Millisecond)
	slowS3 := tgt.Primary
	slowS3.Location.Endpoint = "http://" + slow.Addr
	held := make(chan *http.Request, 100)
	cfg := env.Cluster("beta").Config()
	// The backup's LISTs, not the identity's sample of nodes, which comes
	// before the claim.
	cfg.WrapTransport = testenv.HoldUntilCancelled(func(r *http.Request) bool {
		return r.URL.Query().Has("limit") && path.Base(r.URL.Path) != "nodes"
	}, held)
	logged := testenv.CaptureKlog(t)
	_, err := backup.Run(ctx, client(t, cfg), repo.NewChooser(slowS3), opts)
	if !errors.Is(err, repo.ErrClusterNameTaken) {
		t.Fatalf("cluster beta backing up as quiet-claim: want ErrClusterNameTaken, got %v", err)
	}
	if len(held) == 0 {
		t.Fatal("no LIST was in flight when the claim was refused: the test shows nothing")
	}
	if out := logged.String(); out != "" {
		t.Errorf("%d LISTs cancelled, and client-go logged:\n%s", len(held), out)
	}
}

// The S3 server dying during a backup leaves no manifest and a clear error;
// with a fallback configured, the backup goes there instead, whole and
// readable, and says so.
func TestStorageFailureMidBackup(t *testing.T) {
	ctx := context.Background()
	kc := client(t, env.Cluster("alpha").Config())
	// dyingS3 is an S3 server of the test's own, since the test stops it,
	// with a bucket, and a Progress that stops the server once the first
	// resource type is stored, while the rest of the backup is to come.
	dyingS3 := func(t *testing.T) (*testenv.Env, string, func(backup.Event), func() bool) {
		own := testenv.Start(t, testenv.Options{S3: true})
		bucket := own.S3.NewBucket(t)
		var once sync.Once
		var stopped atomic.Bool
		stopAfterFirstType := func(e backup.Event) {
			if e.Kind == backup.EventTypeDone && e.Objects > 0 {
				once.Do(func() { own.S3.Stop(); stopped.Store(true) })
			}
		}
		return own, bucket, stopAfterFirstType, stopped.Load
	}

	t.Run("no fallback", func(t *testing.T) {
		own, bucket, stop, stopped := dyingS3(t)
		_, err := backup.Run(ctx, kc, repo.NewChooser(repotest.S3Options(own.S3, bucket)),
			backup.Options{ClusterName: "alpha", Concurrency: 1, Progress: stop})
		if !stopped() {
			t.Fatalf("the server was never stopped during the backup (backup.Run: %v)", err)
		}
		if err == nil || !errors.Is(err, storage.ErrStorageUnavailable) {
			t.Fatalf("S3 stopped during the backup, no fallback: want ErrStorageUnavailable, got %v", err)
		}
		if !strings.Contains(err.Error(), own.S3.Host()) {
			t.Errorf("error %q does not say which storage failed", err)
		}
		// The stopped server's files: packs written before the stop, and
		// no manifest.
		keys := repotest.StoredKeys(t, own, bucket)
		if len(repotest.PackKeys(keys)) == 0 {
			t.Errorf("no pack was written before the stop, so the stop was not during the backup: %v", keys)
		}
		if manifests := repotest.ManifestKeys(keys); len(manifests) > 0 {
			t.Errorf("a backup that lost its storage wrote manifests %v", manifests)
		}
	})

	t.Run("fallback", func(t *testing.T) {
		own, bucket, stop, stopped := dyingS3(t)
		fallbackDir := t.TempDir()
		fallbackLoc, _ := storage.ParseURL(fallbackDir)
		fallback := repo.Options{Location: fallbackLoc, Create: true}
		res, err := backup.Run(ctx, kc, repo.NewChooser(repotest.S3Options(own.S3, bucket), fallback),
			backup.Options{ClusterName: "alpha", Concurrency: 1, Progress: stop})
		if err != nil {
			t.Fatalf("with a fallback: %v", err)
		}
		if !stopped() {
			t.Fatal("the server was never stopped during the backup")
		}
		if !res.UsedFallback() || res.Location != fallbackLoc.String() || res.Manifest.StorageLocation != fallbackLoc.String() {
			t.Errorf("backup went to %s (attempts %v), want the fallback %s", res.Location, res.Attempts, fallbackLoc)
		}
		if manifests := repotest.ManifestKeys(repotest.StoredKeys(t, own, bucket)); len(manifests) > 0 {
			t.Errorf("the stopped primary holds manifests %v", manifests)
		}
		fallback.Create = false
		r, err := repo.Open(ctx, fallback)
		if err != nil {
			t.Fatal(err)
		}
		m, err := r.ReadManifest(ctx, "alpha", res.Manifest.ID)
		if err != nil {
			t.Fatalf("no manifest in the fallback: %v", err)
		}
		if m.Phase != repo.PhaseCompleted {
			t.Errorf("the fallback's backup is %s, want Completed (errors %+v)", m.Phase, m.Errors)
		}
		repotest.CheckBackupHoldsCluster(t, r, m, env.Cluster("alpha"), nil)
	})
}

// Objects above max_resource_size are left out and recorded.
func TestOversizedObjectIsSkippedAndRecorded(t *testing.T) {
	ctx := context.Background()
	cluster := env.Cluster("beta")
	cs, _ := cluster.Clientset()
	const ns = "sizes"
	mustCreate(t, func() error {
		_, err := cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{})
		return err
	})
	for name, size := range map[string]int{"small": 100, "large": 200_000} {
		mustCreate(t, func() error {
			_, err := cs.CoreV1().ConfigMaps(ns).Create(ctx, &corev1.ConfigMap{
				ObjectMeta: metav1.ObjectMeta{Name: name},
				Data:       map[string]string{"v": strings.Repeat("x", size)},
			}, metav1.CreateOptions{})
			return err
		})
	}
	tgt, _ := s3Storage(t)
	res, err := backup.Run(ctx, client(t, cluster.Config()), tgt.Chooser, backup.Options{
		ClusterName: "beta", BackupSpec: fleet.BackupSpec{Selection: selection.Selection{IncludeNamespaces: []string{ns}, IncludeResources: []string{"configmaps"}}, MaxResourceSize: 100_000},
	})
	if err != nil {
		t.Fatal(err)
	}
	m := res.Manifest
	if m.Phase != repo.PhasePartiallyFailed || len(m.Skipped) != 1 || m.Skipped[0].Name != "large" || !strings.Contains(m.Skipped[0].Reason, "max_resource_size") {
		t.Errorf("phase %s, skipped %+v: want the large ConfigMap skipped for its size", m.Phase, m.Skipped)
	}
	if m.Stats.Objects != 1 {
		t.Errorf("%d objects stored, want 1", m.Stats.Objects)
	}
}

// Bad options are refused before anything is read, each error naming its
// field and saying what is allowed.
func TestOptionsValidate(t *testing.T) {
	for _, tc := range []struct {
		opts backup.Options
		want string
	}{
		{backup.Options{Name: "latest"}, `name: Invalid value: "latest": is reserved`},
		{backup.Options{Name: "bad name!"}, `name: Invalid value: "bad name!": want 1 to 128 letters`},
		{backup.Options{BackupSpec: fleet.BackupSpec{Selection: selection.Selection{IncludeNamespaces: []string{"ok", "[x"}}}}, `spec.include_namespaces[1]: Invalid value: "[x": not a namespace name or pattern`},
		{backup.Options{BackupSpec: fleet.BackupSpec{Selection: selection.Selection{LabelSelector: "a in (b"}}}, "spec.label_selector: Invalid value: \"a in (b\": not a label selector"},
		{backup.Options{BackupSpec: fleet.BackupSpec{Selection: selection.Selection{ClusterResources: "maybe"}}}, `spec.cluster_resources: Unsupported value: "maybe": supported values: "auto", "on", "off"`},
		{backup.Options{PageSize: 20000}, "page_size: Invalid value: 20000: want 1 to 10000"},
		{backup.Options{ForceClusterName: true}, "cluster_name: Required value: forcing the cluster name needs the name to claim"},
		{backup.Options{BackupSpec: fleet.BackupSpec{Labels: map[string]string{"bad key": "x"}}}, `spec.labels[bad key]: Invalid value: "bad key"`},
		{backup.Options{BackupSpec: fleet.BackupSpec{Labels: map[string]string{"team": "not ok!"}}}, `spec.labels[team]: Invalid value: "not ok!"`},
	} {
		err := tc.opts.Validate()
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: want an error containing %q, got %v", tc.opts, tc.want, err)
		}
		if err != nil && strings.Contains(err.Error(), "--") {
			t.Errorf("%+v: core names a flag: %v", tc.opts, err)
		}
	}
	if err := (backup.Options{Name: "before-upgrade", BackupSpec: fleet.BackupSpec{Selection: selection.Selection{IncludeNamespaces: []string{"team-*"}, LabelSelector: "app=x"}}}).Validate(); err != nil {
		t.Errorf("valid options refused: %v", err)
	}
}
