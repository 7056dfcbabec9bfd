package repo

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"os"
	"sync"

	"github.com/klauspost/compress/zstd"

	"github.com/kbackup/kbackup/core/storage"
)

// EncodingZstd is the only pack encoding of format version 1: one zstd
// frame.
const EncodingZstd = "zstd"

// MaxPackRawSize is the largest uncompressed pack that readers accept and
// writers write: a reader holds a whole pack, several at a time, so a
// repository, which is untrusted input, must not make it hold more.
const MaxPackRawSize = 1 << 30

// maxWindowSize bounds the zstd window a reader accepts (and so the history
// it allocates for a frame); kbackup writes packs with 1 MiB windows, and
// wrote 4 MiB ones before.
const maxWindowSize = 64 << 20

// maxStoredSize is the largest stored (compressed) size of a pack of
// rawSize bytes: zstd's worst case, incompressible content, stored in raw
// blocks with a few bytes of header each, plus the frame's header and
// checksum, rounded up generously.
func maxStoredSize(rawSize int64) int64 { return rawSize + rawSize>>7 + 4096 }

var (
	// packDecoders are streaming decoders: a pack is decoded through a
	// limit, so that a frame inflating beyond what the manifest says stops
	// there instead of filling memory.
	packDecoders = sync.Pool{New: func() any {
		dec, err := zstd.NewReader(nil, zstd.WithDecoderConcurrency(1), zstd.WithDecoderMaxMemory(MaxPackRawSize),
			zstd.WithDecoderMaxWindow(maxWindowSize), zstd.WithDecodeBuffersBelow(0))
		if err != nil {
			panic(fmt.Sprintf("repo: zstd decoder: %v", err))
		}
		return dec
	}}
)

// ErrPackTooLarge: the objects of one type in one namespace are more than a
// pack may hold (MaxPackRawSize).
var ErrPackTooLarge = errors.New("pack too large")

