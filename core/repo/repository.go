// Package repo is kbackup's repository: its format (docs/repository-format.md),
// the storage backends (S3 through minio-go, a local directory), and the
// operations on it that keep it consistent: content-addressed packs written
// before the manifest that commits a backup, conditional writes where two
// writers could collide, a cluster registry that keeps two clusters from
// writing under one name, and garbage collection that respects running
// backups.
//
// Every read checks what it read: a pack against the SHA-256 in its name, a
// manifest against the format's rules. storage.Credentials never appear in an error,
// a storage.Location or a manifest.
package repo

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/kbackup/kbackup/core/storage"
	"github.com/kbackup/kbackup/core/version"
)

// FormatVersion is the repository format this package reads and writes.
const FormatVersion = 1

// Defaults of Options.
const (
	DefaultGCGracePeriod = time.Hour
	DefaultInProgressTTL = 6 * time.Hour
	DefaultConcurrency   = 8
)

// Options say which repository to open and how.
type Options struct {
	Location    storage.Location
	Credentials storage.Credentials
	// Create makes a new repository when the location holds none (an
	// empty bucket, prefix or directory). Without it, opening such a
	// location fails with ErrNoRepository.
	Create bool
	// AutoCreateBucket creates a missing S3 bucket, when Create is set.
	AutoCreateBucket bool
	// AllowUnconditionalWrites creates a repository even on a server that
	// ignores If-None-Match: * (conditional writes): there, two backups of
	// one ID, or a backup and a collection, are no longer kept apart.
	// Without it, Create refuses such a server with
	// ErrConditionalWritesUnsupported.
	AllowUnconditionalWrites bool
	// Storage tunes retries, timeouts and the circuit breaker.
	Storage storage.Options
	// GCGracePeriod protects packs younger than it from garbage
	// collection: they may belong to a backup whose manifest is not
	// written yet (default 1 h).
	GCGracePeriod time.Duration
	// InProgressTTL is how long an in-progress marker holds off garbage
	// collection for its cluster, and a collection marker holds off
	// backups; an older marker is taken to be left by a process that died
	// (default 6 h). Markers are refreshed every InProgressTTL/6; a backup
	// whose marker was last refreshed InProgressTTL/2 ago refuses to
	// commit, and a collection stops deleting.
	InProgressTTL time.Duration
	// Concurrency bounds parallel reads of manifests (default 8).
	Concurrency int
	// AcceptUnverifiedEncryption lets a backup write to a server that does
	// not report the server-side encryption (Storage.Encryption) it was
	// asked for, which may mean it stores objects unencrypted.
	AcceptUnverifiedEncryption bool
	// WrapBackend, when set, wraps the backend opened for Location: for
	// metrics, or for tests that count requests.
	WrapBackend func(storage.Backend) storage.Backend `json:"-" yaml:"-"`
}

func (o Options) withDefaults() Options {
	if o.GCGracePeriod <= 0 {
		o.GCGracePeriod = DefaultGCGracePeriod
	}
	if o.InProgressTTL <= 0 {
		o.InProgressTTL = DefaultInProgressTTL
	}
	if o.Concurrency <= 0 {
		o.Concurrency = DefaultConcurrency
	}
	return o
}

// Config is _kbackup.json, the file that makes a location a repository.
type Config struct {
	FormatVersion int `json:"formatVersion"`
	// ID identifies the repository, to tell a primary from a fallback.
	ID        string    `json:"id"`
	CreatedAt time.Time `json:"createdAt"`
	// CreatedBy is the kbackup version that created the repository.
	CreatedBy string   `json:"createdBy"`
	Settings  Settings `json:"settings"`
}

// Settings are fixed when a repository is created.
type Settings struct {
	// Compression of packs: "zstd".
	Compression string `json:"compression"`
	// Hash naming packs: "sha256".
	Hash string `json:"hash"`
	// Encryption is the server-side encryption every object is written
	// with, chosen when the repository is created; absent for none.
	Encryption *EncryptionSettings `json:"encryption,omitempty"`
}

// EncryptionSettings record a repository's server-side encryption, never a
// key: the KMS key's ID, and for SSE-C the SHA-256 of the customer key, so
// that a writer with another key is refused before it writes objects that
// the other readers could not read.
type EncryptionSettings struct {
	// Mode is sse-s3, sse-kms or sse-c.
	Mode              string `json:"mode"`
	KMSKeyID          string `json:"kmsKeyID,omitempty"`
	CustomerKeySHA256 string `json:"customerKeySHA256,omitempty"`
}

// Repository is an open kbackup repository. Its methods are safe for
// concurrent use.
type Repository struct {
	backend  storage.Backend
	layout   Layout
	location storage.Location
	config   Config
	opts     Options
	// sessions are the leases of this process's running backups, by
	// cluster/backup-id, which CommitBackup checks.
	sessions sync.Map
	// pending are the pending summary changes this process stored.
	pending pendingChanges
}

