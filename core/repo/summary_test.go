package repo

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/kbackup/kbackup/core/fleet"
	"github.com/kbackup/kbackup/core/storage"
)

// commitRecorded commits a backup as core/backup does: packs known before,
// the manifest, then the summary.
func commitRecorded(t *testing.T, r *Repository, m *Manifest, knownSince time.Time) {
	t.Helper()
	ctx := context.Background()
	if err := r.CommitBackup(ctx, m); err != nil {
		t.Fatal(err)
	}
	if err := r.RecordBackup(ctx, m, knownSince); err != nil {
		t.Fatal(err)
	}
}

// The summary follows the manifests: grown at each commit, shared packs
// counted once, and rebuilt whenever it does not name exactly the listed
// manifests (a deleted backup, a missing or corrupt summary).
func TestSummaryFollowsTheManifests(t *testing.T) {
	forEachStore(t, func(t *testing.T, s store) {
		ctx := context.Background()
		r := openRepo(t, s.opts)
		shared := writeTestPack(t, r, "prod-eu", "shop", "a")
		own := writeTestPack(t, r, "prod-eu", "shop", "b")
		first := testManifest("prod-eu", "b1", time.Now().Add(-2*time.Hour), PhaseCompleted, shared)
		first.Stats.BytesUploaded, first.Stats.PacksUploaded = shared.Size, 1
		commitRecorded(t, r, first, time.Now().Add(-3*time.Hour))
		second := testManifest("prod-eu", "b2", time.Now().Add(-time.Hour), PhaseFailed, shared, own)
		second.Stats.BytesUploaded, second.Stats.PacksUploaded = own.Size, 1
		// The first summary was written after knownSince: RecordBackup
		// cannot trust it to match the packs the backup was told of, and
		// rebuilds.
		commitRecorded(t, r, second, time.Now().Add(-2*time.Hour))

		sum, state, err := r.CurrentSummary(ctx, "prod-eu")
		if err != nil || state != SummaryCurrent {
			t.Fatalf("CurrentSummary: %v, %v", state, err)
		}
		if len(sum.Backups) != 2 || sum.BytesStored != shared.Size+own.Size || sum.Packs != 2 {
			t.Errorf("summary %+v; want 2 backups, 2 packs of %d bytes", sum, shared.Size+own.Size)
		}
		last, good := sum.Latest()
		if last.ID != "b2" || good.ID != "b1" {
			t.Errorf("Latest = %s, %s; want b2 (Failed) and b1", last.ID, good.ID)
		}

		// A third backup, with nothing changed since it read the packs:
		// the summary grows by what it uploaded, and matches a rebuild.
		third := writeTestPack(t, r, "prod-eu", "shop", "c")
		m3 := testManifest("prod-eu", "b3", time.Now(), PhaseCompleted, shared, third)
		m3.Stats.BytesUploaded, m3.Stats.PacksUploaded = third.Size, 1
		commitRecorded(t, r, m3, time.Now().Add(2*summaryClockSkew))
		grown, err := r.ReadSummary(ctx, "prod-eu")
		if err != nil {
			t.Fatal(err)
		}
		rebuilt, err := r.RebuildSummary(ctx, "prod-eu")
		if err != nil {
			t.Fatal(err)
		}
		if len(grown.Backups) != 3 || grown.BytesStored != rebuilt.BytesStored || grown.Packs != 3 {
			t.Errorf("grown %+v, rebuilt %+v", grown, rebuilt)
		}
		s.rawDel(t, r.layout.Manifest("prod-eu", "b3"))

		// A backup deleted behind the summary's back.
		s.rawDel(t, r.layout.Manifest("prod-eu", "b2"))
		sum, state, err = r.CurrentSummary(ctx, "prod-eu")
		if err != nil || state != SummaryStale || len(sum.Backups) != 1 || sum.BytesStored != shared.Size {
			t.Errorf("after a deletion: %v %+v, %v", state, sum, err)
		}
		if _, state, _ = r.CurrentSummary(ctx, "prod-eu"); state != SummaryCurrent {
			t.Errorf("the rebuilt summary was not written back: %v", state)
		}
		s.rawDel(t, r.layout.Summary("prod-eu"))
		if sum, state, err = r.CurrentSummary(ctx, "prod-eu"); err != nil || state != SummaryMissing || len(sum.Backups) != 1 {
			t.Errorf("missing: %v %+v, %v", state, sum, err)
		}
		s.rawPut(t, r.layout.Summary("prod-eu"), []byte(`{"formatVersion": 1, "cluster": "dr-us", "backups": []}`))
		if sum, state, err = r.CurrentSummary(ctx, "prod-eu"); err != nil || state != SummaryCorrupt || len(sum.Backups) != 1 {
			t.Errorf("another cluster's summary: %v %+v, %v", state, sum, err)
		}
		names, err := r.SummaryClusters(ctx)
		if err != nil || len(names) != 1 || names[0] != "prod-eu" {
			t.Errorf("SummaryClusters = %v, %v", names, err)
		}
	})
}

