package repo

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kbackup/kbackup/core/storage"
)

// dyingWriter is a backend whose process "dies" at one write: the write
// named by dieAt fails (as a kill mid-request leaves it), and every
// request after it fails too, so the writer does nothing more.
type dyingWriter struct {
	storage.Backend
	dieAt func(key string) bool
	mu    sync.Mutex
	dead  bool
}

var errKilled = errors.New("injected: the process was killed")

func (d *dyingWriter) check(key string) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.dead || d.dieAt(key) {
		d.dead = true
		return errKilled
	}
	return nil
}

func (d *dyingWriter) Put(ctx context.Context, key string, data []byte) error {
	if err := d.check(key); err != nil {
		return err
	}
	return d.Backend.Put(ctx, key, data)
}

func (d *dyingWriter) PutIfAbsent(ctx context.Context, key string, data []byte) error {
	if err := d.check(key); err != nil {
		return err
	}
	return d.Backend.PutIfAbsent(ctx, key, data)
}

func (d *dyingWriter) Delete(ctx context.Context, key string) error {
	if err := d.check(key); err != nil {
		return err
	}
	return d.Backend.Delete(ctx, key)
}

// readFleet reads a cluster as `kubectl kbackup clusters` does: the
// index, then the summary.
func readFleet(t *testing.T, r *Repository, cluster string) (*ClusterSummary, SummaryState) {
	t.Helper()
	ctx := context.Background()
	idx, err := r.ReadFleetIndex(ctx)
	if err != nil {
		t.Fatal(err)
	}
	s, state, err := r.IndexedSummary(ctx, idx, cluster)
	if err != nil {
		t.Fatal(err)
	}
	return s, state
}

func backupIDs(s *ClusterSummary) []string {
	if s == nil {
		return nil
	}
	return s.ids()
}

func pendingKeys(t *testing.T, r *Repository) []string {
	t.Helper()
	var out []string
	for _, k := range listKeys(t, r.backend, r.layout.PendingChanges()) {
		if info, err := r.layout.Parse(k); err == nil && info.Kind == KindPendingChange {
			out = append(out, k)
		}
	}
	return out
}

// A backup killed after announcing its manifest and before writing it,
// and one killed after its manifest and before its summary, both leave a
// pending change: the reader checks the cluster against its manifests and
// shows exactly the committed backups. The summary alone would be wrong
// in the second case, which is what the pending change is for.
func TestPendingChangeCoversKilledBackups(t *testing.T) {
	forEachStore(t, func(t *testing.T, s store) {
		ctx := context.Background()
		r := openRepo(t, s.opts)
		pack := writeTestPack(t, r, "prod-eu", "shop", "a")
		commitRecorded(t, r, testManifest("prod-eu", "b1", time.Now().Add(-time.Hour), PhaseCompleted, pack), time.Now().Add(-2*time.Hour))
		if keys := pendingKeys(t, r); len(keys) != 0 {
			t.Fatalf("a settled backup left pending changes %v", keys)
		}
		if sum, state := readFleet(t, r, "prod-eu"); state != SummaryCurrent || !slices.Equal(backupIDs(sum), []string{"b1"}) {
			t.Fatalf("after b1: %v %v", state, backupIDs(sum))
		}

		// Killed between the pending change and the manifest.
		killedBefore := openRepoWrapped(t, s.opts, func(key string) bool { return strings.HasSuffix(key, "_backups/b2.json") })
		if err := killedBefore.CommitBackup(ctx, testManifest("prod-eu", "b2", time.Now(), PhaseCompleted, pack)); !errors.Is(err, errKilled) {
			t.Fatalf("CommitBackup of b2: %v; want the injected kill", err)
		}
		if keys := pendingKeys(t, r); len(keys) != 1 || !strings.HasSuffix(keys[0], "prod-eu.b2.pending") {
			t.Fatalf("pending changes after the kill before the manifest: %v", keys)
		}
		sum, _ := readFleet(t, openRepo(t, s.opts), "prod-eu")
		if !slices.Equal(backupIDs(sum), []string{"b1"}) {
			t.Errorf("after a backup killed before its manifest, the reader shows %v; want [b1]", backupIDs(sum))
		}

		// Killed between the manifest and the summary.
		killedAfter := openRepoWrapped(t, s.opts, func(key string) bool {
			return strings.Contains(key, "_fleet/summaries/") && strings.HasSuffix(key, ".json")
		})
		m3 := testManifest("prod-eu", "b3", time.Now(), PhaseCompleted, pack)
		if err := killedAfter.CommitBackup(ctx, m3); err != nil {
			t.Fatal(err)
		}
		if err := killedAfter.RecordBackup(ctx, m3, time.Now().Add(-time.Minute)); err == nil {
			// RecordBackup swallows the failed write; the kill shows in
			// what follows.
			_ = err
		}
		stale, err := r.ReadSummary(ctx, "prod-eu")
		if err != nil {
			t.Fatal(err)
		}
		if !stale.Journaled || slices.Contains(backupIDs(stale), "b3") {
			t.Fatalf("the stored summary should be the journaled one without b3, as the kill left it: %+v", stale)
		}
		reader := openRepo(t, s.opts)
		sum, _ = readFleet(t, reader, "prod-eu")
		if !slices.Equal(backupIDs(sum), []string{"b1", "b3"}) {
			t.Errorf("after a backup killed before its summary, the reader shows %v; want [b1 b3]", backupIDs(sum))
		}
		// The dead writers' pending changes stay until they expire; a
		// reader then removes them, and the summary alone is current.
		if keys := pendingKeys(t, r); len(keys) != 2 {
			t.Errorf("pending changes of the two killed backups: %v; want 2", keys)
		}
		opts := s.opts
		opts.InProgressTTL = time.Second
		expiring := openRepo(t, opts)
		time.Sleep(2100 * time.Millisecond) // the storage's times are whole seconds
		readFleet(t, expiring, "prod-eu")
		if keys := pendingKeys(t, r); len(keys) != 0 {
			t.Errorf("expired pending changes were not removed: %v", keys)
		}
		sum, state := readFleet(t, openRepo(t, s.opts), "prod-eu")
		if state != SummaryCurrent || !slices.Equal(backupIDs(sum), []string{"b1", "b3"}) || !sum.Journaled {
			t.Errorf("after the pending changes expired: %v %+v", state, sum)
		}
	})
}

