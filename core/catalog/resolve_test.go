package catalog_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/kbackup/kbackup/core/catalog"
	"github.com/kbackup/kbackup/core/pack"
	"github.com/kbackup/kbackup/core/repo"
	"github.com/kbackup/kbackup/core/storage"
)

// localRepo is a new repository in a temporary directory, and its path.
func localRepo(t *testing.T) (*repo.Repository, string) {
	t.Helper()
	dir := t.TempDir()
	loc, err := storage.ParseURL(dir)
	if err != nil {
		t.Fatal(err)
	}
	r, err := repo.Open(context.Background(), repo.Options{Location: loc, Create: true})
	if err != nil {
		t.Fatal(err)
	}
	return r, dir
}

func commit(t *testing.T, r *repo.Repository, cluster, id string, started time.Time, phase repo.Phase) {
	t.Helper()
	m := &repo.Manifest{
		FormatVersion: repo.FormatVersion, ID: id, Phase: phase,
		Cluster:   repo.ClusterIdentity{Name: cluster, UID: "uid-" + cluster},
		StartedAt: started.UTC(), CompletedAt: started.UTC().Add(time.Second),
	}
	if err := r.CommitBackup(context.Background(), m); err != nil {
		t.Fatal(err)
	}
}

func fieldOf(t *testing.T, err error) string {
	t.Helper()
	var fe *field.Error
	if !errors.As(err, &fe) {
		t.Fatalf("want a field error, got %v", err)
	}
	return fe.Field
}

func TestResolveLatestAndByID(t *testing.T) {
	ctx := context.Background()
	r, _ := localRepo(t)
	base := time.Date(2026, 3, 1, 2, 0, 0, 0, time.UTC)

	_, err := catalog.Resolve(ctx, r, catalog.Ref{Cluster: "prod-eu", ID: catalog.Latest})
	if !errors.Is(err, storage.ErrNotFound) || !strings.Contains(err.Error(), "no backup") {
		t.Errorf("no backups: want ErrNotFound saying so, got %v", err)
	}
	commit(t, r, "prod-eu", "old", base, repo.PhaseCompleted)
	commit(t, r, "prod-eu", "partial", base.Add(time.Hour), repo.PhasePartiallyFailed)
	commit(t, r, "prod-eu", "failed", base.Add(2*time.Hour), repo.PhaseFailed)

	m, err := catalog.Resolve(ctx, r, catalog.Ref{Cluster: "prod-eu", ID: catalog.Latest})
	if err != nil || m.ID != "partial" {
		t.Errorf("latest = %v, %v; want partial (the newest that did not fail)", m, err)
	}
	m, err = catalog.Resolve(ctx, r, catalog.Ref{Cluster: "prod-eu", ID: "failed"})
	if err != nil || m.ID != "failed" {
		t.Errorf("by ID = %v, %v", m, err)
	}
	_, err = catalog.Resolve(ctx, r, catalog.Ref{Cluster: "prod-eu", ID: "20260101T000000Z-abcdef"})
	if !errors.Is(err, storage.ErrNotFound) || !strings.Contains(err.Error(), `no backup "20260101T000000Z-abcdef"`) {
		t.Errorf("unknown ID: %v", err)
	}
	// Bad input names the field and what is accepted.
	for _, tc := range []struct {
		ref   catalog.Ref
		field string
	}{
		{catalog.Ref{Cluster: "prod-eu", ID: "../x"}, "backup"},
		{catalog.Ref{Cluster: "Prod", ID: catalog.Latest}, "cluster"},
		{catalog.Ref{ID: catalog.Latest}, "cluster"},
	} {
		_, err := catalog.Resolve(ctx, r, tc.ref)
		if got := fieldOf(t, err); got != tc.field {
			t.Errorf("%+v: error on field %q, want %q: %v", tc.ref, got, tc.field, err)
		}
	}
}

