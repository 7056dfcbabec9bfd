package repo

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/kbackup/kbackup/core/storage"
)

// Chooser is the storage of a whole run: a primary repository and its
// fallbacks, shared by every backup of the run (one cluster or fifty).
//
// It opens and probes each location at most once in the run, the first
// time a repository is asked for; it owns one circuit breaker per storage
// endpoint, shared by every location on that endpoint, so the run as a whole
// sees storage that keeps failing; and when a backup reports that its
// repository failed (Fail), it moves the run to the next fallback. Its
// methods are safe for concurrent use.
type Chooser struct {
	candidates []Options

	mu       sync.Mutex
	next     int         // the candidate to try when current is nil
	current  *Repository // the repository in use, nil before the first use
	attempts []OpenAttempt
	breakers map[string]*storage.Breaker
	stats    ChooserStats
}

// OpenAttempt is a location that the chooser tried and could not use, or
// that failed during the run.
type OpenAttempt struct {
	Location storage.Location
	Err      error
}

// ChooserStats count what a chooser did in its run.
type ChooserStats struct {
	// Opens is how many locations were opened (or created).
	Opens int `json:"opens"`
	// Probes is how many write probes were sent.
	Probes int `json:"probes"`
	// Switches is how many times the run moved to another location after
	// its first choice.
	Switches int `json:"switches"`
	// Failures is how many locations failed: to open, to accept the probe,
	// or during the run.
	Failures int `json:"failures"`
	// Breakers is how many circuit breakers (storage endpoints) the run
	// has.
	Breakers int `json:"breakers"`
}

// NewChooser returns the chooser of primary and then fallbacks, in order. It
// sends no request.
func NewChooser(primary Options, fallbacks ...Options) *Chooser {
	return &Chooser{
		candidates: append([]Options{primary}, fallbacks...),
		breakers:   map[string]*storage.Breaker{},
	}
}

// Repository returns the repository the run writes to: the one in use, or
// else the first remaining location, in order, that opens (or is created,
// per its Options) and accepts a write probe (Repository.Probe). When none
// is left, the error names every location tried and why it failed, and
// wraps each failure (errors.Is(err, storage.ErrStorageUnavailable) holds
// when one was unavailable).
func (c *Chooser) Repository(ctx context.Context) (*Repository, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.current != nil {
		return c.current, nil
	}
	for c.next < len(c.candidates) {
		i := c.next
		opts := c.candidates[i]
		opts.Storage.Breaker = c.breakerFor(opts)
		c.stats.Opens++
		r, err := Open(ctx, opts)
		if err == nil {
			c.stats.Probes++
			if err = r.Probe(ctx); err != nil {
				err = fmt.Errorf("write probe: %w", err)
			}
		}
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		c.next++
		if err == nil {
			if i > 0 {
				c.stats.Switches++
			}
			c.current = r
			return r, nil
		}
		c.stats.Failures++
		c.attempts = append(c.attempts, OpenAttempt{Location: opts.Location, Err: err})
	}
	return nil, &noWritableError{attempts: slices.Clone(c.attempts)}
}

// breakerFor returns the breaker of the endpoint of opts, creating it on
// first use; nil for a local directory, which has none.
func (c *Chooser) breakerFor(opts Options) *storage.Breaker {
	if opts.Location.IsLocal() {
		return nil
	}
	endpoint := opts.Location.EndpointURL()
	b, ok := c.breakers[endpoint]
	if !ok {
		b = storage.NewBreaker(endpoint, opts.Storage)
		c.breakers[endpoint] = b
		c.stats.Breakers++
	}
	return b
}

// Fail reports that r, which Repository returned, failed during the run
// with err (storage.ErrStorageUnavailable: the storage keeps failing). The
// run moves to the next location at the next call of Repository. It says
// whether a location is left to try; reports about a repository that is no
// longer in use change nothing.
func (c *Chooser) Fail(r *Repository, err error) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if r == c.current && r != nil {
		c.current = nil
		c.stats.Failures++
		c.attempts = append(c.attempts, OpenAttempt{Location: r.Location(), Err: err})
	}
	return c.current != nil || c.next < len(c.candidates)
}

// Attempts are the locations that failed so far in the run, in order, and
// why.
func (c *Chooser) Attempts() []OpenAttempt {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.attempts)
}

// Stats says what the chooser did so far.
func (c *Chooser) Stats() ChooserStats {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.stats
}

// Breakers are the circuit breakers of the run, one per S3 endpoint used,
// sorted by endpoint.
func (c *Chooser) Breakers() []*storage.Breaker {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]*storage.Breaker, 0, len(c.breakers))
	for _, b := range c.breakers {
		out = append(out, b)
	}
	slices.SortFunc(out, func(a, b *storage.Breaker) int { return strings.Compare(a.Name(), b.Name()) })
	return out
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
