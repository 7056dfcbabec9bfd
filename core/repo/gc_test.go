package repo

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/kbackup/kbackup/core/storage"
)

func packExists(t testing.TB, r *Repository, p PackEntry) bool {
	t.Helper()
	_, err := r.Backend().Stat(context.Background(), r.Layout().Prefix()+p.Key)
	if err != nil && !errors.Is(err, storage.ErrNotFound) {
		t.Fatal(err)
	}
	return err == nil
}

func deletedKeys(report *GCReport) []string {
	var keys []string
	for _, o := range report.Deleted {
		keys = append(keys, o.Key)
	}
	slices.Sort(keys)
	return keys
}

func TestDeleteBackupCollectsGarbage(t *testing.T) {
	forEachStore(t, func(t *testing.T, s store) {
		ctx := context.Background()
		opts := s.opts
		opts.GCGracePeriod = time.Nanosecond // every pack is old enough
		r := openRepo(t, opts)
		shared := writeTestPack(t, r, "prod-eu", "payments", "a")
		only1 := writeTestPack(t, r, "prod-eu", "payments", "b")
		only2 := writeTestPack(t, r, "prod-eu", "shop", "c")
		orphan := writeTestPack(t, r, "prod-eu", "shop", "left-by-a-dead-backup")
		otherCluster := writeTestPack(t, r, "prod-eu2", "payments", "a")
		base := mustTime(t, "2026-03-01T02:00:00Z")
		for _, m := range []*Manifest{
			testManifest("prod-eu", "b1", base, PhaseCompleted, shared, only1),
			testManifest("prod-eu", "b2", base.Add(time.Hour), PhaseCompleted, shared, only2),
		} {
			if err := r.CommitBackup(ctx, m); err != nil {
				t.Fatal(err)
			}
		}

		// A dry run says what deleting b2 would free, and frees nothing.
		plan, err := r.CollectGarbage(ctx, "prod-eu", GCOptions{DryRun: true, Without: []string{"b2"}})
		if err != nil {
			t.Fatal(err)
		}
		if got, want := deletedKeys(plan), sortedKeys(only2, orphan); !slices.Equal(got, want) {
			t.Errorf("dry run would delete %q; want %q", got, want)
		}
		if !packExists(t, r, only2) || !packExists(t, r, orphan) {
			t.Fatal("a dry run deleted packs")
		}

		report, err := r.DeleteBackup(ctx, "prod-eu", "b1")
		if err != nil {
			t.Fatal(err)
		}
		if got, want := deletedKeys(report), sortedKeys(only1, orphan); !slices.Equal(got, want) {
			t.Errorf("deleted %q; want %q", got, want)
		}
		if report.BytesDeleted != only1.Size+orphan.Size || report.Referenced != 2 || report.DeletedManifest != "prod-eu/_backups/b1.json" {
			t.Errorf("report %+v", report)
		}
		for _, p := range []PackEntry{shared, only2, otherCluster} {
			if !packExists(t, r, p) {
				t.Errorf("pack %s, still in use, was deleted", p.Key)
			}
		}
		for _, p := range []PackEntry{only1, orphan} {
			if packExists(t, r, p) {
				t.Errorf("pack %s is still there", p.Key)
			}
		}
		if _, err := r.ReadManifest(ctx, "prod-eu", "b1"); !errors.Is(err, storage.ErrNotFound) {
			t.Errorf("manifest b1 after delete: %v", err)
		}
		// The remaining backup restores whole.
		for _, p := range []PackEntry{shared, only2} {
			if _, err := r.ReadPack(ctx, p.PackRef); err != nil {
				t.Error(err)
			}
		}

		_, err = r.DeleteBackup(ctx, "prod-eu", "b1")
		mustIs(t, err, storage.ErrNotFound)
		var notFound *BackupNotFoundError
		if !errors.As(err, &notFound) || notFound.Cluster != "prod-eu" || notFound.ID != "b1" {
			t.Errorf("error does not say which cluster's backup is missing, for a front end to say how to list them: %#v", err)
		}
	})
}

func sortedKeys(packs ...PackEntry) []string {
	var keys []string
	for _, p := range packs {
		keys = append(keys, p.Key)
	}
	slices.Sort(keys)
	return keys
}

