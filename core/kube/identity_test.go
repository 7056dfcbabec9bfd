package kube_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"testing"

	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/kbackup/kbackup/core/kube"
	"github.com/kbackup/kbackup/core/testenv"
)

func detect(t *testing.T, c *kube.Client, opts kube.DetectOptions) *kube.Identity {
	t.Helper()
	id, err := kube.DetectIdentity(testContext(t), c, opts)
	if err != nil {
		t.Fatal(err)
	}
	return id
}

func kubeSystemUID(t *testing.T, c *testenv.Cluster) string {
	t.Helper()
	cs, err := c.Clientset()
	if err != nil {
		t.Fatal(err)
	}
	ns, err := cs.CoreV1().Namespaces().Get(testContext(t), "kube-system", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return string(ns.UID)
}

// hasEvidence reports whether id.Sources has an entry whose source and
// detail contain the given strings.
func hasEvidence(id *kube.Identity, source, detail string) bool {
	for _, e := range id.Sources {
		if strings.Contains(e.Source, source) && strings.Contains(e.Detail, detail) {
			return true
		}
	}
	return false
}

func checkIdentity(t *testing.T, id *kube.Identity, name, nameSource, provider, distribution string) {
	t.Helper()
	if id.Name != name || !strings.Contains(id.NameSource, nameSource) || id.Provider != provider || id.Distribution != distribution {
		t.Errorf("identity: name %q from %q, provider %q, distribution %q; want %q from …%q…, %q, %q\nsources: %v",
			id.Name, id.NameSource, id.Provider, id.Distribution, name, nameSource, provider, distribution, id.Sources)
	}
}

// With nothing in the cluster that names it, the name comes from the
// kubeconfig context, else from the kube-system UID.
func TestDetectIdentityFallbacks(t *testing.T) {
	t.Parallel()
	uid := kubeSystemUID(t, plain)

	id := detect(t, newClient(t, plain.Config(), ""), kube.DetectOptions{})
	checkIdentity(t, id, "cluster-"+uid[:8], "kube-system uid", kube.ProviderUnknown, kube.DistributionKubernetes)
	if id.UID != uid || id.Server != plain.Server || id.KubernetesVersion == "" || id.ContextName != "" {
		t.Errorf("identity %+v; want uid %s, server %s and a version", id, uid, plain.Server)
	}
	if !hasEvidence(id, "namespace kube-system", uid) || !hasEvidence(id, "nodes", "none") {
		t.Errorf("sources %v should show the kube-system UID and that there are no nodes", id.Sources)
	}

	id = detect(t, newClient(t, plain.Config(), "arn:aws:eks:eu-west-1:123456789012:cluster/prod-eu"), kube.DetectOptions{})
	checkIdentity(t, id, "prod-eu", "kubeconfig context arn:aws:eks:eu-west-1:123456789012:cluster/prod-eu", kube.ProviderUnknown, kube.DistributionKubernetes)

	// Through a real kubeconfig whose context name is no DNS label.
	path := filepath.Join(t.TempDir(), "kubeconfig")
	if err := clientcmd.WriteToFile(*plain.Kubeconfig("Staging_Cluster.eu"), path); err != nil {
		t.Fatal(err)
	}
	cfg, contextName, err := kube.LoadRESTConfig(kube.LoadOptions{Kubeconfig: path})
	if err != nil {
		t.Fatal(err)
	}
	id = detect(t, newClient(t, cfg, contextName), kube.DetectOptions{})
	checkIdentity(t, id, "staging-cluster-eu", "kubeconfig context Staging_Cluster.eu", kube.ProviderUnknown, kube.DistributionKubernetes)
	if id.ContextName != "Staging_Cluster.eu" || id.UID != uid {
		t.Errorf("context %q, uid %s", id.ContextName, id.UID)
	}
}

// An explicit name wins over everything and must be a valid name.
func TestDetectIdentityExplicitName(t *testing.T) {
	t.Parallel()
	c := newClient(t, plain.Config(), "plain")
	id := detect(t, c, kube.DetectOptions{Name: "prod-eu", NameSource: "env CLUSTER_NAME"})
	checkIdentity(t, id, "prod-eu", "env CLUSTER_NAME", kube.ProviderUnknown, kube.DistributionKubernetes)
	if id.UID == "" {
		t.Error("an explicit name still needs the UID detected")
	}

	for _, bad := range []string{"Prod_EU", "_fleet", strings.Repeat("x", 64)} {
		_, err := kube.DetectIdentity(testContext(t), c, kube.DetectOptions{Name: bad, NameSource: "flag"})
		if !errors.Is(err, kube.ErrInvalidClusterName) || !strings.Contains(err.Error(), "(from flag)") {
			t.Errorf("name %q: want ErrInvalidClusterName naming the flag, got %v", bad, err)
		}
	}
}

// redirected returns an admin configuration for c whose Host is host: the
// connection goes to c's real port, and TLS checks the certificate for
// localhost, so detection sees the host name while talking to the real
// server.
func redirected(c *testenv.Cluster, host string) *rest.Config {
	cfg := c.Config()
	cfg.Host = host
	cfg.TLSClientConfig.ServerName = "localhost"
	target := strings.TrimPrefix(c.Server, "https://")
	cfg.Dial = func(ctx context.Context, network, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, network, target)
	}
	cfg.Proxy = func(*http.Request) (*url.URL, error) { return nil, nil }
	return cfg
}