// Open opens the repository at opts.Location, creating it when opts.Create
// is set and the location is empty. It reads _kbackup.json, and refuses a
// repository of a newer format.
func Open(ctx context.Context, opts Options) (*Repository, error) {
	opts = opts.withDefaults()
	loc, err := opts.Location.Normalized()
	if err != nil {
		return nil, err
	}
	r := &Repository{layout: NewLayout(loc.Prefix), location: loc, opts: opts}
	backend, err := r.openBackend(opts.Storage.Encryption)
	if err != nil {
		return nil, err
	}
	r.backend = backend
	cfg, err := r.readConfig(ctx)
	switch {
	case err == nil:
		if err := r.useEncryption(cfg.Settings.Encryption); err != nil {
			return nil, err
		}
		r.config = cfg
		return r, nil
	case errors.Is(err, storage.ErrBucketNotFound) && opts.Create && opts.AutoCreateBucket:
		if err := storage.CreateBucket(ctx, backend, loc.Region); err != nil {
			return nil, err
		}
	case errors.Is(err, storage.ErrBucketNotFound) && opts.Create:
		return nil, err
	case errors.Is(err, storage.ErrNotFound) && opts.Create:
	case errors.Is(err, storage.ErrNotFound), errors.Is(err, storage.ErrBucketNotFound):
		return nil, fmt.Errorf("%w at %s; a backup creates one there, or check the storage location: %w",
			ErrNoRepository, loc, err)
	default:
		return nil, err
	}
	if err := r.create(ctx); err != nil {
		return nil, err
	}
	return r, nil
}

func (r *Repository) readConfig(ctx context.Context) (Config, error) {
	key := r.layout.Config()
	data, err := r.backend.Get(ctx, key)
	if err != nil {
		return Config{}, err
	}
	cfg, err := parseConfig(data)
	if err != nil {
		return Config{}, fmt.Errorf("repository config %s in %s: %w", key, r.backend, err)
	}
	return cfg, nil
}

func parseConfig(data []byte) (Config, error) {
	// The version first, so that a newer format is reported as such and
	// not as an unknown field.
	v, err := formatVersionOf(data)
	if err != nil {
		return Config{}, fmt.Errorf("%w: not JSON: %v", ErrCorrupt, err)
	}
	if v > FormatVersion {
		return Config{}, fmt.Errorf("%w: the repository has format version %d and this kbackup (%s) reads version %d; upgrade kbackup",
			ErrUnsupportedFormat, v, version.Get().Version, FormatVersion)
	}
	var cfg Config
	if err := decodeStrict(data, &cfg); err != nil {
		return Config{}, fmt.Errorf("%w: %v", ErrCorrupt, err)
	}
	switch {
	case cfg.FormatVersion != FormatVersion:
		return Config{}, fmt.Errorf("%w: formatVersion %d is not a format version", ErrCorrupt, cfg.FormatVersion)
	case cfg.Settings.Compression != EncodingZstd:
		return Config{}, fmt.Errorf("%w: compression %q is not supported; format version 1 uses zstd", ErrCorrupt, cfg.Settings.Compression)
	case cfg.Settings.Hash != "sha256":
		return Config{}, fmt.Errorf("%w: hash %q is not supported; format version 1 uses sha256", ErrCorrupt, cfg.Settings.Hash)
	case cfg.Settings.Encryption != nil && !slices.Contains(storage.EncryptionModes, cfg.Settings.Encryption.Mode):
		return Config{}, fmt.Errorf("%w: server-side encryption %q is not known to this kbackup (%s), which knows %s; upgrade kbackup",
			ErrUnsupportedFormat, cfg.Settings.Encryption.Mode, version.Get().Version, strings.Join(storage.EncryptionModes, ", "))
	}
	return cfg, nil
}

// formatVersionOf reads only a document's formatVersion, so that a document
// of a newer format is reported as newer before its fields, which this
// kbackup may not know, are decoded.
func formatVersionOf(data []byte) (int, error) {
	var probe struct {
		FormatVersion int `json:"formatVersion"`
	}
	err := json.Unmarshal(data, &probe)
	return probe.FormatVersion, err
}

// decodeStrict decodes one JSON value, refusing unknown fields and
// anything after the value.
func decodeStrict(data []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if _, err := dec.Token(); err != io.EOF {
		return errors.New("unexpected data after the JSON value")
	}
	return nil
}

