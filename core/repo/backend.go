package repo

import (
	"context"
	"errors"
	"iter"
	"strings"
	"time"
)

// Backend stores objects by key. Keys are '/'-separated paths; the
// repository builds them with Layout. Every error is an *OpError naming the
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
	// ErrAlreadyExists.
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
}

// StorageOptions tune how storage is reached. The zero value gives the
// defaults.
type StorageOptions struct {
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
	// ResponseTimeout bounds the wait for response headers after a
	// request was sent (default 30 s).
	ResponseTimeout time.Duration
}

func (o StorageOptions) withDefaults() StorageOptions {
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
		o.ResponseTimeout = 30 * time.Second
	}
	return o
}

// OpenBackend returns the backend of a location. It sends no request: an
// unreachable server shows on the first operation.
func OpenBackend(loc Location, creds Credentials, opts StorageOptions) (Backend, error) {
	loc, err := loc.normalized()
	if err != nil {
		return nil, invalidf("storage location %s: %v", loc.display(), err)
	}
	if loc.IsLocal() {
		return newLocalBackend(loc.Path), nil
	}
	return newS3Backend(loc, creds, opts.withDefaults())
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