// A backup named by its ID alone is found in whichever cluster has it.
func TestResolveIDInAnyCluster(t *testing.T) {
	ctx := context.Background()
	r, _ := localRepo(t)
	started := time.Date(2026, 3, 1, 2, 0, 0, 0, time.UTC)
	commit(t, r, "prod-eu", "20260301T020000Z-aaaaaa", started, repo.PhaseCompleted)
	commit(t, r, "dr-us", "20260301T020000Z-bbbbbb", started, repo.PhaseCompleted)
	commit(t, r, "prod-eu", "nightly", started, repo.PhaseCompleted)
	commit(t, r, "dr-us", "nightly", started, repo.PhaseCompleted)

	m, err := catalog.Resolve(ctx, r, catalog.Ref{ID: "20260301T020000Z-bbbbbb"})
	if err != nil || m.Cluster.Name != "dr-us" {
		t.Fatalf("found %v, %v; want dr-us's backup", m, err)
	}
	_, err = catalog.Resolve(ctx, r, catalog.Ref{ID: "nightly"})
	if fieldOf(t, err) != "cluster" || !strings.Contains(err.Error(), "dr-us, prod-eu") {
		t.Errorf("a name two clusters use: want an error on the cluster listing both, got %v", err)
	}
	if _, err = catalog.Resolve(ctx, r, catalog.Ref{ID: "missing"}); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("want ErrNotFound, got %v", err)
	}
}