func openRepoWrapped(t *testing.T, opts Options, dieAt func(key string) bool) *Repository {
	t.Helper()
	opts.WrapBackend = func(b storage.Backend) storage.Backend { return &dyingWriter{Backend: b, dieAt: dieAt} }
	return openRepo(t, opts)
}

// stallingSummaries holds one summary write until released, and records
// the backups of every summary written.
type stallingSummaries struct {
	storage.Backend
	once     sync.Once
	reached  chan struct{}
	release  chan struct{}
	mu       sync.Mutex
	written  [][]string
	stalling bool
}

func (s *stallingSummaries) Put(ctx context.Context, key string, data []byte) error {
	if strings.Contains(key, "_fleet/summaries/") && strings.HasSuffix(key, ".json") {
		stall := false
		s.once.Do(func() { stall = s.stalling })
		if stall {
			close(s.reached)
			<-s.release
		}
		var sum ClusterSummary
		if err := decodeStrict(data, &sum); err == nil {
			s.mu.Lock()
			s.written = append(s.written, sum.ids())
			s.mu.Unlock()
		}
	}
	return s.Backend.Put(ctx, key, data)
}

// Two backups of one cluster committing at once, one's summary write
// landing after the other settled (a lost update): the late writer's check
// after its write finds its summary behind the manifests and writes it
// again, and the summary the reader trusts names both.
func TestConcurrentSummaryWritersLoseNoBackup(t *testing.T) {
	s := s3Store(t, sharedS3(t), "")
	ctx := context.Background()
	r := openRepo(t, s.opts)
	pack := writeTestPack(t, r, "prod-eu", "shop", "a")
	commitRecorded(t, r, testManifest("prod-eu", "b0", time.Now().Add(-time.Hour), PhaseCompleted, pack), time.Now().Add(-2*time.Hour))

	stalled := &stallingSummaries{reached: make(chan struct{}), release: make(chan struct{}), stalling: true}
	opts := s.opts
	opts.WrapBackend = func(b storage.Backend) storage.Backend { stalled.Backend = b; return stalled }
	a := openRepo(t, opts)
	b := openRepo(t, s.opts)
	ma := testManifest("prod-eu", "ba", time.Now(), PhaseCompleted, pack)
	if err := a.CommitBackup(ctx, ma); err != nil {
		t.Fatal(err)
	}
	done := make(chan error)
	go func() { done <- a.RecordBackup(ctx, ma, time.Now().Add(2*summaryClockSkew)) }()
	<-stalled.reached // a has listed the manifests and holds its summary write
	commitRecorded(t, b, testManifest("prod-eu", "bb", time.Now(), PhaseCompleted, pack), time.Now().Add(-time.Minute))
	close(stalled.release)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if len(stalled.written) < 2 || slices.Contains(stalled.written[0], "bb") {
		t.Fatalf("the stalled write should have been the stale one, then rewritten: %v", stalled.written)
	}
	if keys := pendingKeys(t, r); len(keys) != 0 {
		t.Errorf("pending changes left: %v", keys)
	}
	sum, state := readFleet(t, openRepo(t, s.opts), "prod-eu")
	if state != SummaryCurrent || !slices.Equal(backupIDs(sum), []string{"b0", "ba", "bb"}) {
		t.Errorf("the reader shows %v %v; want b0, ba, bb", state, backupIDs(sum))
	}
}

