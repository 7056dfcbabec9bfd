package repo

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kbackup/kbackup/core/storage"
)

func TestClaimCluster(t *testing.T) {
	forEachStore(t, func(t *testing.T, s store) {
		ctx := context.Background()
		r := openRepo(t, s.opts)
		first := ClusterIdentity{Name: "prod-eu", UID: "1111-aaaa", Provider: "eks", KubernetesVersion: "v1.36.0", Server: "https://a.example.com"}
		entry, err := r.ClaimCluster(ctx, first, ClaimOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if entry.UID != first.UID || entry.FirstSeen.IsZero() || entry.LastSeen != entry.FirstSeen {
			t.Errorf("new entry %+v", entry)
		}

		// The fleet's settings survive a later claim by the same cluster,
		// which refreshes the identity.
		entry.Environment, entry.Region, entry.Priority = "prod", "eu-west-1", 10
		entry.Labels = map[string]string{"team": "payments"}
		if err := r.PutClusterEntry(ctx, entry); err != nil {
			t.Fatal(err)
		}
		upgraded := first
		upgraded.KubernetesVersion = "v1.37.0"
		again, err := r.ClaimCluster(ctx, upgraded, ClaimOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if again.KubernetesVersion != "v1.37.0" || again.Environment != "prod" || again.Priority != 10 ||
			again.Labels["team"] != "payments" || !again.FirstSeen.Equal(entry.FirstSeen) {
			t.Errorf("re-claimed entry %+v", again)
		}

		// Another cluster may not take the name.
		other := ClusterIdentity{Name: "prod-eu", UID: "2222-bbbb", Server: "https://b.example.com"}
		_, err = r.ClaimCluster(ctx, other, ClaimOptions{})
		mustIs(t, err, ErrClusterNameTaken)
		for _, want := range []string{"1111-aaaa", "2222-bbbb", `"prod-eu"`, "explicit override"} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("error %q does not say %q", err, want)
			}
		}
		// Nor commit a backup under it.
		m := testManifest("prod-eu", "b1", time.Now(), PhaseCompleted)
		m.Cluster = other
		mustIs(t, r.CommitBackup(ctx, m), ErrClusterNameTaken)

		// Unless it overrides.
		taken, err := r.ClaimCluster(ctx, other, ClaimOptions{Override: true})
		if err != nil || taken.UID != "2222-bbbb" || taken.Environment != "prod" {
			t.Fatalf("override: %+v, %v", taken, err)
		}
		got, err := r.GetCluster(ctx, "prod-eu")
		if err != nil || got.UID != "2222-bbbb" {
			t.Errorf("GetCluster after override = %+v, %v", got, err)
		}
		if _, err := r.ClaimCluster(ctx, first, ClaimOptions{}); !errors.Is(err, ErrClusterNameTaken) {
			t.Errorf("the old cluster claims again: %v", err)
		}

		if _, err := r.ClaimCluster(ctx, ClusterIdentity{Name: "dr-us", UID: "3333"}, ClaimOptions{}); err != nil {
			t.Fatal(err)
		}
		entries, err := r.ListClusterEntries(ctx)
		if err != nil || len(entries) != 2 || entries[0].Name != "dr-us" || entries[1].Name != "prod-eu" {
			t.Errorf("ListClusterEntries = %v, %v", entries, err)
		}
		_, err = r.GetCluster(ctx, "nowhere")
		mustIs(t, err, storage.ErrNotFound)
		_, err = r.ClaimCluster(ctx, ClusterIdentity{Name: "no-uid"}, ClaimOptions{})
		mustIs(t, err, storage.ErrInvalid)
	})
}

// Two clusters claiming one name at once: exactly one gets it.
func TestClaimClusterRace(t *testing.T) {
	forEachStore(t, func(t *testing.T, s store) {
		r := openRepo(t, s.opts)
		var wg sync.WaitGroup
		errs := make([]error, 4)
		start := make(chan struct{})
		for i := range errs {
			wg.Go(func() {
				<-start
				_, errs[i] = r.ClaimCluster(context.Background(), ClusterIdentity{Name: "shared", UID: string(rune('a' + i))}, ClaimOptions{})
			})
		}
		close(start)
		wg.Wait()
		won := 0
		for _, err := range errs {
			switch {
			case err == nil:
				won++
			case !errors.Is(err, ErrClusterNameTaken):
				t.Fatal(err)
			}
		}
		if won != 1 {
			t.Errorf("%d clusters got the name; want 1 (%v)", won, errs)
		}
	})
}

type testRestoreRecord struct {
	Backup  string   `json:"backup"`
	Created []string `json:"created"`
}

func TestRestoreRecords(t *testing.T) {
	forEachStore(t, func(t *testing.T, s store) {
		ctx := context.Background()
		r := openRepo(t, s.opts)
		rec := testRestoreRecord{Backup: "b1", Created: []string{"payments/configmaps/a"}}
		for _, id := range []string{"r2", "r1", "r1-b"} {
			if err := r.WriteRestoreRecord(ctx, "dr-us", id, rec); err != nil {
				t.Fatal(err)
			}
		}
		err := r.WriteRestoreRecord(ctx, "dr-us", "r1", rec)
		mustIs(t, err, storage.ErrAlreadyExists)
		var got testRestoreRecord
		if err := r.ReadRestoreRecord(ctx, "dr-us", "r1", &got); err != nil || got.Backup != "b1" || len(got.Created) != 1 {
			t.Errorf("ReadRestoreRecord = %+v, %v", got, err)
		}
		list, err := r.ListRestores(ctx, "dr-us")
		if err != nil || len(list) != 3 || list[0].ID != "r1" || list[1].ID != "r1-b" || list[2].ID != "r2" || list[0].WrittenAt.IsZero() {
			t.Errorf("ListRestores = %+v, %v", list, err)
		}
		mustIs(t, r.ReadRestoreRecord(ctx, "dr-us", "r9", &got), storage.ErrNotFound)

		// By ID alone, among the clusters of the registry.
		_, err = r.FindRestoreRecord(ctx, "r1", &got)
		mustIs(t, err, storage.ErrNotFound) // dr-us has not claimed its name
		for _, c := range []ClusterIdentity{{Name: "dr-us", UID: "uid-dr"}, {Name: "dr-eu", UID: "uid-eu"}} {
			if _, err := r.ClaimCluster(ctx, c, ClaimOptions{}); err != nil {
				t.Fatal(err)
			}
		}
		got = testRestoreRecord{}
		if cluster, err := r.FindRestoreRecord(ctx, "r1", &got); err != nil || cluster != "dr-us" || got.Backup != "b1" {
			t.Errorf("FindRestoreRecord = %s %+v, %v", cluster, got, err)
		}
		_, err = r.FindRestoreRecord(ctx, "r9", &got)
		mustIs(t, err, storage.ErrNotFound)
		if err := r.WriteRestoreRecord(ctx, "dr-eu", "r1", rec); err != nil {
			t.Fatal(err)
		}
		if _, err := r.FindRestoreRecord(ctx, "r1", &got); err == nil || !strings.Contains(err.Error(), "dr-eu, dr-us") {
			t.Errorf("a restore ID of two clusters: %v", err)
		}
	})
}
