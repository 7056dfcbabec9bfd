// Package storage is kbackup's transport: objects by key in an S3 bucket
// (through minio-go) or a local directory, with conditional writes, retries,
// a stall watchdog, a circuit breaker per endpoint, TLS, and errors that
// never contain a credential. It knows nothing of the repository format
// (core/repo builds on it) nor of kbackup.yaml (core/config).
package storage

import (
	"context"
	"errors"
	"iter"
	"strings"
	"time"
)

// Backend stores objects by key. Keys are '/'-separated paths; core/repo
// builds them with its Layout. Every error is an *OpError naming the
// key and the location, wrapping ErrNotFound, ErrAlreadyExists,
// ErrBucketNotFound or ErrStorageUnavailable where they apply, and never
// containing a credential.
type Backend interface {
	// Get returns the whole object; ErrNotFound when there is none.
	Get(ctx context.Context, key string) ([]byte, error)
	// Put writes the object, replacing any. Readers never see a partial
	// object.
	Put(ctx context.Context, key string, data []byte) error
	// PutIfAbsent writes the object only if the key is free, atomically:
	// of two concurrent writers exactly one succeeds and the other gets
	// ErrAlreadyExists. A request retried after a transport error that
	// is refused reads the object back, and succeeds when it holds
	// exactly data: its own first attempt landed.
	PutIfAbsent(ctx context.Context, key string, data []byte) error
	// Stat returns the object's size and time; ErrNotFound when there is
	// none.
	Stat(ctx context.Context, key string) (ObjectInfo, error)
	// List yields every object whose key starts with prefix, at any depth,
	// sorted by key. After an error it yields nothing more.
	List(ctx context.Context, prefix string) iter.Seq2[ObjectInfo, error]
	// Delete removes the object; deleting a missing key is not an error.
	Delete(ctx context.Context, key string) error
	// String says where the objects are, without credentials:
	// "s3://bucket/prefix (https://host:port)" or "/var/lib/kbackup".
	String() string
}

// ObjectInfo describes a stored object.
type ObjectInfo struct {
	Key  string
	Size int64
	// ModTime is when the object was last written, by the storage's
	// clock.
	ModTime time.Time
	// Encryption is the server-side encryption the server reports for the
	// object (EncryptionSSES3, EncryptionSSEKMS, EncryptionSSEC), "" when
	// it reports none. Only Stat fills it in.
	Encryption string
	// ETag is the S3 entity tag, without quotes: it changes whenever the
	// object is written with other content. "" when the storage has none
	// (a directory), and then nothing may be concluded from it.
	ETag string
}

// Options tune how storage is reached. The zero value gives the
// defaults.
type Options struct {
	// MaxAttempts is how often one S3 request is tried before it fails
	// with ErrStorageUnavailable (default 5: a stopped server fails a
	// request within about 4 s, an unreachable host within about 20 s).
	MaxAttempts int
	// FailuresToTrip is how many requests in a row must fail, each after
	// its retries, before the circuit breaker opens and further requests
	// fail at once (default 3).
	FailuresToTrip int
	// OpenFor is how long the breaker stays open before one request may
	// try again (default 30 s).
	OpenFor time.Duration
	// DialTimeout bounds each TCP connect (default 3 s).
	DialTimeout time.Duration
	// ResponseTimeout bounds one attempt's wait for response headers
	// after the request was sent (default 10 s); the attempt is then
	// retried.
	ResponseTimeout time.Duration
	// StallTimeout bounds how long a request, retries included, may go
	// without progress before it fails with ErrStorageUnavailable
	// (default 20 s): progress is a downloaded byte or a listed key; an
	// upload gets StallTimeout plus its size at 256 KiB/s. It keeps a
	// server that accepts connections but never answers from holding a
	// request for minutes.
	StallTimeout time.Duration
	// Encryption is the server-side encryption every write uses (and
	// every read, for SSE-C). S3 only.
	Encryption Encryption

	// Breaker is the circuit breaker of the endpoint, shared by every
	// backend opened on it for one run (see NewBreaker); nil gives the
	// backend a breaker of its own.
	Breaker *Breaker `json:"-" yaml:"-"`
	// DescribeKey names what a key holds ("pack", "manifest") in
	// OpError; nil says "object".
	DescribeKey func(key string) string `json:"-" yaml:"-"`
}

