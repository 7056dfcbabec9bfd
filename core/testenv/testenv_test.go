package testenv_test

import (
	"bytes"
	"context"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/minio/minio-go/v7"
	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/kbackup/kbackup/core/testenv"
)

// Three clusters and an S3 server start together; each cluster is a cluster
// of its own, and the bucket stores and returns an object.
func TestThreeClustersAndS3(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	env := testenv.Start(t, testenv.Options{ClusterNames: []string{"dev", "preprod", "prod"}, S3: true})
	t.Logf("3 clusters and an S3 server started in %s", env.StartupTime)

	uids := map[string]string{}
	for _, c := range env.Clusters {
		cs, err := c.Clientset()
		if err != nil {
			t.Fatal(err)
		}
		ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "team-" + c.Name}}
		if _, err := cs.CoreV1().Namespaces().Create(ctx, ns, metav1.CreateOptions{}); err != nil {
			t.Fatalf("cluster %s: %v", c.Name, err)
		}
		cm := &corev1.ConfigMap{
			ObjectMeta: metav1.ObjectMeta{Name: "settings", Namespace: ns.Name},
			Data:       map[string]string{"cluster": c.Name},
		}
		if _, err := cs.CoreV1().ConfigMaps(ns.Name).Create(ctx, cm, metav1.CreateOptions{}); err != nil {
			t.Fatalf("cluster %s: %v", c.Name, err)
		}
		got, err := cs.CoreV1().ConfigMaps(ns.Name).Get(ctx, "settings", metav1.GetOptions{})
		if err != nil {
			t.Fatalf("cluster %s: %v", c.Name, err)
		}
		if got.Data["cluster"] != c.Name {
			t.Errorf("cluster %s: read back %v", c.Name, got.Data)
		}
		ks, err := cs.CoreV1().Namespaces().Get(ctx, "kube-system", metav1.GetOptions{})
		if err != nil {
			t.Fatalf("cluster %s: %v", c.Name, err)
		}
		uids[string(ks.UID)] = c.Name
	}
	if len(uids) != 3 {
		t.Errorf("want 3 different kube-system UIDs, got %v", uids)
	}

	// What one cluster holds, another does not.
	prod, _ := env.Cluster("prod").Clientset()
	if _, err := prod.CoreV1().Namespaces().Get(ctx, "team-dev", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("namespace team-dev of cluster dev is visible in cluster prod (err=%v)", err)
	}

	bucket := env.S3.NewBucket(t)
	client := env.S3.Client()
	payload := []byte("kbackup testenv object")
	if _, err := client.PutObject(ctx, bucket, "dev/_backups/probe.json", bytes.NewReader(payload), int64(len(payload)), minio.PutObjectOptions{}); err != nil {
		t.Fatalf("put: %v", err)
	}
	obj, err := client.GetObject(ctx, bucket, "dev/_backups/probe.json", minio.GetObjectOptions{})
	if err != nil {
		t.Fatalf("get: %v", err)
	}
	defer obj.Close()
	got, err := io.ReadAll(obj)
	if err != nil {
		t.Fatalf("read: %v", err)
	}
	if !bytes.Equal(got, payload) {
		t.Errorf("read back %q, want %q", got, payload)
	}

	// One kubeconfig with a context per cluster, named as asked, reaches each.
	path := filepath.Join(t.TempDir(), "kubeconfig")
	if err := env.WriteKubeconfig(path); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"dev", "preprod", "prod"} {
		cfg, err := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(
			&clientcmd.ClientConfigLoadingRules{ExplicitPath: path},
			&clientcmd.ConfigOverrides{CurrentContext: name}).ClientConfig()
		if err != nil {
			t.Fatalf("context %s: %v", name, err)
		}
		cs := kubernetes.NewForConfigOrDie(cfg)
		if _, err := cs.CoreV1().Namespaces().Get(ctx, "team-"+name, metav1.GetOptions{}); err != nil {
			t.Errorf("context %s does not reach cluster %s: %v", name, name, err)
		}
	}
}

