package repo

import (
	"bytes"
	"context"
	"io"
	"slices"
	"strings"
	"testing"
)

// packReader reads a pack's whole content, one way or another.
type packReader func(ctx context.Context, r *Repository, ref PackRef) ([]byte, error)

// forEachPackReader runs fn with each way of reading a pack: whole
// (ReadPack), and as a stream (OpenPack) with its compressed bytes in
// memory and in a temporary file. Each must make the same checks.
func forEachPackReader(t *testing.T, fn func(t *testing.T, read packReader)) {
	t.Run("whole", func(t *testing.T) {
		fn(t, func(ctx context.Context, r *Repository, ref PackRef) ([]byte, error) { return r.ReadPack(ctx, ref) })
	})
	for _, c := range []struct {
		name  string
		above int64
	}{{"stream", 1 << 62}, {"stream-file", 0}} {
		t.Run(c.name, func(t *testing.T) {
			saved := spoolToFileAbove
			spoolToFileAbove = c.above
			t.Cleanup(func() { spoolToFileAbove = saved })
			fn(t, readStreamed)
		})
	}
}

func readStreamed(ctx context.Context, r *Repository, ref PackRef) ([]byte, error) {
	s, err := r.OpenPack(ctx, ref)
	if err != nil {
		return nil, err
	}
	defer s.Close()
	// Read twice: the second read gives what the first did.
	var first []byte
	for range 2 {
		content, err := s.Content()
		if err != nil {
			return nil, err
		}
		data, err := io.ReadAll(content)
		content.Close()
		if err != nil {
			return nil, err
		}
		if first != nil && !bytes.Equal(first, data) {
			return nil, io.ErrUnexpectedEOF
		}
		first = data
	}
	return first, nil
}

// A pack written and read back as a stream gives its content, from memory
// and from a temporary file, on both stores.
func TestPackStreamRoundTrip(t *testing.T) {
	forEachStore(t, func(t *testing.T, s store) {
		forEachPackReader(t, func(t *testing.T, read packReader) {
			ctx := context.Background()
			r := openRepo(t, s.opts)
			content := packContent("ConfigMap", "a", "b", strings.Repeat("c", 100))
			ref, _, err := r.WritePack(ctx, PackSpec{Cluster: "prod-eu", Namespace: "payments", Resource: "configmaps"}, content, nil)
			if err != nil {
				t.Fatal(err)
			}
			got, err := read(ctx, r, ref)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, content) {
				t.Errorf("read back %d bytes, want the %d written", len(got), len(content))
			}
		})
	})
}

// A pack whose compressed bytes pass spillToFileAbove is written from a
// temporary file, and reads back as written on both stores.
func TestPackSpilledToFileRoundTrip(t *testing.T) {
	saved := spillToFileAbove
	spillToFileAbove = 64
	t.Cleanup(func() { spillToFileAbove = saved })
	forEachStore(t, func(t *testing.T, s store) {
		ctx := context.Background()
		r := openRepo(t, s.opts)
		content := packContent("ConfigMap", "a", "b", strings.Repeat("c", 10<<10))
		b := NewPackBuilder()
		for chunk := range slices.Chunk(content, 100) {
			if _, err := b.Write(chunk); err != nil {
				t.Fatal(err)
			}
		}
		if b.compressed.file == nil {
			t.Fatalf("%d bytes compressed, more than %d, are still in memory", b.compressed.size, spillToFileAbove)
		}
		ref, uploaded, err := r.StorePack(ctx, PackSpec{Cluster: "prod-eu", Namespace: "payments", Resource: "configmaps"}, b, nil)
		if err != nil || !uploaded {
			t.Fatalf("StorePack: uploaded %v, %v", uploaded, err)
		}
		if stored := s.rawGet(t, ref.Key()); int64(len(stored)) != ref.Size {
			t.Errorf("stored %d bytes, the reference says %d", len(stored), ref.Size)
		}
		got, err := r.ReadPack(ctx, ref)
		if err != nil || !bytes.Equal(got, content) {
			t.Fatalf("read back %d bytes (%v), want the %d written", len(got), err, len(content))
		}
	})
}