// Packs younger than the grace period may belong to a backup whose
// manifest is not written yet: they stay.
func TestGCKeepsYoungPacks(t *testing.T) {
	forEachStore(t, func(t *testing.T, s store) {
		r := openRepo(t, s.opts) // default grace: 1 h
		young := writeTestPack(t, r, "prod-eu", "payments", "a")
		report, err := r.CollectGarbage(context.Background(), "prod-eu", GCOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if len(report.Deleted) != 0 || report.KeptYoung != 1 || !packExists(t, r, young) {
			t.Errorf("report %+v; want the young pack kept", report)
		}
	})
}

// While a backup of the cluster runs, no pack is collected: the backup may
// be reusing packs whose last manifest is being deleted.
func TestGCRespectsInProgressMarker(t *testing.T) {
	forEachStore(t, func(t *testing.T, s store) {
		ctx := context.Background()
		opts := s.opts
		opts.GCGracePeriod = time.Nanosecond
		r := openRepo(t, opts)
		p := writeTestPack(t, r, "prod-eu", "payments", "a")
		if err := r.CommitBackup(ctx, testManifest("prod-eu", "b1", time.Now(), PhaseCompleted, p)); err != nil {
			t.Fatal(err)
		}
		release, err := r.BeginBackup(ctx, "prod-eu", "b2")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := r.BeginBackup(ctx, "prod-eu", "b2"); !errors.Is(err, storage.ErrAlreadyExists) {
			t.Errorf("second BeginBackup of one ID: %v", err)
		}
		running, err := r.InProgressBackups(ctx, "prod-eu")
		if err != nil || len(running) != 1 || running[0].BackupID != "b2" || running[0].Stale {
			t.Fatalf("InProgressBackups = %+v, %v", running, err)
		}

		report, err := r.DeleteBackup(ctx, "prod-eu", "b1")
		if err != nil {
			t.Fatal(err)
		}
		if len(report.Deleted) != 0 || !strings.Contains(report.SkippedBecause, "backup b2 of cluster prod-eu has been in progress") {
			t.Errorf("report %+v; want nothing collected while b2 runs", report)
		}
		if !packExists(t, r, p) {
			t.Fatal("pack deleted while a backup was in progress")
		}

		// Another cluster's backup does not hold this one's GC.
		if _, err := r.BeginBackup(ctx, "dr-us", "x1"); err != nil {
			t.Fatal(err)
		}
		if err := release(ctx); err != nil {
			t.Fatal(err)
		}
		report, err = r.CollectGarbage(ctx, "prod-eu", GCOptions{})
		if err != nil || len(report.Deleted) != 1 || packExists(t, r, p) {
			t.Errorf("after release: %+v, %v; want the pack collected", report, err)
		}
	})
}

// A marker older than its TTL was left by a backup that died; it no
// longer holds off GC.
func TestGCIgnoresStaleMarker(t *testing.T) {
	s := localStore(t)
	ctx := context.Background()
	opts := s.opts
	opts.GCGracePeriod = time.Nanosecond
	opts.InProgressTTL = time.Minute
	r := openRepo(t, opts)
	orphan := writeTestPack(t, r, "prod-eu", "payments", "a")
	// The marker of a backup that died an hour ago, never refreshed since.
	key := r.Layout().InProgressMarker("prod-eu", "crashed")
	s.rawPut(t, key, []byte(`{"formatVersion":1}`))
	old := time.Now().Add(-time.Hour)
	if err := os.Chtimes(filepath.Join(s.opts.Location.Path, filepath.FromSlash(key)), old, old); err != nil {
		t.Fatal(err)
	}
	running, err := r.InProgressBackups(ctx, "prod-eu")
	if err != nil || len(running) != 1 || !running[0].Stale {
		t.Fatalf("InProgressBackups = %+v, %v; want one stale", running, err)
	}
	report, err := r.CollectGarbage(ctx, "prod-eu", GCOptions{})
	if err != nil || report.SkippedBecause != "" || len(report.Deleted) != 1 || packExists(t, r, orphan) {
		t.Errorf("report %+v, %v; want the orphan collected", report, err)
	}
}

// When a manifest cannot be read, GC cannot know which packs are in use,
// so it deletes nothing.
func TestGCStopsOnDamagedManifest(t *testing.T) {
	forEachStore(t, func(t *testing.T, s store) {
		ctx := context.Background()
		opts := s.opts
		opts.GCGracePeriod = time.Nanosecond
		r := openRepo(t, opts)
		orphan := writeTestPack(t, r, "prod-eu", "payments", "a")
		s.rawPut(t, "prod-eu/_backups/damaged.json", []byte("{"))
		_, err := r.CollectGarbage(ctx, "prod-eu", GCOptions{})
		mustIs(t, err, ErrCorrupt)
		if !strings.Contains(err.Error(), "not collecting garbage") || !strings.Contains(err.Error(), "damaged.json") {
			t.Errorf("error: %v", err)
		}
		if !packExists(t, r, orphan) {
			t.Error("GC deleted a pack although a manifest could not be read")
		}
	})
}