func where(namespace string) string {
	if namespace == "" {
		return "the cluster scope"
	}
	return "namespace " + namespace
}

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
	switch {
	case p.Size <= 0 || p.RawSize < 0:
		return invalidf("pack %s: size %d, raw size %d; want a positive size", p.Key(), p.Size, p.RawSize)
	case p.RawSize > MaxPackRawSize:
		return invalidf("pack %s: raw size %d; readers accept packs of at most %d bytes", p.Key(), p.RawSize, int64(MaxPackRawSize))
	case p.Size > maxStoredSize(p.RawSize):
		return invalidf("pack %s: size %d, more than %d bytes of content can take compressed", p.Key(), p.Size, p.RawSize)
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

// packEncoders compress packs as their content is written, so that a
// writer holds a pack's compressed bytes, not its content as well. An
// encoder keeps its window's history, so they are reused.
var packEncoders = sync.Pool{New: func() any {
	// WithZeroFrames: even empty content gets a frame that zstd -d reads,
	// rather than a zero-byte object.
	enc, err := zstd.NewWriter(nil, zstd.WithEncoderLevel(zstd.SpeedFastest), zstd.WithEncoderConcurrency(1),
		zstd.WithWindowSize(packWindowSize), zstd.WithZeroFrames(true))
	if err != nil {
		panic(fmt.Sprintf("repo: zstd encoder: %v", err))
	}
	return enc
}}

// packWindowSize is the zstd window writers use: a pack's objects are
// alike mostly within an object and between neighbours.
const packWindowSize = 1 << 20

// PackBuilder takes the content of one pack as it is written, hashing and
// compressing it on the way, and refuses content beyond what readers
// accept (MaxPackRawSize). Write the content, then store it with
// Repository.StorePack, or Discard it.
type PackBuilder struct {
	enc        *zstd.Encoder
	compressed spill
	hash       hash.Hash
	raw        int64
	err        error
}

// spillToFileAbove is the compressed size above which a PackBuilder moves
// the pack to a temporary file: the pack is named by its hash, known only
// once it is written whole, so it is held until then, and a namespace of
// large objects (Helm's release history) makes packs of tens of MB.
var spillToFileAbove = 4 << 20

// spill holds what is written in memory, then, past spillToFileAbove, in a
// temporary file (unlinked at once).
type spill struct {
	buf  bytes.Buffer
	file *os.File
	size int64
	// memoryOnly: no temporary file could be made.
	memoryOnly bool
}

func (s *spill) Write(p []byte) (int, error) {
	if s.file == nil && !s.memoryOnly && s.buf.Len()+len(p) > spillToFileAbove {
		f, err := tempFile()
		if err == nil {
			if _, err = f.Write(s.buf.Bytes()); err != nil {
				f.Close()
			}
		}
		// Without a temporary file (a read-only file system), memory
		// does.
		if err == nil {
			s.file, s.buf = f, bytes.Buffer{}
		} else {
			s.memoryOnly = true
		}
	}
	s.size += int64(len(p))
	if s.file != nil {
		return s.file.Write(p)
	}
	return s.buf.Write(p)
}

func (s *spill) close() {
	if s.file != nil {
		s.file.Close()
		s.file = nil
	}
	s.buf = bytes.Buffer{}
}

// NewPackBuilder returns a builder of empty content.
func NewPackBuilder() *PackBuilder {
	b := &PackBuilder{enc: packEncoders.Get().(*zstd.Encoder), hash: sha256.New()}
	b.enc.Reset(&b.compressed)
	return b
}

// Write adds content. Past MaxPackRawSize it fails with ErrPackTooLarge.
func (b *PackBuilder) Write(p []byte) (int, error) {
	switch {
	case b.err != nil:
		return 0, b.err
	case b.enc == nil:
		return 0, errors.New("repo: write to a stored or discarded pack")
	case b.raw+int64(len(p)) > MaxPackRawSize:
		b.err = fmt.Errorf("%w: more than the %d bytes readers accept", ErrPackTooLarge, int64(MaxPackRawSize))
		return 0, b.err
	}
	b.raw += int64(len(p))
	b.hash.Write(p)
	if _, err := b.enc.Write(p); err != nil {
		b.err = fmt.Errorf("zstd: %w", err)
		return 0, b.err
	}
	return len(p), nil
}

// Len is the content's size so far.
func (b *PackBuilder) Len() int64 { return b.raw }

// finish ends the frame and returns the hash of the content, and gives the
// encoder back; the compressed pack is b.compressed.
func (b *PackBuilder) finish() (string, error) {
	if b.err != nil {
		b.Discard()
		return "", b.err
	}
	if b.enc == nil {
		return "", errors.New("repo: pack stored or discarded already")
	}
	err := b.enc.Close()
	b.release()
	if err != nil {
		b.compressed.close()
		return "", fmt.Errorf("zstd: %w", err)
	}
	return hex.EncodeToString(b.hash.Sum(nil)), nil
}

func (b *PackBuilder) release() {
	if b.enc != nil {
		b.enc.Reset(nil)
		packEncoders.Put(b.enc)
		b.enc = nil
	}
}

// Discard drops the content; the builder cannot be used again.
func (b *PackBuilder) Discard() {
	if b.enc != nil {
		_ = b.enc.Close()
	}
	b.release()
	b.compressed.close()
}

// WritePack stores content, the uncompressed multi-document YAML of the
// objects that spec names, as a pack named by its SHA-256, as StorePack
// does.
func (r *Repository) WritePack(ctx context.Context, spec PackSpec, content []byte, known *PackSet) (ref PackRef, uploaded bool, err error) {
	if len(content) > MaxPackRawSize {
		return PackRef{}, false, fmt.Errorf("writing pack of %s in %s to %s: %w: %d bytes, more than the %d bytes readers accept; back the namespace up with a label selector that splits it",
			spec.Resource, where(spec.Namespace), r.backend, ErrPackTooLarge, len(content), int64(MaxPackRawSize))
	}
	b := NewPackBuilder()
	if _, err := b.Write(content); err != nil {
		b.Discard()
		return PackRef{}, false, err
	}
	return r.StorePack(ctx, spec, b, known)
}

// StorePack stores the content written to b as the pack of spec, named by
// its SHA-256, and returns its reference. When known holds a pack of the
// same key (same cluster, namespace, resource and hash), nothing is sent
// and uploaded is false; otherwise the pack is uploaded and added to known.
// known may be nil, and then every pack is uploaded (harmlessly: a pack's
// key is its content). b cannot be used afterwards.
func (r *Repository) StorePack(ctx context.Context, spec PackSpec, b *PackBuilder, known *PackSet) (ref PackRef, uploaded bool, err error) {
	if err := spec.validate(); err != nil {
		b.Discard()
		return PackRef{}, false, fmt.Errorf("writing pack to %s: %w", r.backend, err)
	}
	raw := b.raw
	sum, err := b.finish()
	defer b.compressed.close()
	if err != nil {
		return PackRef{}, false, fmt.Errorf("writing pack of %s in %s to %s: %w; back the namespace up with a label selector that splits it",
			spec.Resource, where(spec.Namespace), r.backend, err)
	}
	ref = PackRef{
		Cluster:   spec.Cluster,
		Namespace: spec.Namespace,
		Resource:  spec.Resource,
		SHA256:    sum,
		Size:      b.compressed.size,
		RawSize:   raw,
		Encoding:  EncodingZstd,
	}
	if known != nil {
		if stored, ok := known.Lookup(ref.Key()); ok {
			return stored, false, nil
		}
	}
	if f := b.compressed.file; f != nil {
		err = storage.PutFile(ctx, r.backend, r.layout.prefix+ref.Key(), f, ref.Size)
	} else {
		err = r.backend.Put(ctx, r.layout.prefix+ref.Key(), b.compressed.buf.Bytes())
	}
	if err != nil {
		return PackRef{}, false, err
	}
	if known != nil {
		known.Add(ref)
	}
	return ref, true, nil
}

// ReadPack returns the uncompressed content of a pack, after checking it
// against its reference: the stored object must be exactly Size bytes and
// decompress to exactly RawSize bytes, of the SHA-256 that names it. It
// holds no more than that of the pack at any point, however the pack was
// crafted. A missing pack fails with storage.ErrNotFound; any other
// disagreement fails with ErrCorrupt. Both errors name the pack's key.
func (r *Repository) ReadPack(ctx context.Context, ref PackRef) ([]byte, error) {
	if err := ref.validate(); err != nil {
		return nil, fmt.Errorf("reading pack from %s: %w", r.backend, err)
	}
	key := r.layout.prefix + ref.Key()
	data, err := storage.GetAtMost(ctx, r.backend, key, ref.Size)
	switch {
	case errors.Is(err, storage.ErrTooLarge):
		return nil, fmt.Errorf("pack %s in %s: %w: the stored object is larger than the %d bytes its manifest entry says", key, r.backend, ErrCorrupt, ref.Size)
	case err != nil:
		return nil, err
	case int64(len(data)) != ref.Size:
		return nil, fmt.Errorf("pack %s in %s: %w: the stored object is %d bytes, its manifest entry says %d", key, r.backend, ErrCorrupt, len(data), ref.Size)
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

// decodePack decompresses a zstd frame that should hold rawSize bytes. A
// frame header announcing another size is refused before anything is
// decoded, and decoding stops one byte past rawSize: a bomb costs no more
// than the manifest admits to.
func decodePack(data []byte, rawSize int64) ([]byte, error) {
	if err := checkFrameHeader(data, rawSize); err != nil {
		return nil, err
	}
	dec := packDecoders.Get().(*zstd.Decoder)
	defer packDecoders.Put(dec)
	if err := dec.Reset(bytes.NewReader(data)); err != nil {
		return nil, fmt.Errorf("zstd: %v", err)
	}
	// Grow as the content arrives, up to rawSize: a header cannot make the
	// reader allocate what the frame does not hold.
	content := make([]byte, 0, min(rawSize+1, max(int64(len(data))*4, 64<<10)))
	buf := bytes.NewBuffer(content)
	n, err := buf.ReadFrom(io.LimitReader(dec, rawSize+1))
	// The decoder holds no reference to data once reset to nothing.
	_ = dec.Reset(bytes.NewReader(nil))
	switch {
	case err != nil:
		if errors.Is(err, zstd.ErrDecoderSizeExceeded) || errors.Is(err, zstd.ErrWindowSizeExceeded) {
			return nil, fmt.Errorf("zstd: %v (readers accept packs of up to %d bytes and windows of up to %d)", err, int64(MaxPackRawSize), maxWindowSize)
		}
		return nil, fmt.Errorf("zstd: %v", err)
	case n > rawSize:
		return nil, fmt.Errorf("decompresses to more than the %d bytes the manifest says", rawSize)
	case n < rawSize:
		return nil, fmt.Errorf("decompresses to %d bytes, the manifest says %d", n, rawSize)
	}
	return buf.Bytes(), nil
}

// spoolToFileAbove is the stored size above which OpenPack keeps a pack's
// compressed bytes in a temporary file rather than in memory: a namespace
// of large objects (Helm's release history) makes packs of tens of MB,
// several read at once.
var spoolToFileAbove int64 = 4 << 20

// StreamPacksAbove is the uncompressed size above which readers should
// decode a pack as a stream (OpenPack) rather than whole (ReadPack), so that
// they hold an object at a time, not the pack's content.
const StreamPacksAbove = 8 << 20

// PackStream is a pack read and checked against its reference, whose
// content can be read as a stream any number of times (Content). Its
// compressed bytes are held in memory or, for a large pack, in a temporary
// file that no other process can change (it is unlinked once created), so
// that what Content yields is what was checked. Close it.
type PackStream struct {
	ref  PackRef
	key  string
	data []byte
	file *os.File
}

// OpenPack reads a pack and checks it against its reference as ReadPack
// does (the stored size, the decompressed size, the SHA-256, the limits of
// a zstd frame), decoding it as a stream: it holds the compressed bytes (on
// disk when they are more than a few MB) and a zstd window, never the
// pack's content. A missing pack fails with storage.ErrNotFound; any other
// disagreement fails with ErrCorrupt. Both errors name the pack's key.
func (r *Repository) OpenPack(ctx context.Context, ref PackRef) (*PackStream, error) {
	if err := ref.validate(); err != nil {
		return nil, fmt.Errorf("reading pack from %s: %w", r.backend, err)
	}
	s := &PackStream{ref: ref, key: r.layout.prefix + ref.Key()}
	var n int64
	var err error
	if ref.Size > spoolToFileAbove {
		if s.file, err = tempFile(); err != nil {
			return nil, fmt.Errorf("reading pack %s from %s: %w", s.key, r.backend, err)
		}
		n, err = storage.GetAtMostToFile(ctx, r.backend, s.key, ref.Size, s.file)
	} else {
		s.data, err = storage.GetAtMost(ctx, r.backend, s.key, ref.Size)
		n = int64(len(s.data))
	}
	switch {
	case errors.Is(err, storage.ErrTooLarge):
		err = fmt.Errorf("pack %s in %s: %w: the stored object is larger than the %d bytes its manifest entry says", s.key, r.backend, ErrCorrupt, ref.Size)
	case err == nil && n != ref.Size:
		err = fmt.Errorf("pack %s in %s: %w: the stored object is %d bytes, its manifest entry says %d", s.key, r.backend, ErrCorrupt, n, ref.Size)
	}
	if err != nil {
		s.Close()
		return nil, err
	}
	// The whole content is checked before any of it is used.
	content, err := s.Content()
	if err == nil {
		h := sha256.New()
		_, err = io.Copy(h, content)
		if cerr := content.Close(); err == nil {
			err = cerr
		}
		if actual := hex.EncodeToString(h.Sum(nil)); err == nil && actual != ref.SHA256 {
			err = fmt.Errorf("pack %s in %s: %w: its content has sha256 %s, expected %s", s.key, r.backend, ErrCorrupt, actual, ref.SHA256)
		}
	}
	if err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

// tempFile creates a file that is gone from the file system at once: only
// this process, through the returned handle, reads or writes it, and it is
// removed even if the process dies.
func tempFile() (*os.File, error) {
	f, err := os.CreateTemp("", "kbackup-pack-")
	if err != nil {
		return nil, fmt.Errorf("a temporary file for a large pack: %w", err)
	}
	if err := os.Remove(f.Name()); err != nil {
		f.Close()
		return nil, fmt.Errorf("a temporary file for a large pack: %w", err)
	}
	return f, nil
}

// Ref is the pack's reference.
func (s *PackStream) Ref() PackRef { return s.ref }

// Content returns a reader of the pack's content, decoded as it is read,
// which fails with ErrCorrupt (naming the key) where the content disagrees
// with the pack's reference: it stops one byte past RawSize. Close it
// before the next.
func (s *PackStream) Content() (io.ReadCloser, error) {
	var compressed io.ReaderAt
	if s.file != nil {
		compressed = s.file
	} else {
		compressed = bytes.NewReader(s.data)
	}
	var head [zstd.HeaderMaxSize]byte
	n, err := compressed.ReadAt(head[:min(int64(len(head)), s.ref.Size)], 0)
	if err != nil && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("pack %s: %w", s.key, err)
	}
	if err := checkFrameHeader(head[:n], s.ref.RawSize); err != nil {
		return nil, fmt.Errorf("pack %s: %w: %v", s.key, ErrCorrupt, err)
	}
	dec := packDecoders.Get().(*zstd.Decoder)
	if err := dec.Reset(io.NewSectionReader(compressed, 0, s.ref.Size)); err != nil {
		packDecoders.Put(dec)
		return nil, fmt.Errorf("pack %s: %w: zstd: %v", s.key, ErrCorrupt, err)
	}
	return &packContentReader{dec: dec, key: s.key, rawSize: s.ref.RawSize}, nil
}

// Close releases the pack's bytes.
func (s *PackStream) Close() error {
	s.data = nil
	if s.file != nil {
		err := s.file.Close()
		s.file = nil
		return err
	}
	return nil
}

// packContentReader is the decoded content of a pack, checked against its size
// as it is read.
type packContentReader struct {
	dec     *zstd.Decoder
	key     string
	rawSize int64
	read    int64
	err     error
}

func (c *packContentReader) Read(p []byte) (int, error) {
	if c.err != nil {
		return 0, c.err
	}
	if c.dec == nil {
		return 0, errors.New("repo: read of a closed pack")
	}
	// One byte past rawSize is read to know that there is more.
	if room := c.rawSize + 1 - c.read; int64(len(p)) > room {
		p = p[:room]
	}
	n, err := c.dec.Read(p)
	c.read += int64(n)
	switch {
	case c.read > c.rawSize:
		c.err = fmt.Errorf("pack %s: %w: decompresses to more than the %d bytes the manifest says", c.key, ErrCorrupt, c.rawSize)
		return 0, c.err
	case errors.Is(err, io.EOF) && c.read < c.rawSize:
		c.err = fmt.Errorf("pack %s: %w: decompresses to %d bytes, the manifest says %d", c.key, ErrCorrupt, c.read, c.rawSize)
		return n, c.err
	case errors.Is(err, io.EOF):
		return n, io.EOF
	case err != nil:
		detail := err.Error()
		if errors.Is(err, zstd.ErrDecoderSizeExceeded) || errors.Is(err, zstd.ErrWindowSizeExceeded) {
			detail = fmt.Sprintf("%v (readers accept packs of up to %d bytes and windows of up to %d)", err, int64(MaxPackRawSize), maxWindowSize)
		}
		c.err = fmt.Errorf("pack %s: %w: zstd: %s", c.key, ErrCorrupt, detail)
		return n, c.err
	}
	return n, nil
}

// Close gives the decoder back.
func (c *packContentReader) Close() error {
	if c.dec != nil {
		// The decoder holds no reference to the pack once reset to
		// nothing.
		_ = c.dec.Reset(bytes.NewReader(nil))
		packDecoders.Put(c.dec)
		c.dec = nil
	}
	return nil
}

// checkFrameHeader refuses a zstd frame header that announces another
// size than rawSize, before anything is decoded.
func checkFrameHeader(data []byte, rawSize int64) error {
	var header zstd.Header
	if err := header.Decode(data); err != nil {
		return fmt.Errorf("not a zstd frame: %v", err)
	}
	if header.HasFCS && header.FrameContentSize != uint64(rawSize) {
		return fmt.Errorf("the zstd frame holds %d bytes, the manifest says %d", header.FrameContentSize, rawSize)
	}
	return nil
}
