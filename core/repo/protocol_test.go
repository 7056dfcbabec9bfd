package repo

import (
	"context"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/kbackup/kbackup/core/storage"
)

// hookBackend calls onDelete before a pack is deleted, and fails the
// writes of keys for which failPut says so.
type hookBackend struct {
	storage.Backend
	onDelete func(key string)
	failPut  func(key string) bool
}

func (h *hookBackend) Unwrap() storage.Backend { return h.Backend }

func (h *hookBackend) Delete(ctx context.Context, key string) error {
	if h.onDelete != nil && strings.HasSuffix(key, packExt) {
		h.onDelete(key)
	}
	return h.Backend.Delete(ctx, key)
}

func (h *hookBackend) Put(ctx context.Context, key string, data []byte) error {
	if h.failPut != nil && h.failPut(key) {
		return &storage.OpError{Op: "writing", Key: key, Location: h.String(), Err: storage.ErrStorageUnavailable}
	}
	return h.Backend.Put(ctx, key, data)
}

// backupOf runs a whole backup of one pack, as core/backup does: begin,
// known packs, the pack, the manifest, release.
func backupOf(ctx context.Context, r *Repository, cluster, id, namespace string, names ...string) error {
	release, err := r.BeginBackup(ctx, cluster, id)
	if err != nil {
		return err
	}
	defer release(context.WithoutCancel(ctx))
	known, err := r.KnownPacks(ctx, cluster)
	if err != nil {
		return err
	}
	ref, _, err := r.WritePack(ctx, PackSpec{Cluster: cluster, Namespace: namespace, Resource: "configmaps"}, packContent("ConfigMap", names...), known)
	if err != nil {
		return err
	}
	return r.CommitBackup(ctx, testManifest(cluster, id, time.Now(), PhaseCompleted, NewPackEntry(ref, configMapGVK, names)))
}

// everyPackStored fails the test for each pack that a manifest names and
// the storage does not hold.
func everyPackStored(t *testing.T, r *Repository, cluster string) {
	t.Helper()
	manifests, err := r.ListBackups(context.Background(), cluster)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range manifests {
		for _, p := range m.Packs {
			if !packExists(t, r, p) {
				t.Errorf("backup %s names pack %s, which was deleted: the backup is lost", m.ID, p.Key)
			}
		}
	}
}

// The race of issue 8: retention deletes backup D, the only one naming
// pack P; a backup that starts while the collection is deleting finds no
// manifest naming P, uploads P again and commits; the collection then
// deletes P from its earlier listing. Here the backup starts right when
// the collection deletes its first pack, after every check the
// collection makes. Under the protocol it waits for the collection's
// marker, and stores P again after it.
func TestBackupStartingDuringCollectionLosesNothing(t *testing.T) {
	forEachStore(t, func(t *testing.T, s store) {
		ctx := context.Background()
		opts := s.opts
		opts.GCGracePeriod = time.Nanosecond
		opts.InProgressTTL = 3 * time.Second
		writer := openRepo(t, opts)
		if err := backupOf(ctx, writer, "prod-eu", "d", "payments", "a", "b"); err != nil {
			t.Fatal(err)
		}

		var (
			once       sync.Once
			backupDone = make(chan error, 1)
			finished   atomic.Bool
		)
		collectorOpts := opts
		collectorOpts.WrapBackend = func(b storage.Backend) storage.Backend {
			return &hookBackend{Backend: b, onDelete: func(string) {
				once.Do(func() {
					go func() {
						backupDone <- backupOf(ctx, writer, "prod-eu", "new", "payments", "a", "b")
						finished.Store(true)
					}()
					// Let the backup run as far as it can before the
					// delete goes on.
					deadline := time.Now().Add(time.Second)
					for !finished.Load() && time.Now().Before(deadline) {
						time.Sleep(10 * time.Millisecond)
					}
				})
			}}
		}
		collector := openRepo(t, collectorOpts)
		report, err := collector.DeleteBackup(ctx, "prod-eu", "d")
		if err != nil {
			t.Fatal(err)
		}
		if len(report.Deleted) != 1 {
			t.Fatalf("the collection deleted %d packs; the test needs it to delete the pack of d: %+v", len(report.Deleted), report)
		}
		select {
		case err := <-backupDone:
			if err != nil {
				t.Fatalf("the backup that started during the collection: %v", err)
			}
		case <-time.After(30 * time.Second):
			t.Fatal("the backup that started during the collection never ended")
		}
		everyPackStored(t, writer, "prod-eu")
		if _, err := writer.ReadManifest(ctx, "prod-eu", "new"); err != nil {
			t.Fatalf("the backup did not commit: %v", err)
		}
	})
}

