package repo

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/kbackup/kbackup/core/storage"
)

// writeTestPack stores a pack of ConfigMaps and returns its manifest entry.
func writeTestPack(t testing.TB, r *Repository, cluster, namespace string, names ...string) PackEntry {
	t.Helper()
	ref, _, err := r.WritePack(context.Background(), PackSpec{Cluster: cluster, Namespace: namespace, Resource: "configmaps"},
		packContent("ConfigMap", names...), nil)
	if err != nil {
		t.Fatal(err)
	}
	return NewPackEntry(ref, configMapGVK, names)
}

func TestCommitAndListBackups(t *testing.T) {
	forEachStore(t, func(t *testing.T, s store) {
		ctx := context.Background()
		r := openRepo(t, s.opts)
		p1 := writeTestPack(t, r, "prod-eu", "payments", "a", "b")
		p2 := writeTestPack(t, r, "prod-eu", "shop", "c")
		base := mustTime(t, "2026-03-01T02:00:00Z")
		// Committed out of order; listed by start time.
		for _, m := range []*Manifest{
			testManifest("prod-eu", "b3", base.Add(2*time.Hour), PhaseFailed),
			testManifest("prod-eu", "b1", base, PhaseCompleted, p1, p2),
			testManifest("prod-eu", "b2", base.Add(time.Hour), PhasePartiallyFailed, p1),
			testManifest("dr-us", "x1", base, PhaseCompleted),
		} {
			if err := r.CommitBackup(ctx, m); err != nil {
				t.Fatal(err)
			}
		}
		list, err := r.ListBackups(ctx, "prod-eu")
		if err != nil {
			t.Fatal(err)
		}
		var ids []string
		for _, m := range list {
			ids = append(ids, m.ID)
		}
		if !slices.Equal(ids, []string{"b1", "b2", "b3"}) {
			t.Errorf("ListBackups = %q; want b1 b2 b3", ids)
		}
		clusters, err := r.Clusters(ctx)
		if err != nil || !slices.Equal(clusters, []string{"dr-us", "prod-eu"}) {
			t.Errorf("Clusters = %q, %v", clusters, err)
		}

		// What was committed reads back the same, and is JSON for people.
		got, err := r.ReadManifest(ctx, "prod-eu", "b1")
		if err != nil {
			t.Fatal(err)
		}
		want := testManifest("prod-eu", "b1", base, PhaseCompleted, p1, p2)
		if a, b := mustMarshal(t, got), mustMarshal(t, want); !bytes.Equal(a, b) {
			t.Errorf("read back:\n%s\nwant:\n%s", a, b)
		}
		raw := string(s.rawGet(t, "prod-eu/_backups/b1.json"))
		// Fields indented one per line; each pack entry on a line of its own.
		for _, w := range []string{"\n  \"phase\": \"Completed\",\n", "\n  \"packs\": [\n    {\"cluster\":\"prod-eu\"", `"key":"prod-eu/payments/configmaps/` + p1.SHA256 + `.yaml.zst"`, `"objects":["`} {
			if !strings.Contains(raw, w) {
				t.Errorf("stored manifest lacks %s:\n%s", w, raw)
			}
		}
		if _, err := r.ReadManifest(ctx, "prod-eu", "nope"); !errors.Is(err, storage.ErrNotFound) {
			t.Errorf("ReadManifest(nope) = %v", err)
		}
	})
}

