package repo

import (
	"errors"

	utilerrors "k8s.io/apimachinery/pkg/util/errors"
	"k8s.io/apimachinery/pkg/util/validation/field"

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

// BackupNotFoundError is a backup that a cluster does not have (ID empty:
// no backup that did not fail). It wraps storage.ErrNotFound, so callers
// check either; front ends add how to list the cluster's backups.
type BackupNotFoundError struct {
	Cluster, ID string
}

func (e *BackupNotFoundError) Error() string { return storage.ErrNotFound.Error() }
func (e *BackupNotFoundError) Unwrap() error { return storage.ErrNotFound }

// invalidf returns an error wrapping storage.ErrInvalid.
func invalidf(format string, args ...any) error { return storage.Invalidf(format, args...) }

// invalidFields returns the field errors as one error that wraps
// storage.ErrInvalid and unwraps to the list's aggregate (whose errors are
// the *field.Error values), or nil for an empty list.
func invalidFields(errs field.ErrorList) error {
	if len(errs) == 0 {
		return nil
	}
	return &fieldsError{errs.ToAggregate()}
}

type fieldsError struct{ agg utilerrors.Aggregate }

func (e *fieldsError) Error() string        { return e.agg.Error() }
func (e *fieldsError) Unwrap() error        { return e.agg }
func (e *fieldsError) Is(target error) bool { return target == storage.ErrInvalid }
