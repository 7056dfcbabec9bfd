package replicate_test

import (
	"context"
	"errors"
	"reflect"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/kbackup/kbackup/core/catalog"
	"github.com/kbackup/kbackup/core/fleet"
	"github.com/kbackup/kbackup/core/replicate"
	"github.com/kbackup/kbackup/core/repo"
	"github.com/kbackup/kbackup/core/storage"
	"github.com/kbackup/kbackup/core/testenv"
	"github.com/kbackup/kbackup/core/testenv/repotest"
	"github.com/kbackup/kbackup/core/verify"
)

// twoRepositories returns a source repository holding a generated fleet on
// the test environment's S3 server and an empty target on a second S3
// server; wrap, when set, wraps the target's backend.
func twoRepositories(t *testing.T, spec repotest.FleetSpec, wrap func(storage.Backend) storage.Backend) (src, dst *repo.Repository, dstOpts repo.Options) {
	t.Helper()
	ctx := context.Background()
	env := testenv.Start(t, testenv.Options{S3: true})
	second := testenv.StartS3Server(t, env.S3)
	src, err := repo.Open(ctx, repotest.S3Options(env.S3, env.S3.NewBucket(t)))
	if err != nil {
		t.Fatal(err)
	}
	if err := repotest.GenerateFleet(ctx, src, spec); err != nil {
		t.Fatal(err)
	}
	dstOpts = repotest.S3Options(second, second.NewBucket(t))
	dstOpts.WrapBackend = wrap
	if dst, err = repo.Open(ctx, dstOpts); err != nil {
		t.Fatal(err)
	}
	return src, dst, dstOpts
}

var smallFleet = repotest.FleetSpec{Clusters: 3, Backups: 6, Interval: time.Hour, Newest: time.Now().Add(-time.Hour), SharedPacks: 3, NewPackEvery: 2}

