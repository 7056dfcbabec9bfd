package storage

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"iter"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
)

// tempPrefix starts the names of files being written. They are never
// listed, and no key may name one.
const tempPrefix = ".kbackup-tmp-"

// localBackend keeps objects as files under a root directory, a key's '/'
// being the path separator. Files are written to a temporary file in the
// same directory, synced and then renamed (or linked, for PutIfAbsent), so
// a reader sees a whole object or none. Files are readable by the owner
// only: packs hold Secrets.
type localBackend struct {
	root     string
	describe func(string) string
	// syncDir makes a directory's entries durable; tests replace it to
	// see which directories were synced.
	syncDir func(dir string) error
}

var _ Backend = (*localBackend)(nil)

func newLocalBackend(root string, describe func(string) string) *localBackend {
	return &localBackend{root: root, describe: describe, syncDir: syncDir}
}

func (b *localBackend) String() string { return b.root }

func (b *localBackend) fail(op, key string, err error) error {
	switch {
	case errors.Is(err, fs.ErrNotExist),
		// A key under a key, "a/b" when "a" is an object: no such
		// object either.
		(op == opRead || op == opStat) && errors.Is(err, syscall.ENOTDIR):
		err = ErrNotFound
	case errors.Is(err, syscall.ENOSPC), errors.Is(err, syscall.EROFS), errors.Is(err, syscall.EIO):
		err = fmt.Errorf("%w: %w", ErrStorageUnavailable, err)
	}
	return &OpError{Op: op, What: describe(b.describe, key), Key: key, Location: b.root, Err: err}
}

// path maps a key to a file path, refusing keys that could leave the root
// or name a temporary file.
func (b *localBackend) path(key string) (string, error) {
	if key == "" || strings.HasPrefix(key, "/") || strings.HasSuffix(key, "/") || strings.ContainsAny(key, "\\\x00") {
		return "", invalidf("key %q is not a relative slash-separated path", key)
	}
	for seg := range strings.SplitSeq(key, "/") {
		if seg == "" || seg == "." || seg == ".." || strings.HasPrefix(seg, tempPrefix) {
			return "", invalidf("key %q has the segment %q, which could leave the repository directory", key, seg)
		}
	}
	return filepath.Join(b.root, filepath.FromSlash(key)), nil
}

func (b *localBackend) Get(ctx context.Context, key string) ([]byte, error) {
	p, err := b.path(key)
	if err != nil {
		return nil, b.fail(opRead, key, err)
	}
	if err := ctx.Err(); err != nil {
		return nil, b.fail(opRead, key, err)
	}
	data, err := os.ReadFile(p)
	if err != nil {
		if errors.Is(err, syscall.EISDIR) {
			err = fs.ErrNotExist
		}
		return nil, b.fail(opRead, key, err)
	}
	return data, nil
}

func (b *localBackend) Put(ctx context.Context, key string, data []byte) error {
	return b.write(ctx, key, bytes.NewReader(data), os.Rename)
}

func (b *localBackend) putFile(ctx context.Context, key string, f *os.File, size int64) error {
	return b.write(ctx, key, io.NewSectionReader(f, 0, size), os.Rename)
}

func (b *localBackend) PutIfAbsent(ctx context.Context, key string, data []byte) error {
	// link(2) fails when the target exists, atomically; rename would
	// replace it.
	err := b.write(ctx, key, bytes.NewReader(data), func(tmp, final string) error {
		err := os.Link(tmp, final)
		if errors.Is(err, fs.ErrExist) {
			return ErrAlreadyExists
		}
		return err
	})
	return err
}

func (b *localBackend) write(ctx context.Context, key string, data io.Reader, commit func(tmp, final string) error) error {
	op := opWrite
	p, err := b.path(key)
	if err != nil {
		return b.fail(op, key, err)
	}
	if err := ctx.Err(); err != nil {
		return b.fail(op, key, err)
	}
	dir := filepath.Dir(p)
	var tmp *os.File
	// A concurrent Delete may remove the directory, once empty, between
	// MkdirAll and CreateTemp; create it again then.
	for attempt := 0; ; attempt++ {
		if err := b.mkdirAll(dir); err != nil {
			return b.fail(op, key, err)
		}
		tmp, err = os.CreateTemp(dir, tempPrefix+"*")
		if err == nil {
			break
		}
		if !errors.Is(err, fs.ErrNotExist) || attempt == 3 {
			return b.fail(op, key, err)
		}
	}
	tmpName := tmp.Name()
	defer os.Remove(tmpName) // after a rename, harmlessly fails
	_, err = io.Copy(tmp, data)
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return b.fail(op, key, err)
	}
	if err := commit(tmpName, p); err != nil {
		return b.fail(op, key, err)
	}
	// The new name is durable only once the directory is synced.
	if err := b.syncDir(dir); err != nil {
		return b.fail(op, key, err)
	}
	return nil
}

