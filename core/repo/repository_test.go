package repo

import (
	"context"
	"strings"
	"testing"

	"github.com/kbackup/kbackup/core/storage"
)

func TestOpen(t *testing.T) {
	forEachStore(t, func(t *testing.T, s store) {
		ctx := context.Background()
		_, err := Open(ctx, s.opts)
		mustIs(t, err, ErrNoRepository)
		for _, want := range []string{"no kbackup repository at " + s.opts.Location.String(), "a backup creates one there"} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("error %q does not say %q", err, want)
			}
		}

		opts := s.opts
		opts.Create = true
		r, err := Open(ctx, opts)
		if err != nil {
			t.Fatal(err)
		}
		cfg := r.Config()
		if cfg.FormatVersion != 1 || cfg.Settings.Compression != "zstd" || cfg.Settings.Hash != "sha256" || cfg.ID == "" || cfg.CreatedAt.IsZero() {
			t.Errorf("new config %+v", cfg)
		}
		raw := string(s.rawGet(t, "_kbackup.json"))
		for _, want := range []string{`"formatVersion": 1`, `"compression": "zstd"`, `"createdAt": "`} {
			if !strings.Contains(raw, want) {
				t.Errorf("_kbackup.json lacks %s:\n%s", want, raw)
			}
		}

		// Opening again, with or without Create, finds the same one.
		for _, create := range []bool{false, true} {
			opts.Create = create
			again, err := Open(ctx, opts)
			if err != nil {
				t.Fatal(err)
			}
			if again.Config().ID != cfg.ID {
				t.Errorf("reopened repository has ID %s; want %s", again.Config().ID, cfg.ID)
			}
		}

		// A newer format is refused, saying so.
		s.rawPut(t, "_kbackup.json", []byte(`{"formatVersion": 2, "id": "x", "newField": true}`))
		_, err = Open(ctx, s.opts)
		mustIs(t, err, ErrUnsupportedFormat)
		if !strings.Contains(err.Error(), "format version 2") || !strings.Contains(err.Error(), "upgrade kbackup") {
			t.Errorf("newer format error: %v", err)
		}

		// A damaged config is reported as such.
		s.rawPut(t, "_kbackup.json", []byte(`{"formatVersion": 1, "id": "x"`))
		_, err = Open(ctx, s.opts)
		mustIs(t, err, ErrCorrupt)
		if !strings.Contains(err.Error(), "_kbackup.json") {
			t.Errorf("error does not name the file: %v", err)
		}
	})
}

// A repository is created only in an empty location, so that kbackup
// never mixes its objects with someone else's.
func TestOpenRefusesNonEmptyLocation(t *testing.T) {
	forEachStore(t, func(t *testing.T, s store) {
		s.rawPut(t, "photos/cat.jpg", []byte("meow"))
		opts := s.opts
		opts.Create = true
		_, err := Open(context.Background(), opts)
		mustIs(t, err, ErrNoRepository)
		if !strings.Contains(err.Error(), "photos/cat.jpg") || !strings.Contains(err.Error(), "not empty") {
			t.Errorf("error does not say why: %v", err)
		}
		// Under a prefix, the location is empty.
		if s.name == "s3" {
			opts.Location.Prefix = "kbackup"
			r := openRepo(t, opts)
			if _, err := r.Backend().Stat(context.Background(), "kbackup/_kbackup.json"); err != nil {
				t.Errorf("repository under a prefix: %v", err)
			}
		}
	})
}

func TestOpenMissingBucket(t *testing.T) {
	s3 := sharedS3(t)
	loc, err := storage.ParseURL(s3.RepositoryURL("kbackup-missing-bucket-" + strings.ToLower(NewID(mustTime(t, "2026-01-01T00:00:00Z"))[17:])))
	if err != nil {
		t.Fatal(err)
	}
	opts := Options{Location: loc, Credentials: storage.Credentials{AccessKeyID: s3.AccessKey, SecretAccessKey: s3.SecretKey}}
	ctx := context.Background()

	_, err = Open(ctx, opts)
	mustIs(t, err, ErrNoRepository)

	opts.Create = true
	_, err = Open(ctx, opts)
	mustIs(t, err, storage.ErrBucketNotFound)
	if !strings.Contains(err.Error(), "auto_create_bucket") {
		t.Errorf("error does not say how to create the bucket: %v", err)
	}

	opts.AutoCreateBucket = true
	r, err := Open(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Probe(ctx); err != nil {
		t.Fatal(err)
	}
	if keys := listKeys(t, r.Backend(), ""); len(keys) != 1 || keys[0] != "_kbackup.json" {
		t.Errorf("after a probe the bucket holds %q", keys)
	}
}

// Two processes creating one repository at once end with one config.
func TestOpenCreateRace(t *testing.T) {
	forEachStore(t, func(t *testing.T, s store) {
		opts := s.opts
		opts.Create = true
		ids := make(chan string, 4)
		errs := make(chan error, 4)
		for range 4 {
			go func() {
				r, err := Open(context.Background(), opts)
				if err != nil {
					errs <- err
					return
				}
				ids <- r.Config().ID
			}()
		}
		seen := map[string]bool{}
		for range 4 {
			select {
			case id := <-ids:
				seen[id] = true
			case err := <-errs:
				t.Fatal(err)
			}
		}
		if len(seen) != 1 {
			t.Errorf("creators saw %d repository IDs; want 1", len(seen))
		}
	})
}
