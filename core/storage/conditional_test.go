package storage

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync/atomic"
	"testing"

	"github.com/kbackup/kbackup/core/testenv"
)

// dropFirstConditionalResponse is an HTTP proxy in front of the S3 server
// that forwards the first conditional PUT (If-None-Match) and then closes
// the client's connection without its response: the write landed, and
// the client, seeing a transport error, retries it.
func dropFirstConditionalResponse(t *testing.T, s3 *testenv.S3Server) (endpoint string, dropped *atomic.Int32) {
	t.Helper()
	target, err := url.Parse("http://" + s3.Host())
	if err != nil {
		t.Fatal(err)
	}
	dropped = new(atomic.Int32)
	transport := &http.Transport{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		out := req.Clone(req.Context())
		out.URL.Scheme, out.URL.Host, out.RequestURI = target.Scheme, target.Host, ""
		resp, err := transport.RoundTrip(out)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		defer resp.Body.Close()
		if req.Method == http.MethodPut && req.Header.Get("If-None-Match") != "" && dropped.Add(1) == 1 {
			conn, _, err := w.(http.Hijacker).Hijack()
			if err == nil {
				conn.Close()
			}
			return
		}
		for k, v := range resp.Header {
			w.Header()[k] = v
		}
		w.WriteHeader(resp.StatusCode)
		_, _ = io.Copy(w, resp.Body)
	}))
	t.Cleanup(srv.Close)
	return srv.URL, dropped
}

// A conditional write whose response is lost is retried by minio-go; the
// retry finds the object its first attempt wrote and gets 412. That is a
// success, not a conflict: PutIfAbsent reads the object back and
// compares.
func TestRetriedConditionalWriteThatLandedSucceeds(t *testing.T) {
	s3 := sharedS3(t)
	s := s3Store(t, s3)
	endpoint, dropped := dropFirstConditionalResponse(t, s3)
	s.loc.Endpoint = endpoint
	b, err := Open(s.loc, s.creds, Options{})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := b.PutIfAbsent(ctx, "c1/_backups/b1.json", []byte(`{"id":"b1"}`)); err != nil {
		t.Fatalf("a conditional write whose first attempt landed failed: %v", err)
	}
	if n := dropped.Load(); n < 2 {
		t.Fatalf("the proxy saw %d conditional PUTs; the test needs the first dropped and a retry", n)
	}
	// A real conflict is still one.
	err = b.PutIfAbsent(ctx, "c1/_backups/b1.json", []byte(`{"id":"other"}`))
	if !errors.Is(err, ErrAlreadyExists) {
		t.Fatalf("a conditional write over other data: %v; want ErrAlreadyExists", err)
	}
}
