package storage

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
)

// Both backends keep the Backend contract.
func TestBackendContract(t *testing.T) {
	forEachStore(t, func(t *testing.T, s store) {
		ctx := context.Background()
		b, err := Open(s.loc, s.creds, Options{})
		if err != nil {
			t.Fatal(err)
		}

		_, err = b.Get(ctx, "a/missing.json")
		mustIs(t, err, ErrNotFound)
		if !strings.Contains(err.Error(), "a/missing.json") || !strings.Contains(err.Error(), b.String()) {
			t.Errorf("error %q does not name the key and the location", err)
		}
		_, err = b.Stat(ctx, "a/missing.json")
		mustIs(t, err, ErrNotFound)

		if err := b.Put(ctx, "a/b.json", []byte("one")); err != nil {
			t.Fatal(err)
		}
		if err := b.Put(ctx, "a/b.json", []byte("two")); err != nil {
			t.Fatal(err)
		}
		if got, err := b.Get(ctx, "a/b.json"); err != nil || string(got) != "two" {
			t.Fatalf("Get after overwrite = %q, %v; want two", got, err)
		}
		info, err := b.Stat(ctx, "a/b.json")
		if err != nil || info.Size != 3 || info.ModTime.IsZero() || info.Key != "a/b.json" {
			t.Fatalf("Stat = %+v, %v", info, err)
		}

		if err := b.PutIfAbsent(ctx, "a/once.json", []byte("first")); err != nil {
			t.Fatal(err)
		}
		err = b.PutIfAbsent(ctx, "a/once.json", []byte("second"))
		mustIs(t, err, ErrAlreadyExists)
		if got, _ := b.Get(ctx, "a/once.json"); string(got) != "first" {
			t.Fatalf("PutIfAbsent replaced the object: %q", got)
		}

		// "a.b" sorts before "a/..." although a walk of a directory tree
		// visits a/ first.
		for _, k := range []string{"a/c/d.json", "a.b", "ab", "b/x", "a/c.json"} {
			if err := b.Put(ctx, k, []byte(k)); err != nil {
				t.Fatal(err)
			}
		}
		got := listKeys(t, b, "")
		want := []string{"a.b", "a/b.json", "a/c.json", "a/c/d.json", "a/once.json", "ab", "b/x"}
		if !slices.Equal(got, want) {
			t.Fatalf("List(\"\") = %q; want %q", got, want)
		}
		if got := listKeys(t, b, "a/"); !slices.Equal(got, want[1:5]) {
			t.Errorf("List(a/) = %q; want %q", got, want[1:5])
		}
		if got := listKeys(t, b, "a/c"); !slices.Equal(got, []string{"a/c.json", "a/c/d.json"}) {
			t.Errorf("List(a/c) = %q", got)
		}
		if got := listKeys(t, b, "nothing/"); len(got) != 0 {
			t.Errorf("List(nothing/) = %q", got)
		}

		if err := b.Delete(ctx, "a/c/d.json"); err != nil {
			t.Fatal(err)
		}
		if err := b.Delete(ctx, "a/c/d.json"); err != nil {
			t.Fatalf("deleting a missing key: %v", err)
		}
		if _, err := b.Get(ctx, "a/c/d.json"); !errors.Is(err, ErrNotFound) {
			t.Fatalf("Get after Delete: %v", err)
		}
		if got := listKeys(t, b, "a/c"); !slices.Equal(got, []string{"a/c.json"}) {
			t.Errorf("List(a/c) after delete = %q", got)
		}
	})
}

// Of many goroutines racing to create one key, exactly one succeeds and
// every other gets ErrAlreadyExists.
func TestPutIfAbsentRace(t *testing.T) {
	forEachStore(t, func(t *testing.T, s store) {
		b, err := Open(s.loc, s.creds, Options{})
		if err != nil {
			t.Fatal(err)
		}
		for round := range 5 {
			key := fmt.Sprintf("race/%d.json", round)
			const writers = 8
			errs := make([]error, writers)
			var wg sync.WaitGroup
			start := make(chan struct{})
			for i := range writers {
				wg.Go(func() {
					<-start
					errs[i] = b.PutIfAbsent(context.Background(), key, fmt.Appendf(nil, "writer %d", i))
				})
			}
			close(start)
			wg.Wait()
			winners := 0
			winner := -1
			for i, err := range errs {
				switch {
				case err == nil:
					winners++
					winner = i
				case !errors.Is(err, ErrAlreadyExists):
					t.Fatalf("writer %d: %v", i, err)
				}
			}
			if winners != 1 {
				t.Fatalf("round %d: %d writers succeeded; want exactly 1", round, winners)
			}
			got, err := b.Get(context.Background(), key)
			if err != nil || string(got) != fmt.Sprintf("writer %d", winner) {
				t.Fatalf("round %d: stored %q, %v; the winner was writer %d", round, got, err, winner)
			}
		}
	})
}

// The local backend refuses keys that would leave its directory.
func TestLocalRefusesEscapingKeys(t *testing.T) {
	b := newLocalBackend(t.TempDir(), nil)
	for _, key := range []string{"", "../x", "a/../../x", "/etc/passwd", "a//b", "a/./b", "a\\b", "a/", ".kbackup-tmp-1"} {
		err := b.Put(context.Background(), key, []byte("x"))
		if !errors.Is(err, ErrInvalid) {
			t.Errorf("Put(%q) = %v; want ErrInvalid", key, err)
		}
	}
}

// Every directory a write creates is made durable: its parent is synced
// after it is created, and so is the directory that gets the new file.
func TestLocalSyncsEveryDirectoryItCreates(t *testing.T) {
	root := filepath.Join(t.TempDir(), "repo")
	b := newLocalBackend(root, nil)
	var synced []string
	b.syncDir = func(dir string) error {
		rel, err := filepath.Rel(filepath.Dir(root), dir)
		if err != nil {
			t.Fatal(err)
		}
		synced = append(synced, filepath.ToSlash(rel))
		return syncDir(dir)
	}
	if err := b.Put(context.Background(), "c1/ns/configmaps/x.yaml.zst", []byte("x")); err != nil {
		t.Fatal(err)
	}
	// repo's parent holds the new repo/, repo holds c1/, and so on; the
	// last directory holds the file.
	want := []string{".", "repo", "repo/c1", "repo/c1/ns", "repo/c1/ns/configmaps"}
	if !slices.Equal(synced, want) {
		t.Errorf("synced %q; want %q", synced, want)
	}
	synced = nil
	if err := b.PutIfAbsent(context.Background(), "c1/ns/configmaps/y.yaml.zst", []byte("y")); err != nil {
		t.Fatal(err)
	}
	if want := []string{"repo/c1/ns/configmaps"}; !slices.Equal(synced, want) {
		t.Errorf("a write into existing directories synced %q; want %q", synced, want)
	}
}