func mustMarshal(t testing.TB, m *Manifest) []byte {
	t.Helper()
	data, err := MarshalManifest(m)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// Two writers committing one backup ID: exactly one wins, the other is
// told, and the stored manifest is the winner's.
func TestCommitBackupRace(t *testing.T) {
	forEachStore(t, func(t *testing.T, s store) {
		ctx := context.Background()
		r := openRepo(t, s.opts)
		if _, err := r.ClaimCluster(ctx, ClusterIdentity{Name: "prod-eu", UID: "uid-prod-eu"}, ClaimOptions{}); err != nil {
			t.Fatal(err)
		}
		for round := range 3 {
			id := fmt.Sprintf("race-%d", round)
			var wg sync.WaitGroup
			errs := make([]error, 2)
			start := make(chan struct{})
			for i := range 2 {
				m := testManifest("prod-eu", id, mustTime(t, "2026-03-01T02:00:00Z"), PhaseCompleted)
				m.Name = fmt.Sprintf("writer %d", i)
				wg.Go(func() {
					<-start
					errs[i] = r.CommitBackup(ctx, m)
				})
			}
			close(start)
			wg.Wait()
			var winner, losers int
			for i, err := range errs {
				switch {
				case err == nil:
					winner = i
				case errors.Is(err, storage.ErrAlreadyExists):
					losers++
					if !strings.Contains(err.Error(), "already committed") {
						t.Errorf("loser's error: %v", err)
					}
				default:
					t.Fatal(err)
				}
			}
			if losers != 1 {
				t.Fatalf("round %d: errors %v; want exactly one winner", round, errs)
			}
			m, err := r.ReadManifest(ctx, "prod-eu", id)
			if err != nil || m.Name != fmt.Sprintf("writer %d", winner) {
				t.Fatalf("stored manifest is %q, %v; the winner was writer %d", m.Name, err, winner)
			}
		}
	})
}

// A damaged manifest does not hide the others from a listing, and is
// named in the error.
func TestListBackupsWithDamagedManifest(t *testing.T) {
	forEachStore(t, func(t *testing.T, s store) {
		ctx := context.Background()
		r := openRepo(t, s.opts)
		for _, id := range []string{"b1", "b2"} {
			if err := r.CommitBackup(ctx, testManifest("prod-eu", id, mustTime(t, "2026-03-01T02:00:00Z"), PhaseCompleted)); err != nil {
				t.Fatal(err)
			}
		}
		s.rawPut(t, "prod-eu/_backups/b3.json", []byte(`{"formatVersion": 1, "id": "b3"`))
		// A valid manifest stored under another ID's key.
		s.rawPut(t, "prod-eu/_backups/b4.json", s.rawGet(t, "prod-eu/_backups/b1.json"))

		list, err := r.ListBackups(ctx, "prod-eu")
		mustIs(t, err, ErrCorrupt)
		if len(list) != 2 {
			t.Errorf("listed %d backups; want the 2 good ones", len(list))
		}
		for _, want := range []string{"prod-eu/_backups/b3.json", "prod-eu/_backups/b4.json"} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("error does not name %s: %v", want, err)
			}
		}
		// Deduplication goes on with the readable manifests.
		if _, err := r.KnownPacks(ctx, "prod-eu"); err != nil {
			t.Errorf("KnownPacks with a damaged manifest: %v", err)
		}
	})
}

