package repo

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/kbackup/kbackup/core/storage"
	"github.com/kbackup/kbackup/core/testenv"
)

// When the S3 server stops, a request fails with storage.ErrStorageUnavailable
// within the retry budget, naming the pack and the location; once the
// breaker has seen enough failures, requests fail at once.
func TestStoppedS3Server(t *testing.T) {
	env := testenv.Start(t, testenv.Options{S3: true})
	s := s3Store(t, env.S3, "")
	ctx := context.Background()
	r := openRepo(t, s.opts)
	spec := PackSpec{Cluster: "prod-eu", Namespace: "payments", Resource: "configmaps"}
	if _, _, err := r.WritePack(ctx, spec, packContent("ConfigMap", "before"), nil); err != nil {
		t.Fatal(err)
	}

	env.S3.Stop()
	const budget = 20 * time.Second
	var timings []time.Duration
	var err error
	for i := range 3 { // storage.Options.FailuresToTrip
		start := time.Now()
		_, _, err = r.WritePack(ctx, spec, packContent("ConfigMap", fmt.Sprint("after-", i)), nil)
		timings = append(timings, time.Since(start))
		mustIs(t, err, storage.ErrStorageUnavailable)
		if timings[i] > budget {
			t.Errorf("request %d against a stopped server took %s; the budget is %s", i, timings[i], budget)
		}
	}
	for _, want := range []string{"writing pack prod-eu/payments/configmaps/", ".yaml.zst to s3://" + s.opts.Location.Bucket + " (" + env.S3.Endpoint + ")", "storage unavailable (gave up after", "connection refused"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %q", err, want)
		}
	}

	// The breaker is open: every call fails at once, and says why.
	start := time.Now()
	for range 100 {
		_, err = r.ReadManifest(ctx, "prod-eu", "b1")
		mustIs(t, err, storage.ErrStorageUnavailable)
	}
	fast := time.Since(start)
	// "At once" is measured against this machine, now: a request that
	// tried the server (its retries and their backoff) took timings[i];
	// a request refused by the open breaker must cost a small fraction of
	// the fastest of them, whatever the load on the machine.
	if slowest := slices.Min(timings) / 10; fast/100 > slowest {
		t.Errorf("with the breaker open a request took %s on average; want under %s, a tenth of the fastest request that tried the server (%v)", fast/100, slowest, timings)
	}
	if !strings.Contains(err.Error(), "3 requests in a row failed") || !strings.Contains(err.Error(), "connection refused") {
		t.Errorf("open-breaker error does not say why: %v", err)
	}
	t.Logf("stopped server: the first 3 requests failed after %v; then 100 requests failed in %s", timings, fast)
	t.Logf("error: %v", err)
}

// No error shows a credential: not with wrong credentials, not with the
// server gone, whatever the operation.
func TestNoCredentialInErrors(t *testing.T) {
	env := testenv.Start(t, testenv.Options{S3: true})
	ctx := context.Background()
	const markerID, markerSecret, markerToken = "AKIAKBACKUPMARKER01", "kbackup-marker-secret-7f3e9", "kbackup-marker-token-51d0c"
	bucket := env.S3.NewBucket(t)
	loc, err := storage.ParseURL(env.S3.RepositoryURL(bucket))
	if err != nil {
		t.Fatal(err)
	}
	secrets := []string{markerID, markerSecret, markerToken, env.S3.SecretKey, env.S3.AccessKey}
	var messages []string
	collect := func(err error) {
		if err != nil {
			messages = append(messages, err.Error(), fmt.Sprintf("%+v", err), fmt.Sprintf("%#v", err))
		}
	}
	exercise := func(creds storage.Credentials) {
		opts := Options{Location: loc, Credentials: creds, Create: true, AutoCreateBucket: true, Storage: storage.Options{MaxAttempts: 2}}
		_, err := Open(ctx, opts)
		collect(err)
		c := NewChooser(opts, opts)
		_, err = c.Repository(ctx)
		collect(err)
		for _, f := range c.Attempts() {
			collect(f.Err)
		}
		b, err := storage.Open(loc, creds, storage.Options{MaxAttempts: 2})
		if err != nil {
			collect(err)
			return
		}
		_, err = b.Get(ctx, "k.json")
		collect(err)
		collect(b.Put(ctx, "k.json", []byte("x")))
		collect(b.PutIfAbsent(ctx, "k2.json", []byte("x")))
		_, err = b.Stat(ctx, "k.json")
		collect(err)
		for _, err := range b.List(ctx, "") {
			collect(err)
		}
		collect(b.Delete(ctx, "k.json"))
		messages = append(messages, b.String(), fmt.Sprintf("%+v", opts))
	}

	// Wrong access key; right access key with a wrong secret; a token.
	exercise(storage.Credentials{AccessKeyID: markerID, SecretAccessKey: markerSecret, SessionToken: markerToken})
	exercise(storage.Credentials{AccessKeyID: env.S3.AccessKey, SecretAccessKey: markerSecret})
	// The same from the environment, through the credentials chain.
	t.Setenv("AWS_ACCESS_KEY_ID", markerID)
	t.Setenv("AWS_SECRET_ACCESS_KEY", markerSecret)
	exercise(storage.Credentials{})
	n := len(messages)
	// And with the server gone.
	env.S3.Stop()
	exercise(storage.Credentials{AccessKeyID: env.S3.AccessKey, SecretAccessKey: env.S3.SecretKey})

	if n < 30 || len(messages)-n < 10 {
		t.Fatalf("only %d messages collected", len(messages))
	}
	for _, msg := range messages {
		for _, s := range secrets {
			if strings.Contains(msg, s) {
				t.Errorf("a message shows the credential %q: %s", s, msg)
			}
		}
	}
	denied := false
	for _, msg := range messages[:n] {
		if strings.Contains(msg, "check the credentials") {
			denied = true
		}
	}
	if !denied {
		t.Errorf("no error says to check the credentials: %q", messages[:3])
	}
	scrubbed := 0
	for _, msg := range messages {
		if strings.Contains(msg, "REDACTED") {
			scrubbed++
		}
	}
	t.Logf("%d messages checked, %d had a credential scrubbed; e.g. %s", len(messages), scrubbed, messages[0])
}