// Host names of managed API servers name the cluster when nothing in it
// does, and say who provides it.
func TestDetectIdentityFromServerHost(t *testing.T) {
	t.Parallel()
	uid := kubeSystemUID(t, plain)
	for _, tc := range []struct {
		host, name, provider, distribution string
	}{
		{"https://abcdef0123.gr7.eu-west-1.eks.amazonaws.com", "abcdef0123", kube.ProviderAWS, kube.DistributionEKS},
		{"https://prod-eu-dns-1a2b3c4d.hcp.westeurope.azmk8s.io:443", "prod-eu-dns", kube.ProviderAzure, kube.DistributionAKS},
		{"https://api.payments.example.com:6443", "payments", kube.ProviderUnknown, kube.DistributionKubernetes},
		{"https://8c1f0b5e-7a3d-4f1e-9b2a-5c6d7e8f9a0b.k8s.ondigitalocean.com", "8c1f0b5e-7a3d-4f1e-9b2a-5c6d7e8f9a0b", kube.ProviderDigitalOcean, kube.DistributionDOKS},
		{"https://1a2b3c4d-aaaa.us-east-2.linodelke.net:443", "1a2b3c4d-aaaa", kube.ProviderLinode, kube.DistributionLKE},
		// GKE's DNS endpoint says who, not which: the context names it.
		{"https://gke-0123456789abcdef-123456789012.europe-west1.gke.goog", "ctx-name", kube.ProviderGCP, kube.DistributionGKE},
	} {
		t.Run(tc.host, func(t *testing.T) {
			t.Parallel()
			c := newClient(t, redirected(plain, tc.host), "ctx-name")
			id := detect(t, c, kube.DetectOptions{})
			source := "API server host"
			if tc.name == "ctx-name" {
				source = "kubeconfig context"
			}
			checkIdentity(t, id, tc.name, source, tc.provider, tc.distribution)
			if id.UID != uid || id.Server != tc.host {
				t.Errorf("uid %s, server %s: not the real cluster reached through %s", id.UID, id.Server, tc.host)
			}
		})
	}
}

var nodeGVR = schema.GroupVersionResource{Version: "v1", Resource: "nodes"}