func TestParseManifestRejects(t *testing.T) {
	const sha = "ab12cd34ef56ab12cd34ef56ab12cd34ef56ab12cd34ef56ab12cd34ef56ab12"
	valid := func() *Manifest {
		ref := PackRef{Cluster: "prod-eu", Namespace: "payments", Resource: "deployments.apps", SHA256: sha, Size: 10, RawSize: 20, Encoding: "zstd"}
		return testManifest("prod-eu", "b1", time.Date(2026, 3, 1, 2, 0, 0, 0, time.UTC), PhaseCompleted,
			NewPackEntry(ref, schema.GroupVersionKind{Group: "apps", Version: "v1", Kind: "Deployment"}, []string{"web", "api"}))
	}
	if _, err := ParseManifest(mustMarshal(t, valid())); err != nil {
		t.Fatalf("valid manifest refused: %v", err)
	}
	tests := []struct {
		name   string
		change func(m *Manifest)
		want   string
	}{
		{"format version 0", func(m *Manifest) { m.FormatVersion = 0 }, "formatVersion 0"},
		{"bad ID", func(m *Manifest) { m.ID = "../b1" }, "backup ID"},
		{"bad run ID", func(m *Manifest) { m.RunID = "run/1" }, "run ID"},
		{"reserved cluster", func(m *Manifest) { m.Cluster.Name = "_fleet" }, "reserves"},
		{"unknown phase", func(m *Manifest) { m.Phase = "Running" }, `phase "Running"`},
		{"no start", func(m *Manifest) { m.StartedAt = time.Time{} }, "startedAt"},
		{"ends before start", func(m *Manifest) { m.CompletedAt = m.StartedAt.Add(-time.Second) }, "before startedAt"},
		{"negative count", func(m *Manifest) { m.Stats.Objects = -1 }, "negative"},
		{"short hash", func(m *Manifest) { m.Packs[0].SHA256 = "ab12"; m.Packs[0].Key = m.Packs[0].PackRef.Key() }, "64 lower-case hexadecimal"},
		{"upper-case hash", func(m *Manifest) {
			m.Packs[0].SHA256 = strings.ToUpper(sha)
			m.Packs[0].Key = m.Packs[0].PackRef.Key()
		}, "64 lower-case hexadecimal"},
		{"key not matching", func(m *Manifest) { m.Packs[0].Key = "prod-eu/other/deployments.apps/" + sha + ".yaml.zst" }, "does not match its fields"},
		{"pack of another cluster", func(m *Manifest) { m.Packs[0].Cluster = "dr-us"; m.Packs[0].Key = m.Packs[0].PackRef.Key() }, "not the manifest's cluster"},
		{"namespaced mismatch", func(m *Manifest) { m.Packs[0].Namespaced = false }, "namespaced"},
		{"group mismatch", func(m *Manifest) { m.Packs[0].Group = "" }, "group"},
		{"no kind", func(m *Manifest) { m.Packs[0].Kind = "" }, "kind"},
		{"unsorted objects", func(m *Manifest) { m.Packs[0].Objects = []string{"web", "api"} }, "sorted"},
		{"duplicate object", func(m *Manifest) { m.Packs[0].Objects = []string{"api", "api"} }, "sorted and unique"},
		{"duplicate pack", func(m *Manifest) { m.Packs = append(m.Packs, m.Packs[0]) }, "listed twice"},
		{"other encoding", func(m *Manifest) { m.Packs[0].Encoding = "gzip" }, `encoding "gzip"`},
		{"negative size", func(m *Manifest) { m.Packs[0].Size = -1 }, "negative size"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := valid()
			tt.change(m)
			_, err := ParseManifest(mustMarshal(t, m))
			mustIs(t, err, ErrCorrupt)
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q does not say %q", err, tt.want)
			}
		})
	}
	// A run ID is read back; a manifest written before run IDs existed,
	// without the field, is still read.
	withRun := valid()
	withRun.RunID = "run-20260301T020000Z-1a2b3c"
	if m, err := ParseManifest(mustMarshal(t, withRun)); err != nil || m.RunID != withRun.RunID {
		t.Errorf("manifest with a run ID: %v, %+v", err, m)
	}
	if data := mustMarshal(t, valid()); bytes.Contains(data, []byte("runId")) {
		t.Errorf("a manifest without a run ID writes the field:\n%s", data)
	}

	// What JSON can say that a Manifest cannot.
	data := mustMarshal(t, valid())
	for name, bad := range map[string][]byte{
		"unknown field": bytes.Replace(data, []byte(`"id":`), []byte(`"colour": "red", "id":`), 1),
		"trailing data": append(bytes.Clone(data), []byte(`{}`)...),
		"not JSON":      []byte("phase: Completed\n"),
		"wrong type":    bytes.Replace(data, []byte(`"formatVersion": 1`), []byte(`"formatVersion": "1"`), 1),
	} {
		if _, err := ParseManifest(bad); !errors.Is(err, ErrCorrupt) {
			t.Errorf("%s: %v; want ErrCorrupt", name, err)
		}
	}
	var newer map[string]any
	if err := json.Unmarshal(data, &newer); err != nil {
		t.Fatal(err)
	}
	newer["formatVersion"] = 2
	newer["somethingNew"] = true
	newerData, _ := json.Marshal(newer)
	_, err := ParseManifest(newerData)
	mustIs(t, err, ErrUnsupportedFormat)
	if !strings.Contains(err.Error(), "format version 2") {
		t.Errorf("newer manifest: %v", err)
	}
}
