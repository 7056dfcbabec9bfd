package export

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"runtime"
	"slices"
	"strings"

	"golang.org/x/sync/errgroup"
)

// IndexFile lists the files an export wrote, relative to its directory, so
// that the next export removes only those of objects that are gone.
const IndexFile = ".kbackup-export.json"

// indexFormatVersion is the version of IndexFile's format.
const indexFormatVersion = 1

// index is IndexFile. It holds no backup ID and no time: an export of
// an unchanged cluster writes the same index.
type index struct {
	FormatVersion int      `json:"formatVersion"`
	Tool          string   `json:"tool"`
	Format        Format   `json:"format"`
	Files         []string `json:"files"`
}

// output is the directory an export writes, as found before writing.
type output struct {
	root string
	// previous are the files the last export wrote, from its index.
	previous []string
	hadIndex bool
	// existing are the files the directory holds, all of them previous
	// ones.
	existing map[string]bool
}

// fileWorkers bounds the files read or written at once.
const fileWorkers = 8

// openOutput reads dir: its index, and whether it holds files the export
// did not write, which it refuses before anything is written or deleted.
func openOutput(dir string) (*output, error) {
	root, err := filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	out := &output{root: root, existing: map[string]bool{}}
	info, err := os.Stat(root)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return out, nil
	case err != nil:
		return nil, err
	case !info.IsDir():
		return nil, fmt.Errorf("output %s is a file; give a directory (it is created when missing)", root)
	}
	data, err := os.ReadFile(filepath.Join(root, IndexFile))
	switch {
	case err == nil:
		var idx index
		if err := json.Unmarshal(data, &idx); err != nil || idx.FormatVersion == 0 {
			return nil, fmt.Errorf("%s is not an index kbackup export wrote (%v); remove it, or export into another directory", filepath.Join(root, IndexFile), err)
		}
		if idx.FormatVersion > indexFormatVersion {
			return nil, fmt.Errorf("%s has format version %d; this kbackup knows %d: upgrade kbackup", filepath.Join(root, IndexFile), idx.FormatVersion, indexFormatVersion)
		}
		for _, f := range idx.Files {
			if !safePath(f) {
				return nil, fmt.Errorf("%s names %q, which is not a file inside the directory: refusing to touch it", filepath.Join(root, IndexFile), f)
			}
		}
		out.previous, out.hadIndex = idx.Files, true
	case !errors.Is(err, fs.ErrNotExist):
		return nil, err
	}
	previous := make(map[string]bool, len(out.previous))
	for _, f := range out.previous {
		previous[f] = true
	}
	var foreign []string
	err = filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		rel = filepath.ToSlash(rel)
		switch {
		case rel == ".":
			return nil
		case d.IsDir() && rel == ".git":
			return fs.SkipDir // the repository the export lives in
		case d.IsDir():
			return nil
		case rel == IndexFile:
			out.existing[rel] = true
			return nil
		}
		if !previous[rel] {
			foreign = append(foreign, rel)
		}
		out.existing[rel] = true
		return nil
	})
	if err != nil {
		return nil, err
	}
	if len(foreign) > 0 {
		shown := foreign
		if len(shown) > 10 {
			shown = shown[:10]
		}
		more := ""
		if len(foreign) > len(shown) {
			more = fmt.Sprintf(" and %d more", len(foreign)-len(shown))
		}
		why := "it has no " + IndexFile
		if out.hadIndex {
			why = "its " + IndexFile + " does not list them"
		}
		return nil, fmt.Errorf("%w: %s holds %s%s (%s); nothing was written or deleted: export into an empty directory, "+
			"a subdirectory of your repository, or a directory an export wrote", ErrForeignFiles, root, strings.Join(shown, ", "), more, why)
	}
	return out, nil
}

// safePath says whether p is a relative path inside the directory, and not
// inside its .git.
func safePath(p string) bool {
	return p != "" && filepath.IsLocal(filepath.FromSlash(p)) && path.Clean(p) == p && p != IndexFile &&
		p != ".git" && !strings.HasPrefix(p, ".git/")
}

