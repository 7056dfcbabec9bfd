package repo

import (
	"context"
	"fmt"
	"strings"
)

// OpenAttempt is a location that OpenFirstWritable tried and could not use.
type OpenAttempt struct {
	Location Location
	Err      error
}

// OpenFirstWritable opens the first repository, of primary and then the
// fallbacks in order, that opens (or is created, per its Options) and
// accepts a write probe (Repository.Probe). It returns the repository and
// the locations tried before it, with why each failed. When none works,
// the error names every location and its failure, and wraps each failure
// (errors.Is(err, ErrStorageUnavailable) holds when one was unavailable).
//
// A backup that fails mid-way with ErrStorageUnavailable switches by
// calling it again with the remaining fallbacks; manifests record the
// location used (Manifest.StorageLocation), so the switch shows.
func OpenFirstWritable(ctx context.Context, primary Options, fallbacks []Options) (*Repository, []OpenAttempt, error) {
	var failed []OpenAttempt
	for _, opts := range append([]Options{primary}, fallbacks...) {
		r, err := Open(ctx, opts)
		if err == nil {
			if err = r.Probe(ctx); err != nil {
				err = fmt.Errorf("write probe: %w", err)
			}
		}
		if err == nil {
			return r, failed, nil
		}
		if ctx.Err() != nil {
			return nil, failed, ctx.Err()
		}
		failed = append(failed, OpenAttempt{Location: opts.Location, Err: err})
	}
	return nil, failed, &noWritableError{attempts: failed}
}

// noWritableError lists every location tried.
type noWritableError struct{ attempts []OpenAttempt }

func (e *noWritableError) Error() string {
	var b strings.Builder
	b.WriteString("no storage location accepts writes:")
	for i, a := range e.attempts {
		role := "primary"
		if i > 0 {
			role = fmt.Sprintf("fallback %d", i)
		}
		fmt.Fprintf(&b, "\n  %s %s: %v", role, a.Location, a.Err)
	}
	return b.String()
}

func (e *noWritableError) Unwrap() []error {
	errs := make([]error, len(e.attempts))
	for i, a := range e.attempts {
		errs[i] = a.Err
	}
	return errs
}