// The in-progress marker is refreshed while a backup runs: a backup that
// lasts longer than the marker TTL keeps garbage collection away.
func TestLongBackupKeepsItsMarkerFresh(t *testing.T) {
	s := localStore(t)
	ctx := context.Background()
	opts := s.opts
	opts.GCGracePeriod = time.Nanosecond
	opts.InProgressTTL = 2 * time.Second
	r := openRepo(t, opts)
	p := writeTestPack(t, r, "prod-eu", "payments", "a")
	if err := r.CommitBackup(ctx, testManifest("prod-eu", "b1", time.Now(), PhaseCompleted, p)); err != nil {
		t.Fatal(err)
	}
	release, err := r.BeginBackup(ctx, "prod-eu", "long")
	if err != nil {
		t.Fatal(err)
	}
	defer release(ctx)
	time.Sleep(2 * opts.InProgressTTL)
	running, err := r.InProgressBackups(ctx, "prod-eu")
	if err != nil || len(running) != 1 || running[0].Stale {
		t.Fatalf("after 2 TTLs of a running backup: markers %+v, %v; want one fresh", running, err)
	}
	report, err := r.DeleteBackup(ctx, "prod-eu", "b1")
	if err != nil {
		t.Fatal(err)
	}
	if len(report.Deleted) != 0 || report.SkippedBecause == "" || !packExists(t, r, p) {
		t.Errorf("a collection during a backup that outlived its TTL: %+v; want nothing collected", report)
	}
}

// A backup whose marker could not be refreshed (the storage failed, the
// laptop slept) may have been taken for dead and had its packs collected:
// it refuses to commit.
func TestCommitRefusedWhenMarkerExpired(t *testing.T) {
	s := localStore(t)
	ctx := context.Background()
	opts := s.opts
	opts.InProgressTTL = 2 * time.Second
	var failMarkers atomic.Bool
	opts.WrapBackend = func(b storage.Backend) storage.Backend {
		return &hookBackend{Backend: b, failPut: func(key string) bool {
			return failMarkers.Load() && strings.Contains(key, "/"+inProgressDir+"/")
		}}
	}
	r := openRepo(t, opts)
	p := writeTestPack(t, r, "prod-eu", "payments", "a")
	release, err := r.BeginBackup(ctx, "prod-eu", "b1")
	if err != nil {
		t.Fatal(err)
	}
	defer release(ctx)
	failMarkers.Store(true)
	time.Sleep(opts.InProgressTTL)
	err = r.CommitBackup(ctx, testManifest("prod-eu", "b1", time.Now(), PhaseCompleted, p))
	if !errors.Is(err, ErrMarkerExpired) || !strings.Contains(err.Error(), "run the backup again") {
		t.Fatalf("commit after the marker went unrefreshed for a whole TTL: %v; want ErrMarkerExpired", err)
	}
	if _, err := r.ReadManifest(ctx, "prod-eu", "b1"); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("the manifest was written anyway: %v", err)
	}

	// Refreshed again, a later backup commits.
	failMarkers.Store(false)
	release2, err := r.BeginBackup(ctx, "prod-eu", "b2")
	if err != nil {
		t.Fatal(err)
	}
	defer release2(ctx)
	time.Sleep(opts.InProgressTTL)
	if err := r.CommitBackup(ctx, testManifest("prod-eu", "b2", time.Now(), PhaseCompleted, p)); err != nil {
		t.Fatalf("commit of a backup whose marker stayed fresh: %v", err)
	}
}

