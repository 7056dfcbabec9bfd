package repo

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/kbackup/kbackup/core/storage"
	"github.com/kbackup/kbackup/core/testenv"
)

// ignoringConditionalWrites is an S3 endpoint that forwards to the real
// server without If-None-Match, as a server that does not implement
// conditional writes behaves.
func ignoringConditionalWrites(t *testing.T, s3 *testenv.S3Server) string {
	t.Helper()
	target, err := url.Parse("http://" + s3.Host())
	if err != nil {
		t.Fatal(err)
	}
	transport := &http.Transport{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		out := req.Clone(req.Context())
		out.URL.Scheme, out.URL.Host, out.RequestURI = target.Scheme, target.Host, ""
		// Signed headers must stay as signed: the server checks the
		// signature, then this proxy plays a server that ignores the
		// condition by answering as if it were absent.
		conditional := out.Header.Get("If-None-Match") != ""
		resp, err := transport.RoundTrip(out)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		defer resp.Body.Close()
		if conditional && resp.StatusCode == http.StatusPreconditionFailed {
			w.WriteHeader(http.StatusOK)
			return
		}
		for k, v := range resp.Header {
			w.Header()[k] = v
		}
		w.WriteHeader(resp.StatusCode)
		_, _ = io.Copy(w, resp.Body)
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

// Creating a repository checks that the server honours If-None-Match: *,
// and refuses one that does not unless the user accepts it.
func TestCreateRefusesServerWithoutConditionalWrites(t *testing.T) {
	s3 := sharedS3(t)
	s := s3Store(t, s3, "")
	opts := s.opts
	opts.Location.Endpoint = ignoringConditionalWrites(t, s3)
	opts.Create = true
	ctx := context.Background()
	_, err := Open(ctx, opts)
	if !errors.Is(err, ErrConditionalWritesUnsupported) {
		t.Fatalf("creating a repository on a server that ignores If-None-Match: %v; want ErrConditionalWritesUnsupported", err)
	}
	for _, want := range []string{"If-None-Match", "--allow-unconditional-writes"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("the error does not say %q: %v", want, err)
		}
	}
	b, err := storage.Open(s.opts.Location, s.opts.Credentials, storage.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if keys := listKeys(t, b, ""); len(keys) != 0 {
		t.Errorf("a refused creation left %q", keys)
	}

	opts.AllowUnconditionalWrites = true
	if _, err := Open(ctx, opts); err != nil {
		t.Fatalf("with AllowUnconditionalWrites: %v", err)
	}
	// The real server honours them: no flag needed.
	if _, err := Open(ctx, Options{Location: s3Store(t, s3, "").opts.Location, Credentials: s.opts.Credentials, Create: true}); err != nil {
		t.Fatalf("creating on the real server: %v", err)
	}
}
