package repo

import (
	"errors"

	"github.com/kbackup/kbackup/core/storage"
)

// Sentinel errors of the format. Transport errors (storage.ErrNotFound,
// storage.ErrAlreadyExists, storage.ErrStorageUnavailable,
// storage.ErrBucketNotFound, storage.ErrInvalid and *storage.OpError) pass
// through unchanged. Every error this package returns wraps at most one
// sentinel, with context, so callers check with errors.Is and print the
// error as it is.
var (
	// ErrCorrupt: stored data does not match its name or does not parse:
	// a pack whose content has another hash, a zstd frame that does not
	// decode, a manifest that is not valid.
	ErrCorrupt = errors.New("corrupt")
	// ErrNoRepository: the location holds no _kbackup.json.
	ErrNoRepository = errors.New("no kbackup repository")
	// ErrUnsupportedFormat: the repository or a manifest has a format
	// version this build cannot read.
	ErrUnsupportedFormat = errors.New("unsupported format version")
	// ErrClusterNameTaken: another cluster (another kube-system UID)
	// already writes under this cluster name.
	ErrClusterNameTaken = errors.New("cluster name taken")
)

// invalidf returns an error wrapping storage.ErrInvalid.
func invalidf(format string, args ...any) error { return storage.Invalidf(format, args...) }