// A manifest that names a pack the storage lost does not make later
// backups name it too: KnownPacks leaves out packs the storage does not
// list, so the next backup of that content stores it again.
func TestKnownPacksLeavesOutMissingPacks(t *testing.T) {
	forEachStore(t, func(t *testing.T, s store) {
		ctx := context.Background()
		r := openRepo(t, s.opts)
		if err := backupOf(ctx, r, "prod-eu", "b1", "payments", "a"); err != nil {
			t.Fatal(err)
		}
		m, err := r.ReadManifest(ctx, "prod-eu", "b1")
		if err != nil {
			t.Fatal(err)
		}
		s.rawDel(t, r.Layout().Prefix()+m.Packs[0].Key)
		known, err := r.KnownPacks(ctx, "prod-eu")
		if err != nil {
			t.Fatal(err)
		}
		if _, ok := known.Lookup(m.Packs[0].Key); ok {
			t.Fatalf("KnownPacks offers pack %s for reuse, which the storage no longer holds", m.Packs[0].Key)
		}
		if err := backupOf(ctx, r, "prod-eu", "b2", "payments", "a"); err != nil {
			t.Fatal(err)
		}
		if !packExists(t, r, m.Packs[0]) {
			t.Fatal("the next backup of the same content did not store the missing pack again")
		}
	})
}

// A collection marker holds off backups of its cluster until it is
// removed; a stale one (a collector that died) does not.
func TestBackupWaitsForCollectionMarker(t *testing.T) {
	s := localStore(t)
	ctx := context.Background()
	opts := s.opts
	opts.InProgressTTL = 2 * time.Second
	r := openRepo(t, opts)
	l, err := r.writeLease(ctx, r.Layout().CollectionMarker("prod-eu", "g1"), "test collection", newMarker("prod-eu", "g1"))
	if err != nil {
		t.Fatal(err)
	}
	go func() {
		time.Sleep(500 * time.Millisecond)
		_ = l.release(ctx)
	}()
	start := time.Now()
	release, err := r.BeginBackup(ctx, "prod-eu", "b1")
	if err != nil {
		t.Fatal(err)
	}
	defer release(ctx)
	if waited := time.Since(start); waited < 400*time.Millisecond {
		t.Errorf("BeginBackup returned after %s, while a collection was running", waited)
	}
}

// slowCommitBackend holds a manifest's conditional write back, and runs
// meanwhile what a collection that took the backup for dead would do.
type slowCommitBackend struct {
	storage.Backend
	delay  time.Duration
	during func()
}

func (s *slowCommitBackend) Unwrap() storage.Backend { return s.Backend }

func (s *slowCommitBackend) PutIfAbsent(ctx context.Context, key string, data []byte) error {
	if strings.Contains(key, "/"+backupsDir+"/") {
		time.Sleep(s.delay)
		s.during()
	}
	return s.Backend.PutIfAbsent(ctx, key, data)
}

// A commit whose write lands later than the marker's safe age may land
// after a collection deleted its packs: it checks them, and takes the
// manifest back when one is gone.
func TestSlowCommitChecksItsPacks(t *testing.T) {
	s := localStore(t)
	ctx := context.Background()
	opts := s.opts
	opts.InProgressTTL = 2 * time.Second
	var lose atomic.Value // the pack key a "collection" deletes during the commit
	opts.WrapBackend = func(b storage.Backend) storage.Backend {
		return &slowCommitBackend{Backend: b, delay: 1200 * time.Millisecond, during: func() {
			if key, ok := lose.Load().(string); ok && key != "" {
				s.rawDel(t, key)
			}
		}}
	}
	r := openRepo(t, opts)
	p := writeTestPack(t, r, "prod-eu", "payments", "a")
	release, err := r.BeginBackup(ctx, "prod-eu", "slow-ok")
	if err != nil {
		t.Fatal(err)
	}
	if err := r.CommitBackup(ctx, testManifest("prod-eu", "slow-ok", time.Now(), PhaseCompleted, p)); err != nil {
		t.Fatalf("a slow commit whose packs are all there: %v", err)
	}
	_ = release(ctx)

	q := writeTestPack(t, r, "prod-eu", "shop", "b")
	lose.Store(r.Layout().Prefix() + q.Key)
	release, err = r.BeginBackup(ctx, "prod-eu", "slow-lost")
	if err != nil {
		t.Fatal(err)
	}
	defer release(ctx)
	err = r.CommitBackup(ctx, testManifest("prod-eu", "slow-lost", time.Now(), PhaseCompleted, q))
	if !errors.Is(err, ErrMarkerExpired) || !strings.Contains(err.Error(), q.Key) {
		t.Fatalf("a slow commit that lost a pack meanwhile: %v; want ErrMarkerExpired naming %s", err, q.Key)
	}
	if _, err := r.ReadManifest(ctx, "prod-eu", "slow-lost"); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("the manifest naming a lost pack stays: %v", err)
	}
}