// create writes _kbackup.json in an empty location, after checking that
// the storage honours conditional writes. Of two concurrent creators one
// writes it and the other reads it.
func (r *Repository) create(ctx context.Context) error {
	// Another creator's probe does not make the location taken.
	if key, found, err := r.firstKeyButProbes(ctx); err != nil {
		return err
	} else if found && !strings.HasPrefix(key, r.layout.Probe("")) {
		// Another creator may have just written the config.
		if cfg, err := r.readConfig(ctx); err == nil {
			if err := r.useEncryption(cfg.Settings.Encryption); err != nil {
				return err
			}
			r.config = cfg
			return nil
		}
		return fmt.Errorf("%w at %s, and it is not empty (it holds %s); kbackup creates a repository only in an empty location: choose an empty bucket, directory or prefix",
			ErrNoRepository, r.location, key)
	}
	if err := r.checkConditionalWrites(ctx); err != nil {
		return err
	}
	// Encryption the server ignores is refused before it is recorded, so
	// that a refused attempt does not bind the location to it.
	if r.opts.Storage.Encryption.Mode != "" {
		if err := r.Probe(ctx); err != nil {
			return err
		}
	}
	cfg := Config{
		FormatVersion: FormatVersion,
		ID:            NewID(time.Now()),
		CreatedAt:     time.Now().UTC().Truncate(time.Second),
		CreatedBy:     "kbackup " + version.Get().Version,
		Settings:      Settings{Compression: EncodingZstd, Hash: "sha256", Encryption: encryptionSettings(r.opts.Storage.Encryption)},
	}
	data, err := marshalJSON(cfg)
	if err != nil {
		return err
	}
	err = r.backend.PutIfAbsent(ctx, r.layout.Config(), data)
	if errors.Is(err, storage.ErrAlreadyExists) {
		if cfg, err = r.readConfig(ctx); err == nil {
			err = r.useEncryption(cfg.Settings.Encryption)
		}
	}
	if err != nil {
		return err
	}
	r.config = cfg
	return nil
}

// firstKeyButProbes finds any key under the prefix other than a write
// probe, which a concurrent creator may have left for a moment.
func (r *Repository) firstKeyButProbes(ctx context.Context) (string, bool, error) {
	key, found, err := storage.FirstKey(ctx, r.backend, r.layout.Prefix())
	if err != nil || !found || !strings.HasPrefix(key, r.layout.Probe("")) {
		return key, found, err
	}
	for obj, err := range r.backend.List(ctx, r.layout.Prefix()) {
		if err != nil {
			return "", false, err
		}
		if !strings.HasPrefix(obj.Key, r.layout.Probe("")) {
			return obj.Key, true, nil
		}
	}
	return "", false, nil
}

// ErrConditionalWritesUnsupported: the storage ignores If-None-Match: *.
var ErrConditionalWritesUnsupported = errors.New("the storage does not honour conditional writes")

// checkConditionalWrites writes a probe twice with If-None-Match: * (the
// second write must be refused) and deletes it. On a server that accepts
// the second write, every protocol of docs/repository-format.md §11 that
// relies on conditional writes is void.
func (r *Repository) checkConditionalWrites(ctx context.Context) error {
	key := r.layout.Probe(NewID(time.Now()) + "-conditional")
	if err := r.backend.PutIfAbsent(ctx, key, []byte("first\n")); err != nil {
		return fmt.Errorf("checking that %s honours conditional writes: %w", r.backend, err)
	}
	err := r.backend.PutIfAbsent(ctx, key, []byte("second\n"))
	// A probe left behind is harmless (§10a).
	_ = r.backend.Delete(ctx, key)
	switch {
	case errors.Is(err, storage.ErrAlreadyExists):
		return nil
	case err != nil:
		return fmt.Errorf("checking that %s honours conditional writes: %w", r.backend, err)
	case r.opts.AllowUnconditionalWrites:
		return nil
	}
	return fmt.Errorf("%w: %s accepted a second write of %s with If-None-Match: *, which must be refused with 412 Precondition Failed. "+
		"kbackup relies on it to keep two backups of one ID, and a backup and a garbage collection, from overwriting each other "+
		"(docs/repository-format.md §11). Use a server that supports S3 conditional writes, or accept the risk with --allow-unconditional-writes",
		ErrConditionalWritesUnsupported, r.backend, key)
}

// marshalJSON is how every JSON file of the format is written: indented,
// for people reading it in an S3 browser, with a final newline.
func marshalJSON(v any) ([]byte, error) {
	data, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return nil, err
	}
	return append(data, '\n'), nil
}

// storage.Location is where the repository is.
func (r *Repository) Location() storage.Location { return r.location }

// Config is the repository's _kbackup.json.
func (r *Repository) Config() Config { return r.config }

// storage.Backend is the storage under the repository, for packages that store
// fleet objects (schedules, retention policies) at Layout's keys.
func (r *Repository) Backend() storage.Backend { return r.backend }

// Layout builds the repository's keys.
func (r *Repository) Layout() Layout { return r.layout }

// String names the repository for messages.
func (r *Repository) String() string { return r.backend.String() }

// Probe checks that the repository accepts writes, with a small
// conditional write that it deletes again.
func (r *Repository) Probe(ctx context.Context) error {
	host, _ := os.Hostname()
	key := r.layout.Probe(NewID(time.Now()))
	data, err := marshalJSON(map[string]string{"host": host, "time": time.Now().UTC().Format(time.RFC3339)})
	if err != nil {
		return err
	}
	if err := r.backend.PutIfAbsent(ctx, key, data); err != nil {
		return err
	}
	if err := r.checkEncryption(ctx, key); err != nil {
		return errors.Join(err, r.backend.Delete(ctx, key))
	}
	return r.backend.Delete(ctx, key)
}
