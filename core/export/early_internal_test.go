package export

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
)

// Two objects of a namespace whose base files would share a name: the
// early writer writes the first only, settle keeps what the layout names
// with the same bytes and removes the rest, and sync creates what is left.
func TestEarlyWriterSharedNameLeftToSync(t *testing.T) {
	root := filepath.Join(t.TempDir(), "out")
	out, err := openOutput(root) // as Run does, before writing
	if err != nil {
		t.Fatal(err)
	}
	w := startEarlyWriter(out.root)
	a := object{resource: "foos.a.example.com", group: "a.example.com", kind: "Foo", namespace: "shop", name: "x", data: []byte("a: 1\n")}
	b := object{resource: "foos.b.example.com", group: "b.example.com", kind: "Foo", namespace: "shop", name: "x", data: []byte("b: 1\n")}
	c := object{resource: "configmaps", kind: "ConfigMap", namespace: "shop", name: "c", data: []byte("c: 1\n")}
	for _, o := range []object{a, b, c} {
		w.add(o)
	}
	// The layout names a and b apart (baseFiles), and keeps c's name.
	names := baseFiles([]object{a, b, c})
	files := map[string][]byte{}
	for i, o := range []object{a, b, c} {
		files["namespaces/shop/base/"+names[i]] = o.data
	}
	kept, err := w.settle(files)
	if err != nil {
		t.Fatal(err)
	}
	if len(kept) != 1 || !kept["namespaces/shop/base/configmap-c.yaml"] {
		t.Errorf("kept %v, want only configmap-c.yaml", kept)
	}
	if _, err := os.Stat(filepath.Join(root, "namespaces/shop/base/foo-x.yaml")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("foo-x.yaml, written early under a name the layout does not use, is still there (%v)", err)
	}
	res := &Result{}
	if err := out.sync(files, kept, FormatGitOps, false, res); err != nil {
		t.Fatal(err)
	}
	if len(res.Created) != 4 || res.Unchanged != 0 {
		t.Errorf("created %v, unchanged %d; want the 3 files and the index created", res.Created, res.Unchanged)
	}
	for rel, want := range files {
		got, err := os.ReadFile(filepath.Join(root, rel))
		if err != nil || string(got) != string(want) {
			t.Errorf("%s holds %q (%v), want %q", rel, got, err, want)
		}
	}
}

// An export that fails after writing early leaves the directory as it
// found it: no file, and none of the directories it made.
func TestEarlyWriterAbandonRemovesWhatItWrote(t *testing.T) {
	parent := t.TempDir()
	root := filepath.Join(parent, "out")
	w := startEarlyWriter(root)
	w.add(object{resource: "configmaps", kind: "ConfigMap", namespace: "shop", name: "c", data: []byte("c: 1\n")})
	w.add(object{resource: "configmaps", kind: "ConfigMap", namespace: "web", name: "d", data: []byte("d: 1\n")})
	if len(w.finish()) != 2 {
		t.Fatalf("wrote %v, want 2 files", w.written)
	}
	w.abandon()
	entries, err := os.ReadDir(parent)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 0 {
		t.Errorf("%s holds %v after abandon, want nothing", parent, entries)
	}
}
