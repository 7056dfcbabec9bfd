package testenv

import (
	"bytes"
	"context"
	"flag"
	"io"
	"net/http"
	"sync"
	"testing"

	"k8s.io/klog/v2"
)

// Requests cancelled in flight, and what client-go logs about them.

// HoldUntilCancelled wraps a transport (a rest.Config's WrapTransport): the
// response to each request that match accepts is held, after its headers,
// until the request's context is done, and then returned with a body whose
// reads fail with the context's error, as net/http's do once a cancelled
// response's buffered bytes run out. held receives each request as it is
// held, without blocking. Requests are cancelled mid-response this way
// however fast the API server answers.
func HoldUntilCancelled(match func(*http.Request) bool, held chan<- *http.Request) func(http.RoundTripper) http.RoundTripper {
	return func(rt http.RoundTripper) http.RoundTripper {
		return roundTripperFunc(func(req *http.Request) (*http.Response, error) {
			resp, err := rt.RoundTrip(req)
			if err != nil || !match(req) {
				return resp, err
			}
			select {
			case held <- req:
			default:
			}
			<-req.Context().Done()
			resp.Body = cancelledBody{resp.Body, req.Context()}
			return resp, nil
		})
	}
}

type roundTripperFunc func(*http.Request) (*http.Response, error)

func (f roundTripperFunc) RoundTrip(req *http.Request) (*http.Response, error) { return f(req) }

type cancelledBody struct {
	io.ReadCloser
	ctx context.Context
}

func (b cancelledBody) Read(p []byte) (int, error) {
	if err := b.ctx.Err(); err != nil {
		return 0, err
	}
	return b.ReadCloser.Read(p)
}

// LockedBuffer is a bytes.Buffer that goroutines may write while a test
// reads it: a program's output, klog's.
type LockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *LockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// String returns what was written so far.
func (b *LockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// KlogOutput is what klog wrote while a test captured it.
type KlogOutput struct{ LockedBuffer }

// String flushes klog and returns what it wrote so far.
func (o *KlogOutput) String() string {
	klog.Flush()
	return o.LockedBuffer.String()
}

// CaptureKlog sends klog's output (client-go's logs) to the returned buffer,
// and not to stderr, until t ends. klog's output is the process's: tests
// that capture it must not run in parallel with tests that log.
func CaptureKlog(t testing.TB) *KlogOutput {
	t.Helper()
	flags := flag.NewFlagSet("klog", flag.ContinueOnError)
	klog.InitFlags(flags)
	set := func(name, value string) {
		if err := flags.Set(name, value); err != nil {
			t.Fatal(err)
		}
	}
	out := &KlogOutput{}
	set("logtostderr", "false")
	set("stderrthreshold", "FATAL")
	klog.SetOutput(out)
	t.Cleanup(func() {
		klog.Flush()
		klog.SetOutput(io.Discard)
		set("stderrthreshold", "ERROR")
		set("logtostderr", "true")
	})
	return out
}
