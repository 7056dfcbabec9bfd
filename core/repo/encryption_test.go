package repo

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/kbackup/kbackup/core/storage"
)

// sseRecorder is an HTTP proxy in front of the real S3 server that records
// the server-side encryption headers of every request, since the test
// server (like some S3-compatible servers in use) accepts them but does
// not act on them.
type sseRecorder struct {
	mu       sync.Mutex
	requests []recordedRequest
}

type recordedRequest struct {
	method, key string
	sse, kmsKey string // X-Amz-Server-Side-Encryption[-Aws-Kms-Key-Id]
	customerAlg string // X-Amz-Server-Side-Encryption-Customer-Algorithm
	customerKey string // X-Amz-Server-Side-Encryption-Customer-Key
}

func (r *sseRecorder) start(t *testing.T, target string) string {
	u, err := url.Parse(target)
	if err != nil {
		t.Fatal(err)
	}
	proxy := httputil.NewSingleHostReverseProxy(u)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		r.mu.Lock()
		r.requests = append(r.requests, recordedRequest{
			method:      req.Method,
			key:         req.URL.Path,
			sse:         req.Header.Get("X-Amz-Server-Side-Encryption"),
			kmsKey:      req.Header.Get("X-Amz-Server-Side-Encryption-Aws-Kms-Key-Id"),
			customerAlg: req.Header.Get("X-Amz-Server-Side-Encryption-Customer-Algorithm"),
			customerKey: req.Header.Get("X-Amz-Server-Side-Encryption-Customer-Key"),
		})
		r.mu.Unlock()
		proxy.ServeHTTP(w, req)
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

func (r *sseRecorder) take() []recordedRequest {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := r.requests
	r.requests = nil
	return out
}

// objectRequests are the GETs, HEADs and PUTs of objects (not listings or
// bucket requests).
func objectRequests(all []recordedRequest) []recordedRequest {
	var out []recordedRequest
	for _, q := range all {
		if strings.Count(strings.Trim(q.key, "/"), "/") >= 1 && q.method != http.MethodDelete {
			out = append(out, q)
		}
	}
	return out
}

func TestServerSideEncryption(t *testing.T) {
	ctx := context.Background()
	s3 := sharedS3(t)
	key := bytes.Repeat([]byte{0x5a}, 32)
	keyB64 := base64.StdEncoding.EncodeToString(key)

	newStore := func(t *testing.T, rec *sseRecorder) store {
		st := s3Store(t, s3, "team")
		st.opts.Location.Endpoint = rec.start(t, s3.Endpoint)
		return st
	}
	writeAndRead := func(t *testing.T, r *Repository) {
		t.Helper()
		if err := r.Probe(ctx); err != nil {
			t.Fatalf("probe: %v", err)
		}
		k := r.Layout().Prefix() + "c1/data/object.bin"
		if err := r.Backend().Put(ctx, k, []byte("payload")); err != nil {
			t.Fatal(err)
		}
		if data, err := r.Backend().Get(ctx, k); err != nil || string(data) != "payload" {
			t.Fatalf("read back %q, %v", data, err)
		}
	}

	t.Run("sse-c sends the key with every object request but the config's", func(t *testing.T) {
		rec := &sseRecorder{}
		st := newStore(t, rec)
		opts := st.opts
		opts.Storage.Encryption = storage.Encryption{Mode: storage.EncryptionSSEC, CustomerKey: key}
		opts.AcceptUnverifiedEncryption = true
		r := openRepo(t, opts)
		writeAndRead(t, r)
		reqs := objectRequests(rec.take())
		if len(reqs) < 4 {
			t.Fatalf("only %d object requests recorded: %+v", len(reqs), reqs)
		}
		for _, q := range reqs {
			isConfig := strings.HasSuffix(q.key, "/"+configName)
			if isConfig && q.customerAlg != "" {
				t.Errorf("%s %s sent the customer key; the config is left out of SSE-C", q.method, q.key)
			}
			if !isConfig && (q.customerAlg != "AES256" || q.customerKey != keyB64) {
				t.Errorf("%s %s without the customer key (algorithm %q)", q.method, q.key, q.customerAlg)
			}
		}
		raw := st.rawGet(t, r.Layout().Config())
		if !strings.Contains(string(raw), `"mode": "sse-c"`) || !strings.Contains(string(raw), (storage.Encryption{Mode: storage.EncryptionSSEC, CustomerKey: key}).CustomerKeySHA256()) {
			t.Errorf("_kbackup.json does not record sse-c and the key's SHA-256:\n%s", raw)
		}
		if strings.Contains(string(raw), keyB64) {
			t.Errorf("_kbackup.json holds the key:\n%s", raw)
		}

		// Opened again: without the key, with another key, with another
		// mode: refused, naming what to do.
		for name, enc := range map[string]storage.Encryption{
			"no key":     {},
			"other key":  {Mode: storage.EncryptionSSEC, CustomerKey: bytes.Repeat([]byte{1}, 32)},
			"other mode": {Mode: storage.EncryptionSSES3},
		} {
			o := st.opts
			o.Storage.Encryption = enc
			_, err := Open(ctx, o)
			if !errors.Is(err, storage.ErrInvalid) {
				t.Errorf("%s: opened (%v)", name, err)
				continue
			}
			if strings.Contains(err.Error(), keyB64) {
				t.Errorf("%s: the error shows the key: %v", name, err)
			}
			t.Logf("%s: %v", name, err)
		}
	})

	t.Run("sse-kms is used by a writer that asks for none", func(t *testing.T) {
		rec := &sseRecorder{}
		st := newStore(t, rec)
		opts := st.opts
		opts.Storage.Encryption = storage.Encryption{Mode: storage.EncryptionSSEKMS, KMSKeyID: "backup-key"}
		opts.AcceptUnverifiedEncryption = true
		openRepo(t, opts)
		rec.take()

		plain := st.opts
		plain.AcceptUnverifiedEncryption = true
		r, err := Open(ctx, plain)
		if err != nil {
			t.Fatal(err)
		}
		writeAndRead(t, r)
		puts := 0
		for _, q := range objectRequests(rec.take()) {
			if q.method != http.MethodPut {
				continue
			}
			puts++
			if q.sse != "aws:kms" || q.kmsKey != "backup-key" {
				t.Errorf("PUT %s with encryption %q key %q, want aws:kms backup-key (the repository's)", q.key, q.sse, q.kmsKey)
			}
		}
		if puts < 2 {
			t.Errorf("%d PUTs recorded, want the probe and the object", puts)
		}
	})

	t.Run("a server that does not report the encryption is refused", func(t *testing.T) {
		st := s3Store(t, s3, "")
		opts := st.opts
		opts.Storage.Encryption = storage.Encryption{Mode: storage.EncryptionSSES3}
		opts.Create = true
		_, err := Open(ctx, opts)
		if !errors.Is(err, storage.ErrInvalid) || !strings.Contains(err.Error(), "reports server-side encryption none") ||
			!strings.Contains(err.Error(), "accept_unverified") {
			t.Fatalf("creating on a server that ignores SSE: %v", err)
		}
		// Nothing was recorded: the location can still be created without
		// encryption, or with it accepted.
		opts.Storage.Encryption = storage.Encryption{}
		r := openRepo(t, opts)
		if r.Config().Settings.Encryption != nil {
			t.Errorf("encryption recorded: %+v", r.Config().Settings.Encryption)
		}
	})

	t.Run("a local repository has none", func(t *testing.T) {
		opts := localStore(t).opts
		opts.Storage.Encryption = storage.Encryption{Mode: storage.EncryptionSSES3}
		opts.Create = true
		if _, err := Open(ctx, opts); !errors.Is(err, storage.ErrInvalid) || !strings.Contains(err.Error(), "is for S3 repositories") {
			t.Errorf("local with sse-s3: %v", err)
		}
	})
}
