package catalog

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/kbackup/kbackup/core/pack"
	"github.com/kbackup/kbackup/core/repo"
	"github.com/kbackup/kbackup/core/storage"
)

// writeConfigMapPack stores a pack of ConfigMaps in namespace shop of a
// local repository, each with data of its own, and returns its entry.
func writeConfigMapPack(t *testing.T, r *repo.Repository, names []string, dataBytes int) repo.PackEntry {
	t.Helper()
	var docs []pack.Document
	for i, name := range names {
		doc, err := pack.EncodeMap(map[string]any{
			"apiVersion": "v1", "kind": "ConfigMap",
			"metadata": map[string]any{"name": name, "namespace": "shop"},
			"data":     map[string]any{"v": strings.Repeat(fmt.Sprint(i%10), dataBytes)},
		})
		if err != nil {
			t.Fatal(err)
		}
		docs = append(docs, doc)
	}
	content, ordered, err := pack.Build(docs)
	if err != nil {
		t.Fatal(err)
	}
	ref, _, err := r.WritePack(context.Background(), repo.PackSpec{Cluster: "prod", Namespace: "shop", Resource: "configmaps"}, content, nil)
	if err != nil {
		t.Fatal(err)
	}
	return repo.NewPackEntry(ref, schema.GroupVersionKind{Version: "v1", Kind: "ConfigMap"}, ordered)
}

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

// A pack over streamPacksAbove is decoded as a stream, with the same
// objects, sizes and checks as one read whole.
func TestLargePackIsStreamedWithTheSameChecks(t *testing.T) {
	ctx := context.Background()
	r, dir := localRepo(t)
	names := []string{"a", "b", "c", "d"}
	p := writeConfigMapPack(t, r, names, 100<<10)

	read := func() ([]string, []int, error) {
		var got []string
		var sizes []int
		err := EachSizedObject(ctx, r, p, func(i int, o *unstructured.Unstructured, size int) error {
			got = append(got, fmt.Sprintf("%d:%s:%d", i, o.GetName(), len(o.Object["data"].(map[string]any)["v"].(string))))
			sizes = append(sizes, size)
			return nil
		})
		return got, sizes, err
	}
	whole, wholeSizes, err := read()
	if err != nil {
		t.Fatal(err)
	}
	saved := streamPacksAbove
	streamPacksAbove = 0
	t.Cleanup(func() { streamPacksAbove = saved })
	streamed, streamedSizes, err := read()
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(whole) != fmt.Sprint(streamed) || fmt.Sprint(wholeSizes) != fmt.Sprint(streamedSizes) {
		t.Errorf("streamed %v %v, read whole %v %v", streamed, streamedSizes, whole, wholeSizes)
	}
	if len(streamed) != len(names) || wholeSizes[0] < 100<<10 {
		t.Errorf("read %v of sizes %v; want the 4 objects of more than 100 KiB", streamed, wholeSizes)
	}

	// The manifest entry names an object the pack does not hold: refused
	// before any object is given to the caller.
	short := p
	short.Objects = append([]string{"0"}, names...)
	calls := 0
	err = EachObject(ctx, r, short, func(int, *unstructured.Unstructured) error { calls++; return nil })
	if !errors.Is(err, repo.ErrCorrupt) || !strings.Contains(err.Error(), "holds 4 objects, its manifest entry names 5") || calls != 0 {
		t.Errorf("a pack holding fewer objects than its entry names: %v after %d objects; want ErrCorrupt before any", err, calls)
	}

	// A changed byte: refused naming the pack, before any object.
	path := filepath.Join(dir, filepath.FromSlash(p.Key))
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	data[len(data)/2] ^= 0xff
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	calls = 0
	err = EachObject(ctx, r, p, func(int, *unstructured.Unstructured) error { calls++; return nil })
	if !errors.Is(err, repo.ErrCorrupt) || !strings.Contains(err.Error(), p.Key) || calls != 0 {
		t.Errorf("a corrupt pack: %v after %d objects; want ErrCorrupt naming %s before any", err, calls, p.Key)
	}
}