// healthy verifies every backup of r and fails the test on any problem.
func healthy(t *testing.T, r *repo.Repository) *verify.Report {
	t.Helper()
	rep, err := verify.All(context.Background(), r, verify.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if !rep.Healthy() {
		t.Fatalf("verify --all of %s: %d missing, %d corrupt, %d unreadable, manifest errors %v", r, rep.Missing, rep.Corrupt, rep.Unreadable, rep.ManifestErrors)
	}
	return rep
}

func TestReplicateFleetCopiesEverythingOnceAndVerifies(t *testing.T) {
	ctx := context.Background()
	src, dst, _ := twoRepositories(t, smallFleet, nil)
	if err := src.PutSchedule(ctx, &fleet.Schedule{Name: "nightly", Cron: "0 2 * * *"}); err != nil {
		t.Fatal(err)
	}
	restoreID := repo.NewID(time.Now())
	record := map[string]any{"id": restoreID, "phase": "Completed", "totals": map[string]int{"created": 3}}
	if err := src.WriteRestoreRecord(ctx, repotest.ClusterName(1), restoreID, record); err != nil {
		t.Fatal(err)
	}
	rep, err := replicate.Run(ctx, src, dst, replicate.Options{})
	if err != nil {
		t.Fatalf("replicate: %v", err)
	}
	if rep.ManifestsCopied != 18 || rep.ManifestsSkipped != 0 || rep.PacksCopied == 0 || rep.BytesCopied == 0 || rep.SchedulesCopied != 1 || rep.Clusters[1].RestoresCopied != 1 {
		t.Fatalf("first run: %+v", rep)
	}
	var copied map[string]any
	if err := dst.ReadRestoreRecord(ctx, repotest.ClusterName(1), restoreID, &copied); err != nil || copied["phase"] != "Completed" {
		t.Errorf("the restore record in the copy: %v %v", copied, err)
	}
	healthy(t, dst)
	for i := range smallFleet.Clusters {
		name := repotest.ClusterName(i)
		want, err := src.ListBackups(ctx, name)
		if err != nil {
			t.Fatal(err)
		}
		got, err := dst.ListBackups(ctx, name)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != len(want) {
			t.Fatalf("cluster %s: %d backups copied, source has %d", name, len(got), len(want))
		}
		for j := range want {
			a, _ := repo.MarshalManifest(want[j])
			b, _ := repo.MarshalManifest(got[j])
			if string(a) != string(b) {
				t.Errorf("cluster %s backup %s differs in the copy", name, want[j].ID)
			}
		}
		srcEntry, _ := src.GetCluster(ctx, name)
		dstEntry, err := dst.GetCluster(ctx, name)
		if err != nil || !reflect.DeepEqual(dstEntry, srcEntry) {
			t.Errorf("cluster %s: registry entry in the copy %+v (%v), in the source %+v", name, dstEntry, err, srcEntry)
		}
		srcSum, _, _ := src.CurrentSummary(ctx, name)
		dstSum, state, err := dst.CurrentSummary(ctx, name)
		if err != nil || state != repo.SummaryCurrent || dstSum.BytesStored != srcSum.BytesStored || dstSum.Packs != srcSum.Packs {
			t.Errorf("cluster %s: summary of the copy %+v (%s, %v), of the source %+v", name, dstSum, state, err, srcSum)
		}
	}
	// A second run finds everything there and sends nothing.
	again, err := replicate.Run(ctx, src, dst, replicate.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if again.ManifestsCopied != 0 || again.PacksCopied != 0 || again.ManifestsSkipped != 18 || again.SchedulesCopied != 0 || again.Clusters[1].RestoresCopied != 0 {
		t.Fatalf("second run copied again: %+v", again)
	}
}

// putCounter counts the packs written to a backend and cancels a context
// after the limit-th, as a process killed in the middle of a copy.
type putCounter struct {
	storage.Backend
	puts   atomic.Int64
	limit  int64
	cancel context.CancelFunc
}

func (c *putCounter) Put(ctx context.Context, key string, data []byte) error {
	if strings.HasSuffix(key, ".yaml.zst") && c.puts.Add(1) == c.limit && c.cancel != nil {
		defer c.cancel()
	}
	return c.Backend.Put(ctx, key, data)
}

func (c *putCounter) Unwrap() storage.Backend { return c.Backend }

func TestReplicateInterruptedLeavesAValidTargetAndResumes(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	counter := &putCounter{limit: 7, cancel: cancel}
	src, dst, dstOpts := twoRepositories(t, smallFleet, func(b storage.Backend) storage.Backend {
		counter.Backend = b
		return counter
	})
	_, err := replicate.Run(ctx, src, dst, replicate.Options{Concurrency: 1})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("the interrupted run returned %v, want context.Canceled", err)
	}
	// What the interrupted run left is a valid repository: every manifest
	// it holds has all its packs.
	dstOpts.WrapBackend = nil
	reopened, err := repo.Open(context.Background(), dstOpts)
	if err != nil {
		t.Fatal(err)
	}
	partial := healthy(t, reopened)
	if partial.Packs == 0 {
		t.Fatalf("the interrupted run committed no backup; interrupt later to test a partial copy")
	}
	sent := int(counter.puts.Load())
	rep, err := replicate.Run(context.Background(), src, reopened, replicate.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if rep.ManifestsSkipped == 0 || rep.ManifestsCopied == 0 || rep.ManifestsSkipped+rep.ManifestsCopied != 18 {
		t.Errorf("resumed: %+v", rep)
	}
	full := healthy(t, reopened)
	all := healthy(t, src)
	if full.Packs != all.Packs {
		t.Errorf("the copy has %d packs in use, the source %d", full.Packs, all.Packs)
	}
	// Nothing the interrupted run stored is sent again, including the
	// packs of the backup it did not get to commit.
	if rep.PacksCopied+sent != all.Packs {
		t.Errorf("the interrupted run stored %d packs and the resumed one %d, of %d: some were sent twice", sent, rep.PacksCopied, all.Packs)
	}
}

func TestReplicateSkipsABackupWhosePackIsCorrupt(t *testing.T) {
	ctx := context.Background()
	spec := smallFleet
	spec.Clusters = 1
	src, dst, _ := twoRepositories(t, spec, nil)
	cluster := repotest.ClusterName(0)
	backups, err := src.ListBackups(ctx, cluster)
	if err != nil {
		t.Fatal(err)
	}
	// The newest backup's own pack is damaged (the backup before may share it).
	newest := backups[len(backups)-1]
	packs := catalog.Packs(newest)
	victim := packs[len(packs)-1]
	if err := src.Backend().Put(ctx, src.Layout().Prefix()+victim.Key, []byte("not a zstd frame, same key")); err != nil {
		t.Fatal(err)
	}
	rep, err := replicate.Run(ctx, src, dst, replicate.Options{Clusters: []string{cluster}})
	if !errors.Is(err, repo.ErrCorrupt) || !strings.Contains(err.Error(), victim.Key) {
		t.Fatalf("want an error naming the corrupt pack %s, got %v", victim.Key, err)
	}
	broken := 0
	for _, m := range backups {
		for _, p := range catalog.Packs(m) {
			if p.Key == victim.Key {
				broken++
			}
		}
	}
	if rep.Clusters[0].ManifestsFailed != broken || rep.ManifestsCopied != len(backups)-broken {
		t.Fatalf("report: %+v", rep.Clusters[0])
	}
	if _, err := dst.ReadManifest(ctx, cluster, newest.ID); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("the backup with the corrupt pack was committed in the copy (%v)", err)
	}
	if _, err := dst.Backend().Stat(ctx, dst.Layout().Prefix()+victim.Key); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("the corrupt pack was written to the copy (%v)", err)
	}
	healthy(t, dst)
}

