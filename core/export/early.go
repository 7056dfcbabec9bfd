package export

import (
	"bytes"
	"os"
	"path"
	"path/filepath"
	"slices"
)

// earlyWriter writes the base files of namespaced objects while the rest
// of the backup is still read and encoded, into a new or empty directory:
// creating a file is mostly the kernel's work, about as long per object as
// reading and encoding it, and done after the read it was most of an
// export's time. The names are the ones baseFiles gives unless two objects
// of a namespace would share one; sync keeps a file written early only
// where the layout put the same bytes under the same name, and removes the
// others before writing. Nothing else is written early: the index and
// every generated file wait for the whole backup, so an export stopped
// half-way leaves files the next export finds foreign, as a stopped sync
// does, and one that fails removes what it wrote early.
type earlyWriter struct {
	root    string
	objects chan object
	done    chan struct{}
	// written and made are the writer goroutine's until done is closed.
	written  map[string][]byte
	made     []string
	finished bool
}

// earlyQueue bounds the objects waiting for the writer; a full queue
// makes the readers wait rather than hold the whole backup twice.
const earlyQueue = 256

func startEarlyWriter(root string) *earlyWriter {
	w := &earlyWriter{root: root, objects: make(chan object, earlyQueue), done: make(chan struct{}), written: map[string][]byte{}}
	go w.run()
	return w
}

// earlyPath is the file an object of a namespace's base most likely has.
func earlyPath(o object) string {
	return path.Join(namespacesDir, o.namespace, baseDir, fileName(o.kind+"-"+o.name)+".yaml")
}

func (w *earlyWriter) run() {
	defer close(w.done)
	made := map[string]bool{}
	for o := range w.objects {
		rel := earlyPath(o)
		if !safePath(rel) {
			continue
		}
		dir := filepath.Dir(filepath.Join(w.root, filepath.FromSlash(rel)))
		if !made[dir] {
			// The directories, from the root down, that this creates:
			// removed again when the export fails.
			var missing []string
			for d := dir; ; d = filepath.Dir(d) {
				if _, err := os.Lstat(d); err == nil {
					break
				}
				missing = append(missing, d)
				if d == filepath.Dir(d) {
					break
				}
			}
			if os.MkdirAll(dir, 0o755) != nil {
				continue // sync meets the error again and reports it
			}
			slices.Reverse(missing)
			w.made = append(w.made, missing...)
			made[dir] = true
		}
		// A name two objects share, or any error: left to sync.
		if writeFile(w.root, rel, o.data, true) == nil {
			w.written[rel] = o.data
		}
	}
}

// add queues a namespaced object's base file.
func (w *earlyWriter) add(o object) { w.objects <- o }

// finish waits for the queued files, and returns what was written.
func (w *earlyWriter) finish() map[string][]byte {
	if !w.finished {
		w.finished = true
		close(w.objects)
		<-w.done
	}
	return w.written
}

// settle keeps the files written early that files holds with the same
// bytes, and removes the others; it returns the kept ones.
func (w *earlyWriter) settle(files map[string][]byte) (map[string]bool, error) {
	kept := map[string]bool{}
	for rel, data := range w.finish() {
		if want, ok := files[rel]; ok && bytes.Equal(want, data) {
			kept[rel] = true
			continue
		}
		if err := os.Remove(filepath.Join(w.root, filepath.FromSlash(rel))); err != nil {
			return nil, err
		}
	}
	return kept, nil
}

// abandon removes everything written early, after an export failed.
func (w *earlyWriter) abandon() {
	for rel := range w.finish() {
		os.Remove(filepath.Join(w.root, filepath.FromSlash(rel)))
	}
	for i := len(w.made) - 1; i >= 0; i-- {
		os.Remove(w.made[i]) // only when empty
	}
}