// failingSummaries fails every write of a summary.
type failingSummaries struct {
	storage.Backend
	failed atomic.Int64
}

func (f *failingSummaries) Put(ctx context.Context, key string, data []byte) error {
	if strings.Contains(key, "_fleet/summaries/") && strings.HasSuffix(key, ".json") {
		f.failed.Add(1)
		return errors.New("injected: the bucket failed")
	}
	return f.Backend.Put(ctx, key, data)
}

// The storage failing on the summary leaves a committed backup, and the
// next reader rebuilds the summary.
func TestSummaryWriteFailureLeavesACommittedBackup(t *testing.T) {
	s := s3Store(t, sharedS3(t), "")
	opts := s.opts
	var fail *failingSummaries
	opts.WrapBackend = func(b storage.Backend) storage.Backend { fail = &failingSummaries{Backend: b}; return fail }
	r := openRepo(t, opts)
	ctx := context.Background()
	m := testManifest("prod-eu", "b1", time.Now(), PhaseCompleted, writeTestPack(t, r, "prod-eu", "shop", "a"))
	if err := r.CommitBackup(ctx, m); err != nil {
		t.Fatal(err)
	}
	if err := r.RecordBackup(ctx, m, time.Now().Add(-time.Hour)); err != nil {
		// RebuildSummary's write back is best effort: no error either way.
		t.Fatal(err)
	}
	if fail.failed.Load() == 0 {
		t.Fatal("the injected failure was not reached")
	}
	if _, err := r.ReadManifest(ctx, "prod-eu", "b1"); err != nil {
		t.Fatalf("the backup is not committed: %v", err)
	}
	good := openRepo(t, s.opts)
	sum, state, err := good.CurrentSummary(ctx, "prod-eu")
	if err != nil || state != SummaryMissing || len(sum.Backups) != 1 {
		t.Errorf("the next reader: %v %+v, %v", state, sum, err)
	}
}

func TestRegisterCluster(t *testing.T) {
	forEachStore(t, func(t *testing.T, s store) {
		ctx := context.Background()
		r := openRepo(t, s.opts)
		id := ClusterIdentity{Name: "prod-eu", UID: "1111", Server: "https://a.example.com"}
		env, region, prio := "prod", "eu-west-1", 10
		envs := []string{"dev", "prod"}
		e, err := r.RegisterCluster(ctx, id, ClusterSettings{Environment: &env, Region: &region, Priority: &prio,
			Labels: map[string]string{"team": "payments"}, Environments: envs}, ClaimOptions{})
		if err != nil || e.Environment != "prod" || e.Region != "eu-west-1" || e.Priority != 10 || e.Labels["team"] != "payments" || e.UID != "1111" {
			t.Fatalf("RegisterCluster = %+v, %v", e, err)
		}
		// Again, with only a retention: the rest stays.
		e, err = r.RegisterCluster(ctx, id, ClusterSettings{Retention: &fleet.RetentionRules{KeepDaily: 7}}, ClaimOptions{})
		if err != nil || e.Environment != "prod" || e.Retention == nil || e.Retention.KeepDaily != 7 {
			t.Fatalf("re-register = %+v, %v", e, err)
		}
		// Invalid settings: an error naming the field, nothing written.
		staging := "staging"
		for _, bad := range []struct {
			s    ClusterSettings
			want string
		}{
			{ClusterSettings{Environment: &staging, Environments: envs}, "cluster.environment"},
			{ClusterSettings{Retention: &fleet.RetentionRules{KeepLast: -1}}, "cluster.retention.keep_last"},
			{ClusterSettings{Retention: &fleet.RetentionRules{KeepWithin: "soon"}}, "cluster.retention.keep_within"},
		} {
			_, err := r.RegisterCluster(ctx, ClusterIdentity{Name: "new-one", UID: "2222"}, bad.s, ClaimOptions{})
			if !errors.Is(err, storage.ErrInvalid) || !strings.Contains(err.Error(), bad.want) {
				t.Errorf("%+v: %v; want an invalid %s", bad.s, err, bad.want)
			}
		}
		if _, err := r.GetCluster(ctx, "new-one"); !errors.Is(err, storage.ErrNotFound) {
			t.Errorf("an invalid registration wrote an entry: %v", err)
		}

		// An entry of a newer format is reported as such.
		s.rawPut(t, r.layout.ClusterEntry("prod-eu"), []byte(`{"formatVersion": 2, "name": "prod-eu", "uid": "1111", "shards": 4}`))
		if _, err := r.GetCluster(ctx, "prod-eu"); !errors.Is(err, ErrUnsupportedFormat) || !strings.Contains(err.Error(), "cluster.formatVersion is 2") {
			t.Errorf("a newer entry: %v", err)
		}
	})
}

