package storage

import (
	"context"
	"errors"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/kbackup/kbackup/core/testenv"
)

// An unreachable endpoint (nothing listening) fails the same way, and a
// cancelled context is not counted against the storage.
func TestUnreachableEndpoint(t *testing.T) {
	loc := Location{Scheme: SchemeS3, Bucket: "backups", Endpoint: "http://" + testenv.ClosedAddress(t)}
	b, err := Open(loc, Credentials{AccessKeyID: "id", SecretAccessKey: "secret"}, Options{FailuresToTrip: 2})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	for range 5 {
		_, err := b.Get(ctx, "x.json")
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("Get with a cancelled context: %v", err)
		}
	}
	if state := b.(*s3Backend).breaker.State(); state != "closed" {
		t.Errorf("cancelled requests opened the breaker: %s", state)
	}
	start := time.Now()
	_, err = b.Get(context.Background(), "x.json")
	mustIs(t, err, ErrStorageUnavailable)
	t.Logf("unreachable endpoint: failed after %s: %v", time.Since(start), err)
}

// A server that accepts connections and never answers fails a request
// after StallTimeout, retries included, not after minutes.
func TestHungS3Server(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			conn, err := l.Accept()
			if err != nil {
				return
			}
			// Read the request, never answer.
			go func() {
				defer conn.Close()
				buf := make([]byte, 64<<10)
				for {
					if _, err := conn.Read(buf); err != nil {
						return
					}
				}
			}()
		}
	}()
	loc := Location{Scheme: SchemeS3, Bucket: "backups", Endpoint: "http://" + l.Addr().String(), Region: "us-east-1"}
	const stall = 2 * time.Second
	b, err := Open(loc, Credentials{AccessKeyID: "id", SecretAccessKey: "secret"}, Options{StallTimeout: stall})
	if err != nil {
		t.Fatal(err)
	}
	// The baseline: a request answered at once (404) by a real S3 server,
	// timed now, tells how slow this machine is at the moment.
	healthy := s3Store(t, sharedS3(t))
	hb, err := Open(healthy.loc, healthy.creds, Options{})
	if err != nil {
		t.Fatal(err)
	}
	var baseline time.Duration
	for range 3 {
		start := time.Now()
		if _, err := hb.Get(context.Background(), "no-such-key.json"); !errors.Is(err, ErrNotFound) {
			t.Fatalf("Get of a missing key from a working server: %v", err)
		}
		baseline = max(baseline, time.Since(start))
	}
	for name, request := range map[string]func() error{
		"get": func() error { _, err := b.Get(context.Background(), "x.json"); return err },
		"put": func() error { return b.Put(context.Background(), "x.json", make([]byte, 1<<10)) },
	} {
		start := time.Now()
		err := request()
		took := time.Since(start)
		mustIs(t, err, ErrStorageUnavailable)
		if !strings.Contains(err.Error(), "no progress for") {
			t.Errorf("%s: error does not say it stalled: %v", name, err)
		}
		// Not before the stall timeout; after it, within a margin of a
		// second plus a hundred times what an answered request takes
		// on this machine now.
		if limit := stall + time.Second + 100*baseline; took < stall || took > limit {
			t.Errorf("%s against a hung server failed after %s; want between %s and %s (a request answered at once took %s)", name, took, stall, limit, baseline)
		}
		t.Logf("%s against a hung server: failed after %s: %v", name, took, err)
	}
}

// Backends that share a breaker (two buckets of one endpoint in one run)
// trip together: failures of one stop requests of the other at once.
func TestSharedBreaker(t *testing.T) {
	endpoint := "http://" + testenv.ClosedAddress(t)
	opts := Options{FailuresToTrip: 2, MaxAttempts: 1}
	opts.Breaker = NewBreaker(endpoint, opts)
	open := func(bucket string) Backend {
		b, err := Open(Location{Scheme: SchemeS3, Bucket: bucket, Endpoint: endpoint, Region: "us-east-1"}, Credentials{AccessKeyID: "id", SecretAccessKey: "secret"}, opts)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	first, second := open("first"), open("second")
	for range 2 {
		_, err := first.Get(context.Background(), "x.json")
		mustIs(t, err, ErrStorageUnavailable)
	}
	if !opts.Breaker.Open() || opts.Breaker.Name() != endpoint {
		t.Fatalf("breaker %s is %s after two failures; want open", opts.Breaker.Name(), opts.Breaker.State())
	}
	start := time.Now()
	_, err := second.Get(context.Background(), "x.json")
	mustIs(t, err, ErrStorageUnavailable)
	if took := time.Since(start); took > 100*time.Millisecond || !strings.Contains(err.Error(), "2 requests in a row failed") {
		t.Errorf("the other bucket's request took %s: %v; want it refused at once by the shared breaker", took, err)
	}
}
