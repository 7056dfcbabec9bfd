package storage

import (
	"errors"
	"fmt"
)

// Sentinel errors of the transport. Every error this package returns wraps
// at most one of them, with context (the key, the location), so callers
// check with errors.Is and print the error as it is.
var (
	// ErrNotFound: the object does not exist.
	ErrNotFound = errors.New("not found")
	// ErrAlreadyExists: a conditional write lost to an existing object.
	ErrAlreadyExists = errors.New("already exists")
	// ErrStorageUnavailable: the storage did not answer after the retries,
	// or the circuit breaker is open because it failed repeatedly. A run
	// switches to a fallback location on it.
	ErrStorageUnavailable = errors.New("storage unavailable")
	// ErrBucketNotFound: the S3 bucket does not exist.
	ErrBucketNotFound = errors.New("bucket does not exist")
	// ErrInvalid: an argument (a name, a key, a URL) is not acceptable.
	ErrInvalid = errors.New("invalid")
)

// OpError is a failed storage operation on one key. It reads like
// "writing pack prod-eu/payments/configmaps/ab12….yaml.zst to s3://bucket
// (http://host): <cause>".
type OpError struct {
	// Op is what was being done: reading, writing, creating, checking,
	// listing or deleting.
	Op string
	// What names what the key holds ("pack", "manifest"), as
	// Options.DescribeKey says; "object" when it says nothing.
	What string
	// Key is the object key (or, for listing, the key prefix).
	Key string
	// Location is where, without credentials (Backend.String()).
	Location string
	Err      error
}

func (e *OpError) Error() string {
	if e.Key == "" && e.Op != opList {
		return fmt.Sprintf("%s bucket %s: %v", e.Op, e.Location, e.Err)
	}
	what := e.What
	if what == "" {
		what = "object"
	}
	what += " " + e.Key
	if e.Op == opList {
		what = "objects under " + quoteEmpty(e.Key)
	}
	return fmt.Sprintf("%s %s %s %s: %v", e.Op, what, opPreposition(e.Op), e.Location, e.Err)
}

func (e *OpError) Unwrap() error { return e.Err }

// Operation names, as they appear in OpError.
const (
	opRead   = "reading"
	opWrite  = "writing"
	opCreate = "creating"
	opStat   = "checking"
	opList   = "listing"
	opDelete = "deleting"
)

func opPreposition(op string) string {
	switch op {
	case opRead, opDelete:
		return "from"
	case opWrite, opCreate:
		return "to"
	}
	return "in"
}

func quoteEmpty(s string) string {
	if s == "" {
		return `""`
	}
	return s
}

// Invalidf returns an error wrapping ErrInvalid, for the packages above
// the transport that validate their own arguments.
func Invalidf(format string, args ...any) error {
	return &invalidError{msg: fmt.Sprintf(format, args...)}
}

func invalidf(format string, args ...any) error { return Invalidf(format, args...) }

type invalidError struct{ msg string }

func (e *invalidError) Error() string { return e.msg }
func (e *invalidError) Is(target error) bool {
	return target == ErrInvalid
}

// describe names what key holds with describeKey, when there is one.
func describe(describeKey func(string) string, key string) string {
	if describeKey == nil {
		return ""
	}
	return describeKey(key)
}
