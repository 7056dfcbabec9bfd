package storage

import (
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/sony/gobreaker/v2"
)

// Breaker is the circuit breaker of one storage endpoint. After
// FailuresToTrip requests in a row fail with the storage unreachable or
// erroring (network errors, 5xx, throttling, stalls), every request fails
// at once with ErrStorageUnavailable for OpenFor, so a backup of thousands
// of packs against a dead server stops in seconds rather than retrying each
// pack. Answers that show the server working (not found, precondition
// failed, access denied) do not count as failures.
//
// A run shares one Breaker per endpoint between every backend it opens
// there (Options.Breaker), so that the run as a whole sees storage that
// keeps failing.
type Breaker struct {
	name           string
	failuresToTrip int
	openFor        time.Duration
	cb             *gobreaker.TwoStepCircuitBreaker[struct{}]
	// lastFailure is the text of the last failure that counted, without
	// secrets, to say why the breaker opened.
	lastFailure atomic.Pointer[string]
}

// errExcluded tells the breaker to ignore a request that the caller
// cancelled.
var errExcluded = errors.New("excluded from the circuit breaker")

// NewBreaker returns the breaker of the endpoint named name, tuned by
// opts.FailuresToTrip and opts.OpenFor (their defaults when zero).
func NewBreaker(name string, opts Options) *Breaker {
	opts = opts.withDefaults()
	b := &Breaker{name: name, failuresToTrip: opts.FailuresToTrip, openFor: opts.OpenFor}
	b.cb = gobreaker.NewTwoStepCircuitBreaker[struct{}](gobreaker.Settings{
		Name:        name,
		MaxRequests: 1,
		Timeout:     opts.OpenFor,
		ReadyToTrip: func(c gobreaker.Counts) bool {
			return c.ConsecutiveFailures >= uint32(opts.FailuresToTrip)
		},
		IsExcluded: func(err error) bool { return err == errExcluded },
	})
	return b
}

// Name is the endpoint the breaker guards.
func (b *Breaker) Name() string { return b.name }

// Open says whether the breaker refuses requests now.
func (b *Breaker) Open() bool { return b.cb.State() == gobreaker.StateOpen }

// State is "closed", "half-open" or "open".
func (b *Breaker) State() string { return b.cb.State().String() }

// allow admits a request, or returns the error that explains why the
// breaker refuses it. done reports the request's outcome: nil, a storage
// failure (whose text, scrubbed, is kept), or errExcluded.
func (b *Breaker) allow() (done func(outcome error, scrubbed string), err error) {
	finish, err := b.cb.Allow()
	if err != nil {
		return nil, b.openError()
	}
	return func(outcome error, scrubbed string) {
		if outcome != nil && outcome != errExcluded {
			b.lastFailure.Store(&scrubbed)
		}
		finish(outcome)
	}, nil
}

func (b *Breaker) openError() error {
	last := "unknown"
	if p := b.lastFailure.Load(); p != nil {
		last = *p
	}
	return fmt.Errorf("%w: %d requests in a row failed, so kbackup sends no more for up to %s; last failure: %s",
		ErrStorageUnavailable, b.failuresToTrip, b.openFor, last)
}
