package workload_test

import (
	"context"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/dynamic"

	"github.com/kbackup/kbackup/core/testenv"
	"github.com/kbackup/kbackup/core/testenv/workload"
)

func TestInstallCreatesEveryObjectTwice(t *testing.T) {
	env := testenv.Start(t, testenv.Options{Clusters: 1})
	ctx := context.Background()
	cfg := env.Clusters[0].Config()
	var first *workload.Installed
	for _, ns := range []string{"shop", "shop-eu"} {
		in, err := workload.Install(ctx, cfg, workload.Options{Namespace: ns, OwnedObjects: true})
		if err != nil {
			t.Fatalf("install into %s: %v", ns, err)
		}
		if first == nil {
			first = in
		}
	}
	if kinds := first.Kinds(); len(kinds) < 25 {
		t.Errorf("want 25+ resource types, got %d: %v", len(kinds), kinds)
	}
	dyn := dynamic.NewForConfigOrDie(cfg)
	for _, o := range first.Objects {
		if _, err := dyn.Resource(o.GroupVersionResource).Namespace(o.Namespace).Get(ctx, o.Name, metav1.GetOptions{}); err != nil {
			t.Errorf("%s %s/%s: %v", o.GroupVersionResource.Resource, o.Namespace, o.Name, err)
		}
	}
	cs, _ := env.Clusters[0].Clientset()
	if err := workload.CreateConfigMaps(ctx, cs, workload.ConfigMaps{Namespaces: []string{"bulk-a", "bulk-b"}, Total: 101}); err != nil {
		t.Fatal(err)
	}
	list, err := cs.CoreV1().ConfigMaps("bulk-a").List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(list.Items) != 51 {
		t.Errorf("bulk-a holds %d ConfigMaps, want 51", len(list.Items))
	}
}
