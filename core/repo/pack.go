package repo

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"sync"

	"github.com/klauspost/compress/zstd"
)

// EncodingZstd is the only pack encoding of format version 1: one zstd
// frame.
const EncodingZstd = "zstd"

// maxPackSize bounds the uncompressed size of a pack the decoder accepts,
// so that a corrupt frame header cannot make it allocate without limit.
const maxPackSize = 4 << 30

// The encoder and decoder are expensive to build and safe for concurrent
// EncodeAll/DecodeAll, so one of each serves the process.
var (
	packEncoder = sync.OnceValue(func() *zstd.Encoder {
		// WithZeroFrames: even empty content gets a frame that zstd -d
		// reads, rather than a zero-byte object.
		enc, err := zstd.NewWriter(nil, zstd.WithEncoderLevel(zstd.SpeedFastest), zstd.WithZeroFrames(true))
		if err != nil {
			panic(fmt.Sprintf("repo: zstd encoder: %v", err))
		}
		return enc
	})
	packDecoder = sync.OnceValue(func() *zstd.Decoder {
		dec, err := zstd.NewReader(nil, zstd.WithDecoderMaxMemory(maxPackSize), zstd.WithDecoderConcurrency(0))
		if err != nil {
			panic(fmt.Sprintf("repo: zstd decoder: %v", err))
		}
		return dec
	})
)

// PackSpec says which objects a pack holds: one resource type in one
// namespace ("" for cluster-scoped) of one cluster.
type PackSpec struct {
	Cluster   string
	Namespace string
	// Resource is resource.group as schema.GroupResource.String()
	// writes it: "configmaps", "deployments.apps".
	Resource string
}

func (s PackSpec) validate() error {
	if err := ValidateClusterName(s.Cluster); err != nil {
		return err
	}
	if s.Namespace != "" {
		if err := ValidateNamespace(s.Namespace); err != nil {
			return err
		}
	}
	return ValidateResource(s.Resource)
}

// PackRef names a stored pack and says how to read it.
type PackRef struct {
	Cluster   string `json:"cluster"`
	Namespace string `json:"namespace,omitempty"`
	Resource  string `json:"resource"`
	// SHA256 is the hash of the uncompressed content, 64 lower-case hex
	// digits; it names the pack.
	SHA256 string `json:"sha256"`
	// Size is the stored (compressed) size in bytes.
	Size int64 `json:"size"`
	// RawSize is the uncompressed size in bytes.
	RawSize int64 `json:"rawSize"`
	// Encoding is EncodingZstd.
	Encoding string `json:"encoding"`
}

// Key is the pack's key relative to the repository (without the
// repository prefix), as manifests record it:
// <cluster>/<namespace or _cluster>/<resource.group>/<sha256>.yaml.zst.
func (p PackRef) Key() string { return packPath(p.Cluster, p.Namespace, p.Resource, p.SHA256) }

// Spec is the pack's cluster, namespace and resource.
func (p PackRef) Spec() PackSpec {
	return PackSpec{Cluster: p.Cluster, Namespace: p.Namespace, Resource: p.Resource}
}

func (p PackRef) validate() error {
	if err := p.Spec().validate(); err != nil {
		return err
	}
	if err := validateSHA256(p.SHA256); err != nil {
		return err
	}
	if p.Encoding != EncodingZstd {
		return invalidf("pack %s: encoding %q; format version 1 uses zstd", p.Key(), p.Encoding)
	}
	if p.Size < 0 || p.RawSize < 0 {
		return invalidf("pack %s: negative size", p.Key())
	}
	return nil
}

// PackSet is the set of packs known to be stored for a cluster, by key. A
// pack in the set is not uploaded again. It is safe for concurrent use.
type PackSet struct {
	mu    sync.RWMutex
	packs map[string]PackRef
}

// NewPackSet returns an empty set.
func NewPackSet() *PackSet { return &PackSet{packs: map[string]PackRef{}} }

// Add records a stored pack.
func (s *PackSet) Add(ref PackRef) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.packs[ref.Key()] = ref
}

