package export

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
)

// create makes a new file and refuses one that exists; same compares
// exactly, a longer or shorter file differing.
func TestFilesCreateAndSame(t *testing.T) {
	dir := t.TempDir()
	fl := newFiles()
	defer fl.close()
	full := filepath.Join(dir, "configmap-a.yaml")
	if err := fl.create(full, []byte("kind: ConfigMap\n")); err != nil {
		t.Fatal(err)
	}
	if data, err := os.ReadFile(full); err != nil || string(data) != "kind: ConfigMap\n" {
		t.Fatalf("read back %q, %v", data, err)
	}
	if err := fl.create(full, []byte("other")); !errors.Is(err, fs.ErrExist) {
		t.Errorf("creating an existing file: %v, want it refused as existing", err)
	}
	for want, same := range map[string]bool{"kind: ConfigMap\n": true, "kind: ConfigMap": false, "kind: ConfigMap\n\n": false, "kind: Secret\n   ": false, "": false} {
		got, err := fl.same(full, []byte(want))
		if err != nil || got != same {
			t.Errorf("same(%q) = %v, %v; want %v", want, got, err, same)
		}
	}
	if _, err := fl.same(filepath.Join(dir, "missing.yaml"), nil); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("a missing file: %v, want fs.ErrNotExist", err)
	}
	if err := fl.create(filepath.Join(dir, "no-such-dir", "x.yaml"), nil); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("a missing directory: %v, want fs.ErrNotExist", err)
	}
}