func (o Options) withDefaults() Options {
	if o.MaxAttempts <= 0 {
		o.MaxAttempts = 5
	}
	if o.FailuresToTrip <= 0 {
		o.FailuresToTrip = 3
	}
	if o.OpenFor <= 0 {
		o.OpenFor = 30 * time.Second
	}
	if o.DialTimeout <= 0 {
		o.DialTimeout = 3 * time.Second
	}
	if o.ResponseTimeout <= 0 {
		o.ResponseTimeout = 10 * time.Second
	}
	if o.StallTimeout <= 0 {
		o.StallTimeout = 20 * time.Second
	}
	return o
}

// Open returns the backend of a location. It sends no request: an
// unreachable server shows on the first operation.
func Open(loc Location, creds Credentials, opts Options) (Backend, error) {
	loc, err := loc.normalized()
	if err != nil {
		return nil, invalidf("storage location %s: %v", loc.Display(), err)
	}
	if err := opts.Encryption.Validate(); err != nil {
		return nil, err
	}
	if loc.IsLocal() {
		if opts.Encryption.Mode != "" {
			return nil, invalidf("storage location %s: server-side encryption (%s) is for S3 repositories; a local directory is as safe as its file system, so encrypt that", loc.Display(), opts.Encryption.Mode)
		}
		return newLocalBackend(loc.Path, opts.DescribeKey), nil
	}
	return newS3Backend(loc, creds, opts.withDefaults())
}

// Unwrap finds the backend under wrappers that expose
// Unwrap() Backend (metrics, request counters in tests).
func Unwrap(b Backend) Backend {
	for {
		u, ok := b.(interface{ Unwrap() Backend })
		if !ok {
			return b
		}
		b = u.Unwrap()
	}
}

// CreateBucket creates the S3 bucket of b unless it exists. It fails with
// ErrInvalid for a backend that has no bucket (a local directory).
func CreateBucket(ctx context.Context, b Backend, region string) error {
	s3, ok := Unwrap(b).(*s3Backend)
	if !ok {
		return invalidf("%s has no bucket to create", b)
	}
	return s3.createBucket(ctx, region)
}

// FirstKey finds any object under prefix. S3 answers from the first page
// of a listing instead of the whole listing.
func FirstKey(ctx context.Context, b Backend, prefix string) (key string, found bool, err error) {
	if s3, ok := Unwrap(b).(*s3Backend); ok {
		return s3.firstKey(ctx, prefix)
	}
	for obj, err := range b.List(ctx, prefix) {
		if err != nil {
			return "", false, err
		}
		return obj.Key, true, nil
	}
	return "", false, nil
}

// scrubber removes known secrets from error text. Servers and HTTP
// libraries may echo a request (a URL, a header) in an error; this is the
// last line of defence that keeps credentials out of messages.
type scrubber []string

func (s scrubber) text(msg string) string {
	for _, secret := range s {
		msg = strings.ReplaceAll(msg, secret, redacted)
	}
	return msg
}

// scrubbedError shows an error's text with the secrets removed. It does not
// unwrap to the original, which would show them again, except to the
// context errors that callers test for.
type scrubbedError struct {
	msg   string
	cause error // context.Canceled, context.DeadlineExceeded or nil
}

func (e *scrubbedError) Error() string { return e.msg }
func (e *scrubbedError) Unwrap() error { return e.cause }

func (s scrubber) wrap(err error) error {
	if err == nil || len(s) == 0 {
		return err
	}
	msg := err.Error()
	clean := s.text(msg)
	if clean == msg {
		return err
	}
	scrubbed := &scrubbedError{msg: clean}
	for _, cause := range []error{context.Canceled, context.DeadlineExceeded} {
		if errors.Is(err, cause) {
			scrubbed.cause = cause
		}
	}
	return scrubbed
}