// Lookup returns the stored pack with this key (PackRef.Key).
func (s *PackSet) Lookup(key string) (PackRef, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	ref, ok := s.packs[key]
	return ref, ok
}

// Len is the number of packs in the set.
func (s *PackSet) Len() int {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return len(s.packs)
}

// WritePack stores content, the uncompressed multi-document YAML of the
// objects that spec names, as a pack named by its SHA-256, and returns its
// reference. When known holds a pack of the same key (same cluster,
// namespace, resource and hash), nothing is compressed or sent and
// uploaded is false; otherwise the pack is uploaded and added to known.
// known may be nil, and then every pack is uploaded (harmlessly: a pack's
// key is its content).
func (r *Repository) WritePack(ctx context.Context, spec PackSpec, content []byte, known *PackSet) (ref PackRef, uploaded bool, err error) {
	if err := spec.validate(); err != nil {
		return PackRef{}, false, fmt.Errorf("writing pack to %s: %w", r.backend, err)
	}
	sum := sha256.Sum256(content)
	ref = PackRef{
		Cluster:   spec.Cluster,
		Namespace: spec.Namespace,
		Resource:  spec.Resource,
		SHA256:    hex.EncodeToString(sum[:]),
		RawSize:   int64(len(content)),
		Encoding:  EncodingZstd,
	}
	if known != nil {
		if stored, ok := known.Lookup(ref.Key()); ok {
			return stored, false, nil
		}
	}
	compressed := packEncoder().EncodeAll(content, nil)
	ref.Size = int64(len(compressed))
	if err := r.backend.Put(ctx, r.layout.prefix+ref.Key(), compressed); err != nil {
		return PackRef{}, false, err
	}
	if known != nil {
		known.Add(ref)
	}
	return ref, true, nil
}

// ReadPack returns the uncompressed content of a pack, after checking it
// against the SHA-256 that names it. A missing pack fails with storage.ErrNotFound;
// one that does not decompress or has another hash fails with ErrCorrupt.
// Both errors name the pack's key.
func (r *Repository) ReadPack(ctx context.Context, ref PackRef) ([]byte, error) {
	if err := ref.validate(); err != nil {
		return nil, fmt.Errorf("reading pack from %s: %w", r.backend, err)
	}
	key := r.layout.prefix + ref.Key()
	data, err := r.backend.Get(ctx, key)
	if err != nil {
		return nil, err
	}
	content, err := decodePack(data, ref.RawSize)
	if err != nil {
		return nil, fmt.Errorf("pack %s in %s: %w: %v", key, r.backend, ErrCorrupt, err)
	}
	sum := sha256.Sum256(content)
	if actual := hex.EncodeToString(sum[:]); actual != ref.SHA256 {
		return nil, fmt.Errorf("pack %s in %s: %w: its content has sha256 %s, expected %s", key, r.backend, ErrCorrupt, actual, ref.SHA256)
	}
	return content, nil
}

// decodePack decompresses a zstd frame. When the expected size is known,
// a frame header claiming another size is refused before anything is
// allocated.
func decodePack(data []byte, rawSize int64) ([]byte, error) {
	var header zstd.Header
	if err := header.Decode(data); err != nil {
		return nil, fmt.Errorf("not a zstd frame: %v", err)
	}
	if header.HasFCS && rawSize > 0 && header.FrameContentSize != uint64(rawSize) {
		return nil, fmt.Errorf("the zstd frame holds %d bytes, the manifest says %d", header.FrameContentSize, rawSize)
	}
	var dst []byte
	if rawSize > 0 && rawSize <= maxPackSize {
		dst = make([]byte, 0, rawSize)
	}
	content, err := packDecoder().DecodeAll(data, dst)
	if err != nil {
		if errors.Is(err, zstd.ErrDecoderSizeExceeded) {
			return nil, fmt.Errorf("decompresses to more than %d bytes", maxPackSize)
		}
		return nil, fmt.Errorf("zstd: %v", err)
	}
	return content, nil
}
