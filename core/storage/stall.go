package storage

import (
	"context"
	"io"
	"sync/atomic"
	"time"
)

// stallWatch cancels a request's context when the request makes no
// progress for a while. minio-go bounds each attempt's dial and wait for
// headers, but not a whole request with its retries, nor a body that stops
// flowing; this does, so that a server that accepts connections and then
// hangs fails a request in StallTimeout rather than in minutes.
type stallWatch struct {
	timer   *time.Timer
	timeout time.Duration
	cancel  context.CancelFunc
	didFire atomic.Bool
}

type progressKey struct{}

func watchStalls(ctx context.Context, timeout time.Duration) (context.Context, *stallWatch) {
	ctx, cancel := context.WithCancel(ctx)
	w := &stallWatch{timeout: timeout, cancel: cancel}
	w.timer = time.AfterFunc(timeout, func() {
		w.didFire.Store(true)
		cancel()
	})
	return context.WithValue(ctx, progressKey{}, w.progress), w
}

// progress pushes the deadline back.
func (w *stallWatch) progress() {
	if !w.didFire.Load() {
		w.timer.Reset(w.timeout)
	}
}

func (w *stallWatch) stop() {
	w.timer.Stop()
	w.cancel()
}

func (w *stallWatch) fired() bool { return w.didFire.Load() }

// progressFrom returns the function that reports progress of the request
// whose context this is; a no-op outside call.
func progressFrom(ctx context.Context) func() {
	if f, ok := ctx.Value(progressKey{}).(func()); ok {
		return f
	}
	return func() {}
}

// stalledError is a request cancelled for making no progress: a storage
// failure, unlike a cancellation by the caller.
type stalledError struct{ err error }

func (e *stalledError) Error() string { return e.err.Error() }
func (e *stalledError) Unwrap() error { return e.err }

// progressReader reports each read that returns bytes.
type progressReader struct {
	r        io.Reader
	progress func()
}

func (p progressReader) Read(b []byte) (int, error) {
	n, err := p.r.Read(b)
	if n > 0 {
		p.progress()
	}
	return n, err
}
