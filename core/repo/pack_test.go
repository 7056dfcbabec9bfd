package repo

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/klauspost/compress/zstd"

	"github.com/kbackup/kbackup/core/storage"
)

// packContent is multi-document YAML as a backup writes it.
func packContent(kind string, names ...string) []byte {
	var b bytes.Buffer
	for i, n := range names {
		if i > 0 {
			b.WriteString("---\n")
		}
		fmt.Fprintf(&b, "apiVersion: v1\nkind: %s\nmetadata:\n  name: %s\n  namespace: payments\ndata:\n  key: %s\n", kind, n, strings.Repeat("value-"+n, 20))
	}
	return b.Bytes()
}

func TestPackRoundTrip(t *testing.T) {
	forEachStore(t, func(t *testing.T, s store) {
		ctx := context.Background()
		r := openRepo(t, s.opts)
		content := packContent("ConfigMap", "a", "b", "c")
		spec := PackSpec{Cluster: "prod-eu", Namespace: "payments", Resource: "configmaps"}
		ref, uploaded, err := r.WritePack(ctx, spec, content, nil)
		if err != nil {
			t.Fatal(err)
		}
		sum := sha256.Sum256(content)
		want := PackRef{Cluster: "prod-eu", Namespace: "payments", Resource: "configmaps", SHA256: hex.EncodeToString(sum[:]),
			Size: ref.Size, RawSize: int64(len(content)), Encoding: "zstd"}
		if !uploaded || ref != want || ref.Size <= 0 || ref.Size >= ref.RawSize {
			t.Fatalf("WritePack = %+v, %v; want %+v, compressed", ref, uploaded, want)
		}
		if ref.Key() != "prod-eu/payments/configmaps/"+ref.SHA256+".yaml.zst" {
			t.Errorf("Key() = %s", ref.Key())
		}
		got, err := r.ReadPack(ctx, ref)
		if err != nil || !bytes.Equal(got, content) {
			t.Fatalf("ReadPack = %d bytes, %v; want the content back", len(got), err)
		}
		if _, err := r.ReadPack(ctx, ref); err != nil {
			t.Fatal(err)
		}

		// The stored object is one plain zstd frame: any zstd reads it.
		stored := s.rawGet(t, ref.Key())
		if int64(len(stored)) != ref.Size {
			t.Errorf("stored %d bytes; ref says %d", len(stored), ref.Size)
		}
		dec, _ := zstd.NewReader(nil)
		defer dec.Close()
		if plain, err := dec.DecodeAll(stored, nil); err != nil || !bytes.Equal(plain, content) {
			t.Errorf("a fresh zstd decoder reads %d bytes, %v", len(plain), err)
		}

		// Cluster-scoped and empty packs.
		cluster := PackSpec{Cluster: "prod-eu", Resource: "clusterroles.rbac.authorization.k8s.io"}
		for _, c := range [][]byte{packContent("ClusterRole", "admin"), {}} {
			ref, _, err := r.WritePack(ctx, cluster, c, nil)
			if err != nil {
				t.Fatal(err)
			}
			if !strings.HasPrefix(ref.Key(), "prod-eu/_cluster/clusterroles.rbac.authorization.k8s.io/") {
				t.Errorf("cluster-scoped key %s", ref.Key())
			}
			if got, err := r.ReadPack(ctx, ref); err != nil || !bytes.Equal(got, c) {
				t.Errorf("ReadPack = %q, %v", got, err)
			}
		}

		// Bad specs are refused before anything is written.
		for _, bad := range []PackSpec{
			{Cluster: "_fleet", Resource: "configmaps"},
			{Cluster: "prod", Namespace: "Payments", Resource: "configmaps"},
			{Cluster: "prod", Namespace: "payments", Resource: "ConfigMaps"},
		} {
			if _, _, err := r.WritePack(ctx, bad, content, nil); !errors.Is(err, storage.ErrInvalid) {
				t.Errorf("WritePack(%+v) = %v; want storage.ErrInvalid", bad, err)
			}
		}
	})
}