// A ServiceAccount token from TokenRequest authenticates, and RBAC allows it
// what its Role grants and refuses it the rest.
func TestServiceAccountTokenAndRBAC(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	env := testenv.Start(t, testenv.Options{Clusters: 1})
	c := env.Clusters[0]
	t.Logf("one cluster started in %s", env.StartupTime)
	admin, err := c.Clientset()
	if err != nil {
		t.Fatal(err)
	}
	const ns = "payments"
	mustCreate(t, func() error {
		_, err := admin.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{})
		return err
	})
	mustCreate(t, func() error {
		_, err := admin.CoreV1().ServiceAccounts(ns).Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "reader"}}, metav1.CreateOptions{})
		return err
	})
	mustCreate(t, func() error {
		_, err := admin.RbacV1().Roles(ns).Create(ctx, &rbacv1.Role{
			ObjectMeta: metav1.ObjectMeta{Name: "configmap-reader"},
			Rules:      []rbacv1.PolicyRule{{APIGroups: []string{""}, Resources: []string{"configmaps"}, Verbs: []string{"get", "list"}}},
		}, metav1.CreateOptions{})
		return err
	})
	mustCreate(t, func() error {
		_, err := admin.RbacV1().RoleBindings(ns).Create(ctx, &rbacv1.RoleBinding{
			ObjectMeta: metav1.ObjectMeta{Name: "reader"},
			RoleRef:    rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "Role", Name: "configmap-reader"},
			Subjects:   []rbacv1.Subject{{Kind: "ServiceAccount", Name: "reader", Namespace: ns}},
		}, metav1.CreateOptions{})
		return err
	})

	tr, err := admin.CoreV1().ServiceAccounts(ns).CreateToken(ctx, "reader", &authenticationv1.TokenRequest{}, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("TokenRequest: %v", err)
	}
	if tr.Status.Token == "" {
		t.Fatal("TokenRequest returned no token")
	}
	reader := kubernetes.NewForConfigOrDie(c.ConfigForToken(tr.Status.Token))

	if _, err := reader.CoreV1().ConfigMaps(ns).List(ctx, metav1.ListOptions{}); err != nil {
		t.Errorf("listing configmaps, which the Role allows: %v", err)
	}
	if _, err := reader.CoreV1().Secrets(ns).List(ctx, metav1.ListOptions{}); !apierrors.IsForbidden(err) {
		t.Errorf("listing secrets, which the Role does not allow: want 403 Forbidden, got %v", err)
	}
	_, err = reader.CoreV1().ConfigMaps(ns).Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "x"}}, metav1.CreateOptions{})
	if !apierrors.IsForbidden(err) {
		t.Errorf("creating a configmap, which the Role does not allow: want 403 Forbidden, got %v", err)
	}
	if _, err := reader.CoreV1().ConfigMaps("default").List(ctx, metav1.ListOptions{}); !apierrors.IsForbidden(err) {
		t.Errorf("listing configmaps in another namespace: want 403 Forbidden, got %v", err)
	}

	// An unknown token is not authenticated at all.
	stranger := kubernetes.NewForConfigOrDie(c.ConfigForToken("not-a-token"))
	if _, err := stranger.CoreV1().ConfigMaps(ns).List(ctx, metav1.ListOptions{}); !apierrors.IsUnauthorized(err) {
		t.Errorf("unknown token: want 401 Unauthorized, got %v", err)
	}
}

func mustCreate(t *testing.T, create func() error) {
	t.Helper()
	if err := create(); err != nil {
		t.Fatal(err)
	}
}

// The OpenTofu binary runs, is the version the cache is keyed by, and its
// environment points terraform-plugin-testing at it.
func TestOpenTofu(t *testing.T) {
	t.Parallel()
	env := testenv.Start(t, testenv.Options{OpenTofu: true})
	out, err := exec.Command(env.Tofu.Path, "version").CombinedOutput()
	if err != nil {
		t.Fatalf("tofu version: %v\n%s", err, out)
	}
	if want := "OpenTofu " + testenv.OpenTofuVersion; !strings.Contains(string(out), want) {
		t.Errorf("tofu version printed %q, want it to contain %q", out, want)
	}
	vars := strings.Join(env.Tofu.Env(), "\n")
	for _, want := range []string{"TF_ACC_TERRAFORM_PATH=" + env.Tofu.Path, "TF_ACC_PROVIDER_HOST=registry.opentofu.org", "TF_CLI_CONFIG_FILE=" + env.Tofu.CLIConfigFile} {
		if !strings.Contains(vars, want) {
			t.Errorf("Tofu.Env() lacks %s", want)
		}
	}
	if _, err := os.Stat(env.Tofu.CLIConfigFile); err != nil {
		t.Errorf("CLI config file: %v", err)
	}
}

// ObjectVersions sees an object appear and its version change.
func TestObjectVersions(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	env := testenv.Start(t, testenv.Options{Clusters: 1})
	c := env.Clusters[0]
	before, err := c.ObjectVersions(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := before["namespaces /kube-system"]; !ok {
		t.Errorf("kube-system is not listed: %d objects", len(before))
	}
	cs, _ := c.Clientset()
	cm, err := cs.CoreV1().ConfigMaps("default").Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "probe"}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	created, err := c.ObjectVersions(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// A started cluster has settled: the API server's own objects exist
	// already, so only the probe is new.
	if created["configmaps default/probe"] != cm.ResourceVersion || len(created) != len(before)+1 {
		t.Errorf("after a create: %d objects (was %d), probe at %q", len(created), len(before), created["configmaps default/probe"])
	}
	cm.Data = map[string]string{"k": "v"}
	if cm, err = cs.CoreV1().ConfigMaps("default").Update(ctx, cm, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	updated, err := c.ObjectVersions(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if updated["configmaps default/probe"] != cm.ResourceVersion || updated["configmaps default/probe"] == created["configmaps default/probe"] {
		t.Errorf("after an update the version should change: %q then %q", created["configmaps default/probe"], updated["configmaps default/probe"])
	}
}
