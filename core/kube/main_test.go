package kube_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/rest"

	"github.com/kbackup/kbackup/core/kube"
	"github.com/kbackup/kbackup/core/testenv"
)

// The package's clusters, started together once. Each is given to the tests
// whose changes would disturb the others:
//   - plain: nothing on it names the cluster (fallbacks, host patterns,
//     connections, discovery of built-in resources and of a CRD);
//   - labelled: kube-system and node labels, and an aggregated API that
//     does not answer;
//   - openshift: OpenShift's Infrastructure.
var (
	env                          *testenv.Env
	plain, labelled, openshiftCl *testenv.Cluster
)

func TestMain(m *testing.M) {
	var err error
	env, err = testenv.New(context.Background(), testenv.Options{ClusterNames: []string{"plain", "labelled", "openshift"}})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	plain, labelled, openshiftCl = env.Cluster("plain"), env.Cluster("labelled"), env.Cluster("openshift")
	code := m.Run()
	env.Stop()
	os.Exit(code)
}

// newClient connects to a test cluster as its admin.
func newClient(t *testing.T, cfg *rest.Config, contextName string) *kube.Client {
	t.Helper()
	c, err := kube.NewClient(cfg, kube.ClientOptions{ContextName: contextName})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func testContext(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// apply creates the objects of a YAML document stream through the dynamic
// client, as kubectl create would.
func apply(t *testing.T, ctx context.Context, c *testenv.Cluster, manifests string) {
	t.Helper()
	dyn := dynamic.NewForConfigOrDie(c.Config())
	dec := yaml.NewYAMLOrJSONDecoder(strings.NewReader(manifests), 4096)
	for {
		obj := &unstructured.Unstructured{}
		if err := dec.Decode(&obj.Object); err != nil {
			if errors.Is(err, io.EOF) {
				return
			}
			t.Fatalf("decoding test manifest: %v", err)
		}
		if len(obj.Object) == 0 {
			continue
		}
		gvr := resourceOf(t, obj)
		var ri dynamic.ResourceInterface = dyn.Resource(gvr)
		if ns := obj.GetNamespace(); ns != "" {
			ri = dyn.Resource(gvr).Namespace(ns)
		}
		if _, err := ri.Create(ctx, obj, metav1.CreateOptions{}); err != nil {
			t.Fatalf("creating %s %s in cluster %s: %v", obj.GetKind(), obj.GetName(), c.Name, err)
		}
	}
}

// resourceOf maps the few kinds the tests create to their resources.
func resourceOf(t *testing.T, obj *unstructured.Unstructured) schema.GroupVersionResource {
	t.Helper()
	gv, err := schema.ParseGroupVersion(obj.GetAPIVersion())
	if err != nil {
		t.Fatal(err)
	}
	resources := map[string]string{
		"CustomResourceDefinition": "customresourcedefinitions",
		"APIService":               "apiservices",
		"Infrastructure":           "infrastructures",
		"Node":                     "nodes",
	}
	r, ok := resources[obj.GetKind()]
	if !ok {
		t.Fatalf("test helper apply does not know kind %s", obj.GetKind())
	}
	return gv.WithResource(r)
}

var crdGVR = schema.GroupVersionResource{Group: "apiextensions.k8s.io", Version: "v1", Resource: "customresourcedefinitions"}

// waitEstablished waits until the API server serves a CRD.
func waitEstablished(t *testing.T, ctx context.Context, c *testenv.Cluster, name string) {
	t.Helper()
	dyn := dynamic.NewForConfigOrDie(c.Config())
	eventually(t, ctx, "CRD "+name+" established", func() error {
		crd, err := dyn.Resource(crdGVR).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		conds, _, _ := unstructured.NestedSlice(crd.Object, "status", "conditions")
		for _, c := range conds {
			m, _ := c.(map[string]any)
			if m["type"] == "Established" && m["status"] == "True" {
				return nil
			}
		}
		return fmt.Errorf("conditions %v", conds)
	})
}

// eventually retries check until it passes or ctx ends, for what the API
// server does asynchronously (CRDs becoming served, discovery updates).
func eventually(t *testing.T, ctx context.Context, what string, check func() error) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		err := check()
		if err == nil {
			return
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			t.Fatalf("waiting for %s: %v", what, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