func TestReplicateRefusesTheSameRepository(t *testing.T) {
	ctx := context.Background()
	env := testenv.Start(t, testenv.Options{S3: true})
	opts := repotest.S3Options(env.S3, env.S3.NewBucket(t))
	a, err := repo.Open(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	b, err := repo.Open(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := replicate.Run(ctx, a, b, replicate.Options{}); !errors.Is(err, replicate.ErrSameRepository) {
		t.Fatalf("got %v, want ErrSameRepository", err)
	}
}

func TestReplicateSkipsAnUnreadableManifest(t *testing.T) {
	ctx := context.Background()
	spec := smallFleet
	spec.Clusters = 1
	src, dst, _ := twoRepositories(t, spec, nil)
	cluster := repotest.ClusterName(0)
	ids, err := src.BackupIDs(ctx, cluster)
	if err != nil {
		t.Fatal(err)
	}
	// A manifest naming a pack of another cluster: valid JSON, refused by
	// the format's checks.
	m, err := src.ReadManifest(ctx, cluster, ids[2])
	if err != nil {
		t.Fatal(err)
	}
	m.Cluster.Name = "cluster-9999"
	data, err := repo.MarshalManifest(m)
	if err != nil {
		t.Fatal(err)
	}
	if err := src.Backend().Put(ctx, src.Layout().Manifest(cluster, ids[2]), data); err != nil {
		t.Fatal(err)
	}
	rep, err := replicate.Run(ctx, src, dst, replicate.Options{Clusters: []string{cluster}})
	if !errors.Is(err, repo.ErrCorrupt) || !strings.Contains(err.Error(), ids[2]) {
		t.Fatalf("want an error naming the manifest %s, got %v", ids[2], err)
	}
	if rep.Clusters[0].ManifestsFailed != 1 || rep.ManifestsCopied != len(ids)-1 {
		t.Fatalf("report: %+v", rep.Clusters[0])
	}
	if _, err := dst.ReadManifest(ctx, cluster, ids[2]); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("the unreadable manifest reached the copy (%v)", err)
	}
	healthy(t, dst)
}