// Many writers at once — backups from several processes and a deletion
// of a backup — leave, once all settled, no pending change and a summary
// that the reader trusts alone and that equals one rebuilt from the
// manifests.
func TestConcurrentWritersLeaveACorrectSummary(t *testing.T) {
	s := s3Store(t, sharedS3(t), "")
	ctx := context.Background()
	setup := openRepo(t, s.opts)
	shared := writeTestPack(t, setup, "prod-eu", "shop", "a")
	commitRecorded(t, setup, testManifest("prod-eu", "old", time.Now().Add(-time.Hour), PhaseCompleted, shared), time.Now().Add(-2*time.Hour))

	var wg sync.WaitGroup
	errs := make(chan error, 64)
	const writers = 8
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := openRepo(t, s.opts)
			for i := range 3 {
				own := writeTestPack(t, r, "prod-eu", "shop", fmt.Sprintf("w%d-%d", w, i))
				m := testManifest("prod-eu", fmt.Sprintf("w%d-%d", w, i), time.Now(), PhaseCompleted, shared, own)
				m.Stats.BytesUploaded, m.Stats.PacksUploaded = own.Size, 1
				known := time.Now()
				if err := r.CommitBackup(ctx, m); err != nil {
					errs <- err
					return
				}
				if err := r.RecordBackup(ctx, m, known); err != nil {
					errs <- err
				}
			}
		}()
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		if _, err := openRepo(t, s.opts).DeleteBackup(ctx, "prod-eu", "old"); err != nil {
			errs <- err
		}
	}()
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if keys := pendingKeys(t, setup); len(keys) != 0 {
		t.Errorf("pending changes left: %v", keys)
	}
	reader := openRepo(t, s.opts)
	sum, state := readFleet(t, reader, "prod-eu")
	want, err := reader.buildSummary(ctx, "prod-eu")
	if err != nil {
		t.Fatal(err)
	}
	if state != SummaryCurrent || !slices.Equal(backupIDs(sum), backupIDs(want)) || len(want.Backups) != writers*3 ||
		sum.BytesStored != want.BytesStored || sum.Packs != want.Packs {
		t.Errorf("the reader trusts %v %+v; the manifests say %+v", state, sum, want)
	}
}

// A reader of a cluster without pending changes makes one request, and
// takes the registry entry's fields from the summary while the entry is
// the one copied.
func TestIndexedSummaryCostsOneRequest(t *testing.T) {
	s := s3Store(t, sharedS3(t), "")
	ctx := context.Background()
	r := openRepo(t, s.opts)
	commitRecorded(t, r, testManifest("prod-eu", "b1", time.Now(), PhaseCompleted, writeTestPack(t, r, "prod-eu", "shop", "a")), time.Now().Add(-time.Hour))
	var counting *countingBackend
	opts := s.opts
	opts.WrapBackend = func(b storage.Backend) storage.Backend { counting = &countingBackend{Backend: b}; return counting }
	reader := openRepo(t, opts)
	idx, err := reader.ReadFleetIndex(ctx)
	if err != nil {
		t.Fatal(err)
	}
	before := counting.total()
	sum, state, err := reader.IndexedSummary(ctx, idx, "prod-eu")
	if err != nil || state != SummaryCurrent || len(sum.Backups) != 1 {
		t.Fatalf("IndexedSummary: %v %+v %v", state, sum, err)
	}
	if n := counting.total() - before; n != 1 {
		t.Errorf("IndexedSummary made %d requests; want 1", n)
	}
	if idx.EntryCopy(sum) == nil {
		t.Errorf("the summary's entry copy %+v does not match the listed entry", sum.Entry)
	}
	entry, err := r.GetCluster(ctx, "prod-eu")
	if err != nil {
		t.Fatal(err)
	}
	entry.Environment = "prod"
	if err := r.PutClusterEntry(ctx, entry); err != nil {
		t.Fatal(err)
	}
	idx, err = reader.ReadFleetIndex(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if c := idx.EntryCopy(sum); c != nil {
		t.Errorf("an entry rewritten since the copy still matches it: %+v", c)
	}
}
