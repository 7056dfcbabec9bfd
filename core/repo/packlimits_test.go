package repo

import (
	"bytes"
	"context"
	"runtime"
	"strings"
	"testing"

	"github.com/klauspost/compress/zstd"
)

// zstdBomb is a small zstd frame of size zeros whose header does not say
// its content size, as a streaming encoder writes it.
func zstdBomb(t testing.TB, size int) []byte {
	t.Helper()
	var out bytes.Buffer
	enc, err := zstd.NewWriter(&out, zstd.WithEncoderLevel(zstd.SpeedFastest))
	if err != nil {
		t.Fatal(err)
	}
	zeros := make([]byte, 1<<20)
	for range size >> 20 {
		if _, err := enc.Write(zeros); err != nil {
			t.Fatal(err)
		}
	}
	if err := enc.Close(); err != nil {
		t.Fatal(err)
	}
	return out.Bytes()
}

// A pack that inflates far beyond the rawSize its manifest entry says is
// refused once decoding passes rawSize, having held no more than that: a
// restore reading 16 such packs at once does not run out of memory before
// any hash is checked.
func TestZstdBombIsRefusedWithinItsRawSize(t *testing.T) {
	forEachStore(t, func(t *testing.T, s store) {
		forEachPackReader(t, func(t *testing.T, read packReader) {
			ctx := context.Background()
			r := openRepo(t, s.opts)
			ref, _, err := r.WritePack(ctx, PackSpec{Cluster: "prod-eu", Namespace: "payments", Resource: "configmaps"}, packContent("ConfigMap", "a"), nil)
			if err != nil {
				t.Fatal(err)
			}
			bomb := zstdBomb(t, 256<<20)
			s.rawPut(t, ref.Key(), bomb)
			// The attacker fixes the manifest entry's sizes to pass its checks.
			ref.Size, ref.RawSize = int64(len(bomb)), 64<<10

			var before, after runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&before)
			_, err = read(ctx, r, ref)
			runtime.ReadMemStats(&after)
			mustIs(t, err, ErrCorrupt)
			if !strings.Contains(err.Error(), ref.Key()) || !strings.Contains(err.Error(), "decompresses to more than the") {
				t.Errorf("error %q does not name the pack and say it inflates beyond its manifest entry", err)
			}
			if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 32<<20 {
				t.Errorf("refusing a %d KiB pack that inflates to 256 MiB allocated %d MiB; want about its rawSize (%d bytes)", len(bomb)>>10, alloc>>20, ref.RawSize)
			}
		})
	})
}

// The stored object must be exactly the size the manifest entry says; a
// larger one is refused after reading one byte more than that.
func TestPackOfAnotherSizeThanItsManifestEntryIsRefused(t *testing.T) {
	forEachStore(t, func(t *testing.T, s store) {
		forEachPackReader(t, func(t *testing.T, read packReader) {
			ctx := context.Background()
			r := openRepo(t, s.opts)
			ref, _, err := r.WritePack(ctx, PackSpec{Cluster: "prod-eu", Namespace: "payments", Resource: "configmaps"}, packContent("ConfigMap", "a", "b"), nil)
			if err != nil {
				t.Fatal(err)
			}
			stored := s.rawGet(t, ref.Key())
			s.rawPut(t, ref.Key(), append(bytes.Clone(stored), make([]byte, 8<<20)...))
			_, err = read(ctx, r, ref)
			mustIs(t, err, ErrCorrupt)
			if !strings.Contains(err.Error(), ref.Key()) || !strings.Contains(err.Error(), "larger than the") {
				t.Errorf("error %q does not name the pack and say it is larger than its manifest entry", err)
			}
			s.rawPut(t, ref.Key(), stored[:len(stored)-1])
			_, err = read(ctx, r, ref)
			mustIs(t, err, ErrCorrupt)
			if !strings.Contains(err.Error(), "its manifest entry says") {
				t.Errorf("error %q does not say the stored size differs", err)
			}
			s.rawPut(t, ref.Key(), stored)
			if _, err := read(ctx, r, ref); err != nil {
				t.Errorf("the pack as written: %v", err)
			}
		})
	})
}

// Writers refuse a pack readers would refuse, naming the namespace and the
// limit, before compressing or sending anything.
func TestWriterRefusesAPackLargerThanReadersAccept(t *testing.T) {
	r := openRepo(t, localStore(t).opts)
	content := make([]byte, MaxPackRawSize+1)
	_, _, err := r.WritePack(context.Background(), PackSpec{Cluster: "prod-eu", Namespace: "payments", Resource: "configmaps"}, content, nil)
	mustIs(t, err, ErrPackTooLarge)
	if !strings.Contains(err.Error(), "namespace payments") || !strings.Contains(err.Error(), "1073741824") {
		t.Errorf("error %q does not name the namespace and the limit", err)
	}
}
