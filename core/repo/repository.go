// Package repo is kbackup's repository: its format (docs/repository-format.md),
// the storage backends (S3 through minio-go, a local directory), and the
// operations on it that keep it consistent: content-addressed packs written
// before the manifest that commits a backup, conditional writes where two
// writers could collide, a cluster registry that keeps two clusters from
// writing under one name, and garbage collection that respects running
// backups.
//
// Every read checks what it read: a pack against the SHA-256 in its name, a
// manifest against the format's rules. Credentials never appear in an error,
// a Location or a manifest.
package repo

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

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
	Location    Location
	Credentials Credentials
	// Create makes a new repository when the location holds none (an
	// empty bucket, prefix or directory). Without it, opening such a
	// location fails with ErrNoRepository.
	Create bool
	// AutoCreateBucket creates a missing S3 bucket, when Create is set.
	AutoCreateBucket bool
	// Storage tunes retries, timeouts and the circuit breaker.
	Storage StorageOptions
	// GCGracePeriod protects packs younger than it from garbage
	// collection: they may belong to a backup whose manifest is not
	// written yet (default 1 h).
	GCGracePeriod time.Duration
	// InProgressTTL is how long an in-progress marker holds off garbage
	// collection for its cluster; an older marker is taken to be left by
	// a backup that died (default 6 h).
	InProgressTTL time.Duration
	// Concurrency bounds parallel reads of manifests (default 8).
	Concurrency int
	// WrapBackend, when set, wraps the backend opened for Location: for
	// metrics, or for tests that count requests.
	WrapBackend func(Backend) Backend `json:"-" yaml:"-"`
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
}

// Repository is an open kbackup repository. Its methods are safe for
// concurrent use.
type Repository struct {
	backend  Backend
	layout   Layout
	location Location
	config   Config
	opts     Options
}

// Open opens the repository at opts.Location, creating it when opts.Create
// is set and the location is empty. It reads _kbackup.json, and refuses a
// repository of a newer format.
func Open(ctx context.Context, opts Options) (*Repository, error) {
	opts = opts.withDefaults()
	loc, err := opts.Location.normalized()
	if err != nil {
		return nil, invalidf("storage location %s: %v", opts.Location.display(), err)
	}
	backend, err := OpenBackend(loc, opts.Credentials, opts.Storage)
	if err != nil {
		return nil, err
	}
	if opts.WrapBackend != nil {
		backend = opts.WrapBackend(backend)
	}
	r := &Repository{backend: backend, layout: NewLayout(loc.Prefix), location: loc, opts: opts}
	cfg, err := r.readConfig(ctx)
	switch {
	case err == nil:
		r.config = cfg
		return r, nil
	case errors.Is(err, ErrBucketNotFound) && opts.Create && opts.AutoCreateBucket:
		creator, ok := unwrapBackend(backend).(bucketCreator)
		if !ok {
			return nil, err
		}
		if err := creator.createBucket(ctx, loc.Region); err != nil {
			return nil, err
		}
	case errors.Is(err, ErrBucketNotFound) && opts.Create:
		return nil, err
	case errors.Is(err, ErrNotFound) && opts.Create:
	case errors.Is(err, ErrNotFound), errors.Is(err, ErrBucketNotFound):
		return nil, fmt.Errorf("%w at %s; run `kubectl kbackup backup create` to create one there, or check the storage URL: %w",
			ErrNoRepository, loc, err)
	default:
		return nil, err
	}
	if err := r.create(ctx); err != nil {
		return nil, err
	}
	return r, nil
}

// unwrapBackend finds the backend under wrappers that expose Unwrap.
func unwrapBackend(b Backend) Backend {
	for {
		u, ok := b.(interface{ Unwrap() Backend })
		if !ok {
			return b
		}
		b = u.Unwrap()
	}
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
	var probe struct {
		FormatVersion int `json:"formatVersion"`
	}
	if err := json.Unmarshal(data, &probe); err != nil {
		return Config{}, fmt.Errorf("%w: not JSON: %v", ErrCorrupt, err)
	}
	if probe.FormatVersion > FormatVersion {
		return Config{}, fmt.Errorf("%w: the repository has format version %d and this kbackup (%s) reads version %d; upgrade kbackup",
			ErrUnsupportedFormat, probe.FormatVersion, version.Get().Version, FormatVersion)
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
	}
	return cfg, nil
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

// create writes _kbackup.json in an empty location. Of two concurrent
// creators one writes it and the other reads it.
func (r *Repository) create(ctx context.Context) error {
	if key, found, err := r.firstKey(ctx, r.layout.Prefix()); err != nil {
		return err
	} else if found {
		// Another creator may have just written the config.
		if cfg, err := r.readConfig(ctx); err == nil {
			r.config = cfg
			return nil
		}
		return fmt.Errorf("%w at %s, and it is not empty (it holds %s); kbackup creates a repository only in an empty location: choose an empty bucket, directory or prefix",
			ErrNoRepository, r.location, key)
	}
	cfg := Config{
		FormatVersion: FormatVersion,
		ID:            NewID(time.Now()),
		CreatedAt:     time.Now().UTC().Truncate(time.Second),
		CreatedBy:     "kbackup " + version.Get().Version,
		Settings:      Settings{Compression: EncodingZstd, Hash: "sha256"},
	}
	data, err := marshalJSON(cfg)
	if err != nil {
		return err
	}
	err = r.backend.PutIfAbsent(ctx, r.layout.Config(), data)
	if errors.Is(err, ErrAlreadyExists) {
		cfg, err = r.readConfig(ctx)
	}
	if err != nil {
		return err
	}
	r.config = cfg
	return nil
}

// firstKey finds any object under prefix. S3 answers from the first page
// of a listing instead of the whole listing.
func (r *Repository) firstKey(ctx context.Context, prefix string) (string, bool, error) {
	if s3, ok := unwrapBackend(r.backend).(*s3Backend); ok {
		return s3.firstKey(ctx, prefix)
	}
	for obj, err := range r.backend.List(ctx, prefix) {
		if err != nil {
			return "", false, err
		}
		return obj.Key, true, nil
	}
	return "", false, nil
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

// Location is where the repository is.
func (r *Repository) Location() Location { return r.location }

// Config is the repository's _kbackup.json.
func (r *Repository) Config() Config { return r.config }

// Backend is the storage under the repository, for packages that store
// fleet objects (schedules, retention policies) at Layout's keys.
func (r *Repository) Backend() Backend { return r.backend }

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
	return r.backend.Delete(ctx, key)
}