// latest does not silently pass over a manifest it cannot read that may be
// newer than the backup it would choose; an older one does not stand in
// its way.
func TestResolveLatestRefusesAnUnreadableNewerManifest(t *testing.T) {
	ctx := context.Background()
	r, dir := localRepo(t)
	started := time.Now().Add(-time.Hour)
	commit(t, r, "prod-eu", "good", started, repo.PhaseCompleted)
	backups := filepath.Join(dir, "prod-eu", "_backups")

	// A manifest of a newer format, written after "good" started.
	newer := filepath.Join(backups, "next.json")
	if err := os.WriteFile(newer, []byte(`{"formatVersion": 2, "id": "next"}`), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := catalog.Resolve(ctx, r, catalog.Ref{Cluster: "prod-eu", ID: catalog.Latest})
	if !errors.Is(err, repo.ErrUnsupportedFormat) || !strings.Contains(err.Error(), "next") {
		t.Errorf("a newer-format manifest newer than the latest readable one: want an error naming it, got %v", err)
	}

	// The same file, written before "good" started, is no candidate.
	old := started.Add(-time.Hour)
	if err := os.Chtimes(newer, old, old); err != nil {
		t.Fatal(err)
	}
	m, err := catalog.Resolve(ctx, r, catalog.Ref{Cluster: "prod-eu", ID: catalog.Latest})
	if err != nil || m.ID != "good" {
		t.Errorf("an older unreadable manifest: latest = %v, %v; want good", m, err)
	}

	// A corrupt manifest is an error too, and by ID the good one still reads.
	if err := os.WriteFile(filepath.Join(backups, "broken.json"), []byte(`{"formatVersion": 1,`), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := catalog.Resolve(ctx, r, catalog.Ref{Cluster: "prod-eu", ID: catalog.Latest}); !errors.Is(err, repo.ErrCorrupt) || !strings.Contains(err.Error(), "broken") {
		t.Errorf("a corrupt manifest newer than the latest: want ErrCorrupt naming it, got %v", err)
	}
	if m, err := catalog.Resolve(ctx, r, catalog.Ref{Cluster: "prod-eu", ID: "good"}); err != nil || m.ID != "good" {
		t.Errorf("by ID: %v, %v", m, err)
	}
}

// A pack whose objects are not where its manifest entry says is refused,
// naming the pack and the object, before anything reads its objects: a
// restore of team-a must not be able to write into kube-system.
func TestReadPackRefusesObjectsOutOfPlace(t *testing.T) {
	ctx := context.Background()
	r, _ := localRepo(t)
	configMap := func(namespace, name string) pack.Document {
		doc, err := pack.EncodeMap(map[string]any{"apiVersion": "v1", "kind": "ConfigMap",
			"metadata": map[string]any{"name": name, "namespace": namespace}})
		if err != nil {
			t.Fatal(err)
		}
		return doc
	}
	store := func(namespace string, gvk schema.GroupVersionKind, docs ...pack.Document) repo.PackEntry {
		content, names, err := pack.Build(docs)
		if err != nil {
			t.Fatal(err)
		}
		ref, _, err := r.WritePack(ctx, repo.PackSpec{Cluster: "prod", Namespace: namespace, Resource: "configmaps"}, content, nil)
		if err != nil {
			t.Fatal(err)
		}
		return repo.NewPackEntry(ref, gvk, names)
	}
	cm := schema.GroupVersionKind{Version: "v1", Kind: "ConfigMap"}

	good := store("team-a", cm, configMap("team-a", "app"))
	if objs, err := catalog.ReadPack(ctx, r, good); err != nil || len(objs) != 1 {
		t.Fatalf("a good pack: %v, %v", objs, err)
	}
	for name, tc := range map[string]struct {
		entry repo.PackEntry
		say   string
	}{
		"another namespace":   {store("team-a", cm, configMap("kube-system", "escape")), `in namespace "kube-system", but the pack holds the objects of namespace team-a`},
		"cluster-scoped pack": {store("", cm, configMap("team-a", "x")), "no namespace (cluster-scoped)"},
		"another kind":        {store("team-a", schema.GroupVersionKind{Group: "rbac.authorization.k8s.io", Version: "v1", Kind: "RoleBinding"}, configMap("team-a", "x")), "the pack holds rbac.authorization.k8s.io/v1 RoleBinding"},
		"another name": {func() repo.PackEntry {
			e := store("team-a", cm, configMap("team-a", "x"))
			e.Objects = []string{"y"}
			return e
		}(), `named "x", the manifest names "y"`},
	} {
		_, err := catalog.ReadPack(ctx, r, tc.entry)
		if !errors.Is(err, repo.ErrCorrupt) || !strings.Contains(err.Error(), tc.entry.Key) || !strings.Contains(err.Error(), tc.say) {
			t.Errorf("%s: want ErrCorrupt naming %s and saying %q, got %v", name, tc.entry.Key, tc.say, err)
		}
	}
}

// A backup that is not there says which cluster and ID were asked for, so
// that a front end can point at the list, and latest of a cluster without
// backups names the clusters the repository has: the name is most often
// misspelt.
func TestResolveNotFoundSaysWhatExists(t *testing.T) {
	ctx := context.Background()
	r, _ := localRepo(t)
	started := time.Date(2026, 3, 1, 2, 0, 0, 0, time.UTC)
	commit(t, r, "prod-eu", "20260301T020000Z-aaaaaa", started, repo.PhaseCompleted)
	commit(t, r, "dr-us", "20260301T020000Z-bbbbbb", started, repo.PhaseCompleted)

	for _, tc := range []struct {
		ref        catalog.Ref
		want       repo.BackupNotFoundError
		wantInText string
	}{
		{catalog.Ref{Cluster: "prod-us", ID: catalog.Latest}, repo.BackupNotFoundError{Cluster: "prod-us"}, "(its clusters: dr-us, prod-eu)"},
		{catalog.Ref{Cluster: "prod-eu", ID: "nightly"}, repo.BackupNotFoundError{Cluster: "prod-eu", ID: "nightly"}, `cluster prod-eu has no backup "nightly"`},
		{catalog.Ref{ID: "nightly"}, repo.BackupNotFoundError{ID: "nightly"}, "(clusters: dr-us, prod-eu)"},
	} {
		_, err := catalog.Resolve(ctx, r, tc.ref)
		var nf *repo.BackupNotFoundError
		if !errors.As(err, &nf) || *nf != tc.want || !errors.Is(err, storage.ErrNotFound) {
			t.Errorf("%+v: want a BackupNotFoundError %+v that is ErrNotFound, got %v", tc.ref, tc.want, err)
			continue
		}
		if !strings.Contains(err.Error(), tc.wantInText) {
			t.Errorf("%+v: %q does not say %q", tc.ref, err, tc.wantInText)
		}
	}
}