// mkdirAll is os.MkdirAll that also syncs the parent of every directory
// it creates: a new directory's entry is durable only once its parent is
// synced, and a file in a directory whose entry is lost after a crash is
// lost with it.
func (b *localBackend) mkdirAll(dir string) error {
	var missing []string
	for d := dir; ; d = filepath.Dir(d) {
		fi, err := os.Stat(d)
		if err == nil {
			if !fi.IsDir() {
				return &fs.PathError{Op: "mkdir", Path: d, Err: syscall.ENOTDIR}
			}
			break
		}
		if !errors.Is(err, fs.ErrNotExist) {
			return err
		}
		missing = append(missing, d)
		if parent := filepath.Dir(d); parent == d {
			break
		}
	}
	for i := len(missing) - 1; i >= 0; i-- {
		d := missing[i]
		// A concurrent writer may create it first; either way its
		// parent is synced.
		if err := os.Mkdir(d, 0o700); err != nil && !errors.Is(err, fs.ErrExist) {
			return err
		}
		if err := b.syncDir(filepath.Dir(d)); err != nil {
			return err
		}
	}
	return nil
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	// Some file systems cannot sync a directory; the data is synced.
	if errors.Is(err, syscall.EINVAL) || errors.Is(err, syscall.ENOTSUP) {
		return nil
	}
	return err
}

func (b *localBackend) Stat(ctx context.Context, key string) (ObjectInfo, error) {
	p, err := b.path(key)
	if err != nil {
		return ObjectInfo{}, b.fail(opStat, key, err)
	}
	if err := ctx.Err(); err != nil {
		return ObjectInfo{}, b.fail(opStat, key, err)
	}
	fi, err := os.Stat(p)
	if err == nil && fi.IsDir() {
		err = fs.ErrNotExist
	}
	if err != nil {
		return ObjectInfo{}, b.fail(opStat, key, err)
	}
	return ObjectInfo{Key: key, Size: fi.Size(), ModTime: fi.ModTime()}, nil
}

func (b *localBackend) List(ctx context.Context, prefix string) iter.Seq2[ObjectInfo, error] {
	return func(yield func(ObjectInfo, error) bool) {
		objects, err := b.list(ctx, prefix)
		if err != nil {
			yield(ObjectInfo{}, b.fail(opList, prefix, err))
			return
		}
		for _, o := range objects {
			if !yield(o, nil) {
				return
			}
		}
	}
}

// list walks the deepest directory that holds every key with the prefix.
// Keys are collected and sorted, since a walk's order is not key order
// ("a.b" < "a/b" but the walk visits a/ first).
func (b *localBackend) list(ctx context.Context, prefix string) ([]ObjectInfo, error) {
	if strings.HasPrefix(prefix, "/") || strings.Contains(prefix, "..") || strings.ContainsAny(prefix, "\\\x00") {
		return nil, invalidf("list prefix %q is not a relative slash-separated path", prefix)
	}
	dirKey := prefix
	if !strings.HasSuffix(prefix, "/") {
		dirKey = path.Dir(prefix)
		if dirKey == "." {
			dirKey = ""
		}
	}
	start := filepath.Join(b.root, filepath.FromSlash(dirKey))
	var out []ObjectInfo
	err := filepath.WalkDir(start, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if p == start && errors.Is(err, fs.ErrNotExist) {
				return fs.SkipAll
			}
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		if d.IsDir() || strings.HasPrefix(d.Name(), tempPrefix) {
			return nil
		}
		rel, err := filepath.Rel(b.root, p)
		if err != nil {
			return err
		}
		key := filepath.ToSlash(rel)
		if !strings.HasPrefix(key, prefix) {
			return nil
		}
		fi, err := d.Info()
		if errors.Is(err, fs.ErrNotExist) {
			return nil // deleted during the walk
		}
		if err != nil {
			return err
		}
		out = append(out, ObjectInfo{Key: key, Size: fi.Size(), ModTime: fi.ModTime()})
		return nil
	})
	if err != nil {
		return nil, err
	}
	slices.SortFunc(out, func(a, b ObjectInfo) int { return strings.Compare(a.Key, b.Key) })
	return out, nil
}

func (b *localBackend) Delete(ctx context.Context, key string) error {
	p, err := b.path(key)
	if err != nil {
		return b.fail(opDelete, key, err)
	}
	if err := ctx.Err(); err != nil {
		return b.fail(opDelete, key, err)
	}
	if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return b.fail(opDelete, key, err)
	}
	// Remove directories left empty, as S3 has none; os.Remove refuses
	// a directory that is not empty, which ends the climb.
	for dir := filepath.Dir(p); dir != b.root && strings.HasPrefix(dir, b.root); dir = filepath.Dir(dir) {
		if os.Remove(dir) != nil {
			break
		}
	}
	return nil
}