// A pack whose key is in the known set costs no request at all; the set
// is built from the manifests, so an unchanged namespace costs nothing.
func TestPackDedupWithoutRequests(t *testing.T) {
	forEachStore(t, func(t *testing.T, s store) {
		ctx := context.Background()
		counter := &countingBackend{}
		opts := s.opts
		opts.WrapBackend = func(b storage.Backend) storage.Backend { counter.Backend = b; return counter }
		r := openRepo(t, opts)

		spec := PackSpec{Cluster: "prod-eu", Namespace: "payments", Resource: "configmaps"}
		content := packContent("ConfigMap", "a", "b")
		known, err := r.KnownPacks(ctx, "prod-eu")
		if err != nil || known.Len() != 0 {
			t.Fatalf("KnownPacks of a new cluster = %v, %v", known, err)
		}
		ref, uploaded, err := r.WritePack(ctx, spec, content, known)
		if err != nil || !uploaded {
			t.Fatalf("first write: uploaded=%v, %v", uploaded, err)
		}

		before := counter.total()
		again, uploaded, err := r.WritePack(ctx, spec, content, known)
		if err != nil || uploaded || again != ref {
			t.Fatalf("second write = %+v, uploaded=%v, %v; want the same ref, not uploaded", again, uploaded, err)
		}
		if n := counter.total() - before; n != 0 {
			t.Errorf("writing a known pack made %d requests; want 0", n)
		}

		// The same content in another namespace is another pack.
		other := spec
		other.Namespace = "shop"
		if _, uploaded, err := r.WritePack(ctx, other, content, known); err != nil || !uploaded {
			t.Errorf("same content, other namespace: uploaded=%v, %v", uploaded, err)
		}

		// A later backup learns the packs from the committed manifest.
		m := testManifest("prod-eu", "b1", mustTime(t, "2026-01-01T02:00:00Z"), PhaseCompleted,
			NewPackEntry(ref, configMapGVK, []string{"b", "a"}))
		if err := r.CommitBackup(ctx, m); err != nil {
			t.Fatal(err)
		}
		known, err = r.KnownPacks(ctx, "prod-eu")
		if err != nil || known.Len() != 1 {
			t.Fatalf("KnownPacks after a backup = %d packs, %v", known.Len(), err)
		}
		before = counter.total()
		if got, uploaded, err := r.WritePack(ctx, spec, content, known); err != nil || uploaded || got != ref {
			t.Fatalf("write after KnownPacks = %+v, uploaded=%v, %v", got, uploaded, err)
		}
		if n := counter.total() - before; n != 0 {
			t.Errorf("writing a pack named by a manifest made %d requests; want 0", n)
		}
	})
}

func TestCorruptPackDetected(t *testing.T) {
	forEachStore(t, func(t *testing.T, s store) {
		forEachPackReader(t, func(t *testing.T, read packReader) {
			ctx := context.Background()
			r := openRepo(t, s.opts)
			content := packContent("ConfigMap", "a", "b", "c")
			ref, _, err := r.WritePack(ctx, PackSpec{Cluster: "prod-eu", Namespace: "payments", Resource: "configmaps"}, content, nil)
			if err != nil {
				t.Fatal(err)
			}
			stored := s.rawGet(t, ref.Key())

			// One flipped byte in the middle of the compressed data.
			flipped := bytes.Clone(stored)
			flipped[len(flipped)/2] ^= 0x40
			s.rawPut(t, ref.Key(), flipped)
			_, err = read(ctx, r, ref)
			mustIs(t, err, ErrCorrupt)
			if !strings.Contains(err.Error(), ref.Key()) {
				t.Errorf("error does not name the pack: %v", err)
			}

			// A valid zstd frame of other content, of the sizes the manifest
			// says: the hash check catches it and says both hashes.
			enc, _ := zstd.NewWriter(nil)
			other := packContent("ConfigMap", "a", "b", "d")
			otherFrame := enc.EncodeAll(other, nil)
			s.rawPut(t, ref.Key(), otherFrame)
			sized := ref
			sized.Size = int64(len(otherFrame))
			_, err = read(ctx, r, sized)
			mustIs(t, err, ErrCorrupt)
			otherSum := sha256.Sum256(other)
			for _, want := range []string{ref.Key(), "expected " + ref.SHA256, "sha256 " + hex.EncodeToString(otherSum[:])} {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q does not say %q", err, want)
				}
			}

			// Not zstd at all.
			s.rawPut(t, ref.Key(), []byte("apiVersion: v1\n"))
			_, err = read(ctx, r, ref)
			mustIs(t, err, ErrCorrupt)

			// Missing.
			s.rawDel(t, ref.Key())
			_, err = read(ctx, r, ref)
			mustIs(t, err, storage.ErrNotFound)
			if !strings.Contains(err.Error(), "reading pack "+ref.Key()) {
				t.Errorf("error does not name the pack: %v", err)
			}
		})
	})
}
