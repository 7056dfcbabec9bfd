package catalog_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kbackup/kbackup/core/backup"
	"github.com/kbackup/kbackup/core/catalog"
	"github.com/kbackup/kbackup/core/kube"
	"github.com/kbackup/kbackup/core/repo"
	"github.com/kbackup/kbackup/core/selection"
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
		got, err := catalog.ResolveResource(m, input)
		if err != nil || got != want {
			t.Errorf("ResolveResource(%q) = %q, %v; want %q", input, got, err, want)
		}
	}
	if _, err := catalog.ResolveResource(m, "gadgets"); err == nil || !strings.Contains(err.Error(), "deployments.apps") {
		t.Errorf("unknown type: want an error listing the types held, got %v", err)
	}

	// With the cluster's discovery, short names resolve too, and a name
	// the backup does not hold is refused naming what the cluster calls it.
	found, err := client.Discover(ctx)
	if err != nil {
		t.Fatal(err)
	}
	names := catalog.TypeNames{Discovery: found, Backups: []*repo.Manifest{m}}
	for input, want := range map[string]string{
		"cm": "configmaps", "deploy": "deployments.apps", "wdg": "widgets.example.kbackup.io", "Deployment": "deployments.apps",
		"deployments.v1.apps": "deployments.apps", "sts": "statefulsets.apps",
		// Served by the cluster, held by no backup: it selects nothing.
		"csr": "certificatesigningrequests.certificates.k8s.io",
	} {
		got, err := names.Resolve(input)
		if err != nil || got != want {
			t.Errorf("Resolve(%q) = %q, %v; want %q", input, got, err, want)
		}
	}
	if _, err := (catalog.TypeNames{Backups: []*repo.Manifest{m}}).Resolve("cm"); err == nil {
		t.Error("without discovery, a short name is not known")
	}
	if _, err := names.Resolve("gadgets"); err == nil || !strings.Contains(err.Error(), "the cluster serves no such type") || !strings.Contains(err.Error(), "deployments.apps") {
		t.Errorf("a type neither side knows: want an error saying so and listing the backup's types, got %v", err)
	}
	if !catalog.Holds(m, "deployments.apps") || catalog.Holds(m, "deploy") {
		t.Error("Holds")
	}

	obj, err := catalog.Find(ctx, r, m, "widgets.example.kbackup.io", "shop", "checkout-widget")
	if err != nil {
		t.Fatal(err)
	}
	if obj.GetKind() != "Widget" || obj.Object["spec"].(map[string]any)["color"] != "blue" {
		t.Errorf("found %v", obj.Object)
	}
	if _, err := catalog.Find(ctx, r, m, "configmaps", "shop", "nope"); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("missing object: want ErrNotFound, got %v", err)
	}
	if _, err := catalog.Find(ctx, r, m, "storageclasses.storage.k8s.io", "", "shop-fast"); err != nil {
		t.Errorf("cluster-scoped object: %v", err)
	}

	sel, err := selection.Selection{IncludeNamespaces: []string{"shop"}, IncludeResources: []string{"configmaps", "secret"}}.Compile(nil, names.Resolver())
	if err != nil {
		t.Fatal(err)
	}
	selected := catalog.Select(m, sel, false)
	objs, err := catalog.ReadAll(ctx, r, selected, 4)
	if err != nil {
		t.Fatal(err)
	}
	var read []string
	for _, o := range objs {
		read = append(read, o.Pack.Resource+"/"+o.Object.GetName())
	}
	if got := strings.Join(read, " "); got != "configmaps/shop-config configmaps/shop-db-init secrets/shop-db-credentials secrets/shop-registry" {
		t.Errorf("ReadAll = %s", got)
	}

	total := 0
	for _, c := range catalog.Counts(m) {
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
	if _, err := catalog.ReadPack(ctx, r, p); !errors.Is(err, repo.ErrCorrupt) || !strings.Contains(err.Error(), p.Key) {
		t.Errorf("corrupt pack: want ErrCorrupt naming %s, got %v", p.Key, err)
	}
}