// sync makes the directory hold files and nothing else of the export's:
// files whose bytes differ are written, files of the previous export that
// are no longer part of it removed. With check, it only compares.
func (out *output) sync(files map[string][]byte, format Format, check bool, res *Result) error {
	paths := make([]string, 0, len(files))
	for p := range files {
		if !safePath(p) {
			return fmt.Errorf("internal error: export file %q is not a path inside the directory", p)
		}
		paths = append(paths, p)
	}
	slices.Sort(paths)
	idx, err := json.MarshalIndent(index{FormatVersion: indexFormatVersion, Tool: "kbackup export", Format: format, Files: paths}, "", "  ")
	if err != nil {
		return err
	}
	idx = append(idx, '\n')
	all := map[string][]byte{IndexFile: idx}
	for p, data := range files {
		all[p] = data
	}
	res.Files = len(all)
	names := append(slices.Clone(paths), IndexFile)
	slices.Sort(names)
	// Compared in parallel: on this kind of machine each file costs a few
	// system calls of tens of µs, and 10,000 of them one after another
	// were most of an export's time. Only files the directory holds are
	// read: a file the walk did not find cannot exist (a new one would
	// have been refused as foreign).
	state := make([]int, len(names)) // 0 unchanged, 1 created, 2 updated
	fl := newFiles()
	defer fl.close()
	g := new(errgroup.Group)
	g.SetLimit(fileWorkers)
	for i, p := range names {
		if !out.existing[p] {
			state[i] = 1
			continue
		}
		g.Go(func() error {
			same, err := fl.same(filepath.Join(out.root, filepath.FromSlash(p)), all[p])
			switch {
			case errors.Is(err, fs.ErrNotExist):
				state[i] = 1
			case err != nil:
				return err
			case !same:
				state[i] = 2
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return err
	}
	var writes []string
	for i, p := range names {
		switch state[i] {
		case 0:
			res.Unchanged++
		case 1:
			res.Created = append(res.Created, p)
			writes = append(writes, p)
		case 2:
			res.Updated = append(res.Updated, p)
			writes = append(writes, p)
		}
	}
	for _, p := range out.previous {
		if _, ok := all[p]; ok {
			continue
		}
		if _, err := os.Lstat(filepath.Join(out.root, filepath.FromSlash(p))); err == nil {
			res.Deleted = append(res.Deleted, p)
		}
	}
	if check {
		res.Drift = res.Changed()
		return nil
	}
	made := map[string]bool{}
	isNew := make(map[string]bool, len(res.Created))
	for _, p := range res.Created {
		isNew[p] = true
	}
	for _, p := range writes {
		dir := filepath.Dir(filepath.Join(out.root, filepath.FromSlash(p)))
		if !made[dir] {
			if err := os.MkdirAll(dir, 0o755); err != nil {
				return err
			}
			made[dir] = true
		}
	}
	// A directory at a time on each CPU: creating a file is mostly the
	// kernel's work, which runs on every core, but creates in one
	// directory wait for each other, so no two writers share one. The
	// index last: an export stopped half-way leaves the previous index,
	// and the files it wrote are new ones that the next export finds
	// foreign, never the user's removed.
	var dirs []string
	byDir := map[string][]string{}
	for _, p := range writes {
		if p == IndexFile {
			continue
		}
		d := path.Dir(p)
		if byDir[d] == nil {
			dirs = append(dirs, d)
		}
		byDir[d] = append(byDir[d], p)
	}
	writers := new(errgroup.Group)
	writers.SetLimit(runtime.GOMAXPROCS(0))
	for _, d := range dirs {
		writers.Go(func() error {
			for _, p := range byDir[d] {
				if err := fl.write(out.root, p, all[p], isNew[p]); err != nil {
					return err
				}
			}
			return nil
		})
	}
	if err := writers.Wait(); err != nil {
		return err
	}
	if slices.Contains(writes, IndexFile) {
		if err := fl.write(out.root, IndexFile, all[IndexFile], isNew[IndexFile]); err != nil {
			return err
		}
	}
	for _, p := range res.Deleted {
		full := filepath.Join(out.root, filepath.FromSlash(p))
		if err := os.Remove(full); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
		// Directories the removal emptied go too, up to the root.
		for dir := filepath.Dir(full); dir != out.root && strings.HasPrefix(dir, out.root+string(filepath.Separator)); dir = filepath.Dir(dir) {
			if os.Remove(dir) != nil {
				break // not empty
			}
		}
	}
	return nil
}

// write writes a new file in place (it must not have appeared since the
// directory was read), and replaces an existing one at once (a temporary
// file renamed), so that an interrupted export leaves each file old or
// new, never half.
func (fl *files) write(root, rel string, data []byte, created bool) error {
	full := filepath.Join(root, filepath.FromSlash(rel))
	if created {
		return fl.create(full, data)
	}
	tmp, err := os.CreateTemp(filepath.Dir(full), ".kbackup-export-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Chmod(0o644); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), full)
}
