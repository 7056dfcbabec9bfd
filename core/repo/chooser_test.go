package repo

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/kbackup/kbackup/core/storage"
	"github.com/kbackup/kbackup/core/testenv"
)

// The chooser takes the first location that opens and accepts a write
// probe, probes it once for the whole run, and moves on when told that it
// failed.
func TestChooser(t *testing.T) {
	ctx := context.Background()
	dead := Options{
		Location:    storage.Location{Scheme: storage.SchemeS3, Bucket: "primary", Endpoint: "http://" + testenv.ClosedAddress(t), Region: "us-east-1"},
		Credentials: storage.Credentials{AccessKeyID: "id", SecretAccessKey: "secret"},
		Create:      true,
		Storage:     storage.Options{MaxAttempts: 2},
	}
	bucket := s3Store(t, sharedS3(t), "")
	bucket.opts.Create = true
	local := localStore(t)
	local.opts.Create = true

	c := NewChooser(dead, bucket.opts, local.opts)
	r, err := c.Repository(ctx)
	if err != nil {
		t.Fatal(err)
	}
	failed := c.Attempts()
	if r.Location() != bucket.opts.Location {
		t.Errorf("chose %s; want the first fallback %s", r.Location(), bucket.opts.Location)
	}
	if len(failed) != 1 || failed[0].Location != dead.Location || !errors.Is(failed[0].Err, storage.ErrStorageUnavailable) {
		t.Fatalf("failed attempts %+v", failed)
	}
	// The probe leaves nothing behind.
	if keys := listKeys(t, r.Backend(), ""); len(keys) != 1 {
		t.Errorf("the chosen bucket holds %q; want only _kbackup.json", keys)
	}

	// Asked again, the chooser answers without a request.
	if again, err := c.Repository(ctx); err != nil || again != r {
		t.Errorf("second Repository = %v, %v; want the same repository", again, err)
	}
	if st := c.Stats(); st.Opens != 2 || st.Probes != 1 || st.Switches != 1 || st.Failures != 1 || st.Breakers != 2 {
		t.Errorf("stats %+v; want 2 opens, 1 probe, 1 switch, 1 failure and 2 breakers (one per S3 endpoint)", st)
	}
	// A failure during the run moves it to the next location.
	if !c.Fail(r, storage.ErrStorageUnavailable) {
		t.Fatal("Fail says no location is left; the local one is")
	}
	c.Fail(r, storage.ErrStorageUnavailable) // a second report of the same failure changes nothing
	if r2, err := c.Repository(ctx); err != nil || !r2.Location().IsLocal() {
		t.Errorf("after the failure: %v, %v; want the local fallback", r2, err)
	}
	if st := c.Stats(); st.Switches != 2 || st.Failures != 2 || len(c.Attempts()) != 2 {
		t.Errorf("stats after the failure %+v, attempts %v", st, c.Attempts())
	}

	// The primary, when it works, is chosen without trying the others.
	c = NewChooser(local.opts, dead)
	r, err = c.Repository(ctx)
	if failed := c.Attempts(); err != nil || len(failed) != 0 || !r.Location().IsLocal() {
		t.Errorf("working primary: %v, %v, %v", r, failed, err)
	}

	// A location without a repository, not to be created, is passed over.
	empty := localStore(t).opts
	c = NewChooser(empty, local.opts)
	r, err = c.Repository(ctx)
	failed = c.Attempts()
	if err != nil || len(failed) != 1 || !errors.Is(failed[0].Err, ErrNoRepository) || r.Location() != local.opts.Location {
		t.Errorf("uncreated primary: %v, %+v, %v", r, failed, err)
	}

	// Nothing works: the error names every location and why.
	dead2 := dead
	dead2.Location.Bucket = "second"
	c = NewChooser(dead, dead2)
	_, err = c.Repository(ctx)
	failed = c.Attempts()
	if st := c.Stats(); st.Breakers != 1 || len(c.Breakers()) != 1 || st.Probes != 0 {
		t.Errorf("two buckets of one server: stats %+v; want one breaker for the endpoint and no probe", st)
	}
	mustIs(t, err, storage.ErrStorageUnavailable)
	if len(failed) != 2 {
		t.Errorf("%d failed attempts; want 2", len(failed))
	}
	for _, want := range []string{"no storage location accepts writes", "primary s3://primary?endpoint=", "fallback 1 s3://second?endpoint=", "connection refused"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %q", err, want)
		}
	}
}
