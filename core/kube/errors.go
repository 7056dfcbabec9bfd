package kube

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/agnivade/levenshtein"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
)

// markedError carries a sentinel for errors.Is (and its cause for errors.As)
// without repeating the sentinel's text in the message.
type markedError struct {
	kind  error
	cause error
	msg   string
}

func (e *markedError) Error() string { return e.msg }

func (e *markedError) Unwrap() []error {
	if e.cause == nil {
		return []error{e.kind}
	}
	return []error{e.kind, e.cause}
}

func markError(kind, cause error, format string, args ...any) error {
	return &markedError{kind: kind, cause: cause, msg: fmt.Sprintf(format, args...)}
}

// connectionError turns the error of a request to the API server into one
// that names the cluster and says what went wrong, in the words
// `cluster at https://… (context prod-eu) is unreachable: …`.
func (c *Client) connectionError(ctx context.Context, err error, waited time.Duration) error {
	where := c.describe()
	var status apierrors.APIStatus
	switch {
	case apierrors.IsUnauthorized(err):
		return markError(ErrUnauthorized, err, "cluster at %s refused the credentials: %v", where, err)
	case errors.As(err, &status):
		return fmt.Errorf("cluster at %s: %w", where, err)
	case errors.Is(err, context.Canceled) && ctx.Err() != nil:
		return fmt.Errorf("cluster at %s: %w", where, err)
	case errors.Is(err, context.DeadlineExceeded) || ctx.Err() != nil:
		return markError(ErrUnreachable, err, "cluster at %s is unreachable: no answer within %s", where, waited.Round(100*time.Millisecond))
	}
	// Drop the url.Error's "Get "https://…/version?timeout=5s":" prefix: the
	// message names the server already.
	cause := err
	var uerr *url.Error
	if errors.As(err, &uerr) {
		cause = uerr.Err
		if uerr.Timeout() {
			return markError(ErrUnreachable, err, "cluster at %s is unreachable: no answer within %s", where, waited.Round(100*time.Millisecond))
		}
	}
	return markError(ErrUnreachable, err, "cluster at %s is unreachable: %v", where, cause)
}

// closest returns the candidate nearest to name when it is near enough to
// be what was meant: equal but for case, or a few edits away.
func closest(name string, candidates []string) (string, bool) {
	best := nearest(name, candidates, 1)
	if len(best) == 0 {
		return "", false
	}
	return best[0], true
}

// nearest returns up to n candidates near name, nearest first.
func nearest(name string, candidates []string, n int) []string {
	name = strings.ToLower(name)
	limit := 1
	switch l := len(name); {
	case l > 8:
		limit = 3
	case l > 4:
		limit = 2
	}
	type scored struct {
		s string
		d int
	}
	var found []scored
	for _, c := range candidates {
		lc := strings.ToLower(c)
		d := levenshtein.ComputeDistance(name, lc)
		if len(name) >= 3 && len(lc) >= 3 && (strings.HasPrefix(lc, name) || strings.HasPrefix(name, lc)) {
			d = min(d, 1)
		}
		if d <= limit {
			found = append(found, scored{c, d})
		}
	}
	slices.SortStableFunc(found, func(a, b scored) int { return a.d - b.d })
	var out []string
	for _, f := range found {
		if !slices.Contains(out, f.s) {
			out = append(out, f.s)
		}
		if len(out) == n {
			break
		}
	}
	return out
}