// Labels name the cluster: on a node, then, winning over the node, on
// kube-system; the first key of the seed's list wins. Node labels and
// provider IDs say who provides it.
func TestDetectIdentityFromLabels(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	c := newClient(t, labelled.Config(), "labelled-context")
	cs, err := labelled.Clientset()
	if err != nil {
		t.Fatal(err)
	}

	id := detect(t, c, kube.DetectOptions{})
	checkIdentity(t, id, "labelled-context", "kubeconfig context", kube.ProviderUnknown, kube.DistributionKubernetes)

	// Nodes need no kubelet to exist as API objects.
	for i := range 2 {
		node := &corev1.Node{
			ObjectMeta: metav1.ObjectMeta{
				Name: fmt.Sprintf("ip-10-0-1-%d.eu-west-1.compute.internal", i+1),
				Labels: map[string]string{
					"alpha.eksctl.io/cluster-name": "Payments_Prod",
					"eks.amazonaws.com/nodegroup":  "ng-1",
					"kubernetes.io/os":             "linux",
				},
			},
			Spec: corev1.NodeSpec{ProviderID: fmt.Sprintf("aws:///eu-west-1a/i-0abc%d", i)},
		}
		if _, err := cs.CoreV1().Nodes().Create(ctx, node, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	id = detect(t, c, kube.DetectOptions{})
	checkIdentity(t, id, "payments-prod", "label alpha.eksctl.io/cluster-name on node ip-10-0-1-1", kube.ProviderAWS, kube.DistributionEKS)
	if !hasEvidence(id, "spec.providerID", "aws:///eu-west-1a/i-0abc0 → provider aws") ||
		!hasEvidence(id, "label eks.amazonaws.com/nodegroup on node", "distribution eks") {
		t.Errorf("sources %v should show the provider ID and the node group label", id.Sources)
	}

	patch := `{"metadata":{"labels":{"kubernetes.io/cluster-name":"second-choice","cluster-name":"Prod-EU"}}}`
	if _, err := cs.CoreV1().Namespaces().Patch(ctx, "kube-system", types.MergePatchType, []byte(patch), metav1.PatchOptions{}); err != nil {
		t.Fatal(err)
	}
	id = detect(t, c, kube.DetectOptions{})
	checkIdentity(t, id, "prod-eu", "label cluster-name on namespace kube-system", kube.ProviderAWS, kube.DistributionEKS)
	if !hasEvidence(id, "label alpha.eksctl.io/cluster-name on node", "payments-prod") {
		t.Errorf("sources %v should still show the node's name label", id.Sources)
	}

	// Two clusters are told apart by their kube-system UIDs.
	other := detect(t, newClient(t, plain.Config(), ""), kube.DetectOptions{})
	if other.UID == id.UID || other.UID == "" {
		t.Errorf("clusters plain and labelled have UIDs %q and %q", other.UID, id.UID)
	}
}

var infrastructureGVR = schema.GroupVersionResource{Group: "config.openshift.io", Version: "v1", Resource: "infrastructures"}

// OpenShift's Infrastructure names the cluster and its platform gives the
// provider, ahead of kube-system's labels; its API group makes the
// distribution openshift.
func TestDetectIdentityOpenShift(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	c := newClient(t, openshiftCl.Config(), "admin/api-ocp-example-com:6443")
	cs, err := openshiftCl.Clientset()
	if err != nil {
		t.Fatal(err)
	}
	patch := `{"metadata":{"labels":{"cluster-name":"from-label"}}}`
	if _, err := cs.CoreV1().Namespaces().Patch(ctx, "kube-system", types.MergePatchType, []byte(patch), metav1.PatchOptions{}); err != nil {
		t.Fatal(err)
	}
	apply(t, ctx, openshiftCl, `
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: infrastructures.config.openshift.io
spec:
  group: config.openshift.io
  scope: Cluster
  names:
    plural: infrastructures
    singular: infrastructure
    kind: Infrastructure
    listKind: InfrastructureList
  versions:
  - name: v1
    served: true
    storage: true
    subresources:
      status: {}
    schema:
      openAPIV3Schema:
        type: object
        x-kubernetes-preserve-unknown-fields: true
`)
	waitEstablished(t, ctx, openshiftCl, "infrastructures.config.openshift.io")

	// The API group is there, the Infrastructure not yet: the label names the
	// cluster, and OpenShift is still recognised.
	var id *kube.Identity
	eventually(t, ctx, "config.openshift.io in discovery", func() error {
		id = detect(t, c, kube.DetectOptions{})
		if id.Distribution != kube.DistributionOpenShift {
			return fmt.Errorf("distribution %s", id.Distribution)
		}
		return nil
	})
	checkIdentity(t, id, "from-label", "label cluster-name on namespace kube-system", kube.ProviderOpenShift, kube.DistributionOpenShift)
	if !hasEvidence(id, "OpenShift Infrastructure cluster", "could not be read") {
		t.Errorf("sources %v should say the Infrastructure could not be read", id.Sources)
	}

	apply(t, ctx, openshiftCl, `
apiVersion: config.openshift.io/v1
kind: Infrastructure
metadata:
  name: cluster
spec:
  platformSpec:
    type: AWS
`)
	dyn := dynamic.NewForConfigOrDie(openshiftCl.Config())
	infra, err := dyn.Resource(infrastructureGVR).Get(ctx, "cluster", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	infra.Object["status"] = map[string]any{
		"infrastructureName": "ocp-prod-x7k2p",
		"platform":           "AWS",
		"platformStatus":     map[string]any{"type": "AWS", "aws": map[string]any{"region": "eu-west-1"}},
		"apiServerURL":       "https://api.ocp-prod.example.com:6443",
	}
	if _, err := dyn.Resource(infrastructureGVR).UpdateStatus(ctx, infra, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}

	id = detect(t, c, kube.DetectOptions{})
	checkIdentity(t, id, "ocp-prod-x7k2p", "OpenShift Infrastructure cluster status.infrastructureName", kube.ProviderAWS, kube.DistributionOpenShift)
	if !hasEvidence(id, "label cluster-name on namespace kube-system", "from-label") ||
		!hasEvidence(id, "OpenShift Infrastructure cluster", "platform AWS → provider aws") {
		t.Errorf("sources %v should show both the label and the Infrastructure", id.Sources)
	}

	// The explicit name still wins.
	id = detect(t, c, kube.DetectOptions{Name: "ocp-prod", NameSource: "config"})
	checkIdentity(t, id, "ocp-prod", "config", kube.ProviderAWS, kube.DistributionOpenShift)
}

// A user who may read kube-system but not list nodes still gets an identity,
// with the gap in the evidence; one who may not read kube-system gets an
// error that says why the namespace matters.
func TestDetectIdentityRestrictedUser(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	admin, err := plain.Clientset()
	if err != nil {
		t.Fatal(err)
	}
	sa := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "auditor", Namespace: "default"}}
	if _, err := admin.CoreV1().ServiceAccounts("default").Create(ctx, sa, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	tr, err := admin.CoreV1().ServiceAccounts("default").CreateToken(ctx, "auditor", &authenticationv1.TokenRequest{}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	c := newClient(t, plain.ConfigForToken(tr.Status.Token), "auditor")

	_, err = kube.DetectIdentity(ctx, c, kube.DetectOptions{})
	if !apierrors.IsForbidden(err) || !strings.Contains(err.Error(), "namespace kube-system of "+plain.Server+" (context auditor)") {
		t.Fatalf("without access to kube-system: want a Forbidden error naming kube-system and the cluster, got %v", err)
	}

	if _, err := admin.RbacV1().ClusterRoles().Create(ctx, &rbacv1.ClusterRole{
		ObjectMeta: metav1.ObjectMeta{Name: "namespace-reader"},
		Rules:      []rbacv1.PolicyRule{{APIGroups: []string{""}, Resources: []string{"namespaces"}, Verbs: []string{"get"}}},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := admin.RbacV1().ClusterRoleBindings().Create(ctx, &rbacv1.ClusterRoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: "auditor-namespace-reader"},
		RoleRef:    rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "ClusterRole", Name: "namespace-reader"},
		Subjects:   []rbacv1.Subject{{Kind: "ServiceAccount", Name: "auditor", Namespace: "default"}},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	var id *kube.Identity
	eventually(t, ctx, "the binding to take effect", func() error {
		id, err = kube.DetectIdentity(ctx, c, kube.DetectOptions{})
		return err
	})
	checkIdentity(t, id, "auditor", "kubeconfig context", kube.ProviderUnknown, kube.DistributionKubernetes)
	if id.UID != kubeSystemUID(t, plain) || !hasEvidence(id, "nodes", "not allowed to list nodes") {
		t.Errorf("uid %s, sources %v", id.UID, id.Sources)
	}
}

// An unreachable cluster fails detection with the connection error.
func TestDetectIdentityUnreachable(t *testing.T) {
	t.Parallel()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	c := newClient(t, &rest.Config{Host: "https://" + addr, TLSClientConfig: rest.TLSClientConfig{CAData: plain.CAData}}, "gone")
	_, err = kube.DetectIdentity(testContext(t), c, kube.DetectOptions{})
	if !errors.Is(err, kube.ErrUnreachable) {
		t.Fatalf("want ErrUnreachable, got %v", err)
	}
}
