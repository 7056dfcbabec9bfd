package snapshot_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kbackup/kbackup/core/backup"
	"github.com/kbackup/kbackup/core/kube"
	"github.com/kbackup/kbackup/core/repo"
	"github.com/kbackup/kbackup/core/snapshot"
	"github.com/kbackup/kbackup/core/storage"
	"github.com/kbackup/kbackup/core/testenv"
	"github.com/kbackup/kbackup/core/testenv/workload"
)

func TestReadFindResolveCount(t *testing.T) {
	ctx := context.Background()
	env := testenv.Start(t, testenv.Options{Clusters: 1})
	cfg := env.Clusters[0].Config()
	if _, err := workload.Install(ctx, cfg, workload.Options{Namespace: "shop"}); err != nil {
		t.Fatal(err)
	}
	client, err := kube.NewClient(cfg, kube.ClientOptions{})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	loc, _ := storage.ParseURL(dir)
	res, err := backup.Run(ctx, client, repo.NewChooser(repo.Options{Location: loc, Create: true}), backup.Options{ClusterName: "snap"})
	if err != nil {
		t.Fatal(err)
	}
	m := res.Manifest
	r, err := repo.Open(ctx, repo.Options{Location: loc})
	if err != nil {
		t.Fatal(err)
	}

	for input, want := range map[string]string{
		"deployments.apps": "deployments.apps", "deployments": "deployments.apps", "Deployment": "deployments.apps",
		"deployment": "deployments.apps", "widgets.example.kbackup.io": "widgets.example.kbackup.io", "Widget": "widgets.example.kbackup.io",
		"configmaps": "configmaps",
	} {
		got, err := snapshot.ResolveResource(m, input)
		if err != nil || got != want {
			t.Errorf("ResolveResource(%q) = %q, %v; want %q", input, got, err, want)
		}
	}
	if _, err := snapshot.ResolveResource(m, "gadgets"); err == nil || !strings.Contains(err.Error(), "deployments.apps") {
		t.Errorf("unknown type: want an error listing the types held, got %v", err)
	}

	// With the cluster's discovery, short names resolve too, and a name
	// the backup does not hold is refused naming what the cluster calls it.
	found, err := client.Discover(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for input, want := range map[string]string{
		"cm": "configmaps", "deploy": "deployments.apps", "wdg": "widgets.example.kbackup.io", "Deployment": "deployments.apps",
		"deployments.v1.apps": "deployments.apps", "sts": "statefulsets.apps",
	} {
		got, err := snapshot.ResolveUserResource(m, found, input)
		if err != nil || got != want {
			t.Errorf("ResolveUserResource(%q) = %q, %v; want %q", input, got, err, want)
		}
		if _, err := snapshot.ResolveUserResource(m, nil, "cm"); err == nil {
			t.Error("without discovery, a short name is not known")
		}
	}
	if _, err := snapshot.ResolveUserResource(m, found, "csr"); err == nil || !strings.Contains(err.Error(), "certificatesigningrequests.certificates.k8s.io") {
		t.Errorf("a type the backup does not hold: %v", err)
	}
	if !snapshot.Holds(m, "deployments.apps") || snapshot.Holds(m, "deploy") {
		t.Error("Holds")
	}

	obj, err := snapshot.Find(ctx, r, m, "widgets.example.kbackup.io", "shop", "checkout-widget")
	if err != nil {
		t.Fatal(err)
	}
	if obj.GetKind() != "Widget" || obj.Object["spec"].(map[string]any)["color"] != "blue" {
		t.Errorf("found %v", obj.Object)
	}
	if _, err := snapshot.Find(ctx, r, m, "configmaps", "shop", "nope"); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("missing object: want ErrNotFound, got %v", err)
	}
	if _, err := snapshot.Find(ctx, r, m, "storageclasses.storage.k8s.io", "", "shop-fast"); err != nil {
		t.Errorf("cluster-scoped object: %v", err)
	}

	selected := snapshot.Select(m, snapshot.Filter{Namespaces: []string{"shop"}, Resources: []string{"configmaps", "secrets"}})
	objs, err := snapshot.ReadAll(ctx, r, selected, 4)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, o := range objs {
		names = append(names, o.Pack.Resource+"/"+o.Object.GetName())
	}
	if got := strings.Join(names, " "); got != "configmaps/shop-config configmaps/shop-db-init secrets/shop-db-credentials secrets/shop-registry" {
		t.Errorf("ReadAll = %s", got)
	}

	total := 0
	for _, c := range snapshot.Counts(m) {
		total += c.Objects
	}
	if total != m.Stats.Objects {
		t.Errorf("Counts add up to %d, the manifest says %d", total, m.Stats.Objects)
	}

	// A pack whose content was changed is refused, naming its key.
	p := selected[0]
	path := filepath.Join(dir, filepath.FromSlash(p.Key))
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	data[len(data)/2] ^= 0xff
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := snapshot.ReadPack(ctx, r, p); !errors.Is(err, repo.ErrCorrupt) || !strings.Contains(err.Error(), p.Key) {
		t.Errorf("corrupt pack: want ErrCorrupt naming %s, got %v", p.Key, err)
	}
}