// Unregistering keeps the backups and leaves a summary, so the cluster
// is still found.
func TestUnregisterClusterKeepsBackups(t *testing.T) {
	forEachStore(t, func(t *testing.T, s store) {
		ctx := context.Background()
		r := openRepo(t, s.opts)
		m := testManifest("dr-us", "b1", time.Now(), PhaseCompleted, writeTestPack(t, r, "dr-us", "shop", "a"))
		if err := r.CommitBackup(ctx, m); err != nil { // no summary written
			t.Fatal(err)
		}
		_, sum, err := r.UnregisterCluster(ctx, "dr-us")
		if err != nil || len(sum.Backups) != 1 {
			t.Fatalf("UnregisterCluster: %+v, %v", sum, err)
		}
		if _, err := r.GetCluster(ctx, "dr-us"); !errors.Is(err, storage.ErrNotFound) {
			t.Errorf("the entry is still there: %v", err)
		}
		if _, err := r.ReadManifest(ctx, "dr-us", "b1"); err != nil {
			t.Errorf("the backup went: %v", err)
		}
		if names, _ := r.SummaryClusters(ctx); len(names) != 1 || names[0] != "dr-us" {
			t.Errorf("SummaryClusters = %v; the unregistered cluster must stay findable", names)
		}
		if _, _, err := r.UnregisterCluster(ctx, "dr-us"); !errors.Is(err, storage.ErrNotFound) {
			t.Errorf("unregistering twice: %v", err)
		}
	})
}

// Two clusters registering one name at once: exactly one gets it, and the
// entry holds the winner's settings.
func TestRegisterClusterRace(t *testing.T) {
	forEachStore(t, func(t *testing.T, s store) {
		r := openRepo(t, s.opts)
		const n = 6
		errs := make([]error, n)
		done := make(chan int)
		for i := range n {
			go func() {
				region := fmt.Sprintf("region-%d", i)
				_, errs[i] = r.RegisterCluster(context.Background(), ClusterIdentity{Name: "contested", UID: fmt.Sprintf("uid-%d", i)},
					ClusterSettings{Region: &region}, ClaimOptions{})
				done <- i
			}()
		}
		for range n {
			<-done
		}
		winners := 0
		winner := -1
		for i, err := range errs {
			switch {
			case err == nil:
				winners++
				winner = i
			case !errors.Is(err, ErrClusterNameTaken):
				t.Errorf("register %d: %v", i, err)
			}
		}
		if winners != 1 {
			t.Fatalf("%d registrations won, want 1: %v", winners, errs)
		}
		e, err := r.GetCluster(context.Background(), "contested")
		if err != nil || e.UID != fmt.Sprintf("uid-%d", winner) || e.Region != fmt.Sprintf("region-%d", winner) {
			t.Errorf("entry %+v, %v; want the winner %d's", e, err, winner)
		}
	})
}
