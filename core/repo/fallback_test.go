package repo

import (
	"context"
	"errors"
	"strings"
	"testing"
)

func TestOpenFirstWritable(t *testing.T) {
	ctx := context.Background()
	dead := Options{
		Location:    Location{Scheme: SchemeS3, Bucket: "primary", Endpoint: "http://" + closedPort(t), Region: "us-east-1"},
		Credentials: Credentials{AccessKeyID: "id", SecretAccessKey: "secret"},
		Create:      true,
		Storage:     StorageOptions{MaxAttempts: 2},
	}
	bucket := s3Store(t, sharedS3(t), "")
	bucket.opts.Create = true
	local := localStore(t)
	local.opts.Create = true

	r, failed, err := OpenFirstWritable(ctx, dead, []Options{bucket.opts, local.opts})
	if err != nil {
		t.Fatal(err)
	}
	if r.Location() != bucket.opts.Location {
		t.Errorf("chose %s; want the first fallback %s", r.Location(), bucket.opts.Location)
	}
	if len(failed) != 1 || failed[0].Location != dead.Location || !errors.Is(failed[0].Err, ErrStorageUnavailable) {
		t.Fatalf("failed attempts %+v", failed)
	}
	// The probe leaves nothing behind.
	if keys := listKeys(t, r.Backend(), ""); len(keys) != 1 {
		t.Errorf("the chosen bucket holds %q; want only _kbackup.json", keys)
	}

	// The primary, when it works, is chosen without trying the others.
	r, failed, err = OpenFirstWritable(ctx, local.opts, []Options{dead})
	if err != nil || len(failed) != 0 || !r.Location().IsLocal() {
		t.Errorf("working primary: %v, %v, %v", r, failed, err)
	}

	// A location without a repository, not to be created, is passed over.
	empty := localStore(t).opts
	r, failed, err = OpenFirstWritable(ctx, empty, []Options{local.opts})
	if err != nil || len(failed) != 1 || !errors.Is(failed[0].Err, ErrNoRepository) || r.Location() != local.opts.Location {
		t.Errorf("uncreated primary: %v, %+v, %v", r, failed, err)
	}

	// Nothing works: the error names every location and why.
	dead2 := dead
	dead2.Location.Bucket = "second"
	_, failed, err = OpenFirstWritable(ctx, dead, []Options{dead2})
	mustIs(t, err, ErrStorageUnavailable)
	if len(failed) != 2 {
		t.Errorf("%d failed attempts; want 2", len(failed))
	}
	for _, want := range []string{"no storage location accepts writes", "primary s3://primary?endpoint=", "fallback 1 s3://second?endpoint=", "connection refused"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %q", err, want)
		}
	}
}
