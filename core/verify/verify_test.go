package verify_test

import (
	"context"
	"slices"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kbackup/kbackup/core/backup"
	"github.com/kbackup/kbackup/core/fleet"
	"github.com/kbackup/kbackup/core/kube"
	"github.com/kbackup/kbackup/core/repo"
	"github.com/kbackup/kbackup/core/selection"
	"github.com/kbackup/kbackup/core/testenv"
	"github.com/kbackup/kbackup/core/testenv/repotest"
	"github.com/kbackup/kbackup/core/testenv/workload"
	"github.com/kbackup/kbackup/core/verify"
)

// Two backups share most packs. One shared pack is deleted and one pack of
// the second backup is overwritten with other bytes, through the storage
// backend: verify finds both, by key, with the backups each breaks.
func TestVerifyFindsMissingAndCorruptPacks(t *testing.T) {
	ctx := context.Background()
	env := testenv.Start(t, testenv.Options{ClusterNames: []string{"v"}, S3: true})
	c := env.Cluster("v")
	if _, err := workload.Install(ctx, c.Config(), workload.Options{Namespace: "shop"}); err != nil {
		t.Fatal(err)
	}
	kc, err := kube.NewClient(c.Config(), kube.ClientOptions{})
	if err != nil {
		t.Fatal(err)
	}
	storage := repotest.S3Options(env.S3, env.S3.NewBucket(t))
	run := func() *repo.Manifest {
		res, err := backup.Run(ctx, kc, repo.NewChooser(storage), backup.Options{ClusterName: "v", BackupSpec: fleet.BackupSpec{Selection: selection.Selection{IncludeNamespaces: []string{"shop"}}}})
		if err != nil {
			t.Fatal(err)
		}
		return res.Manifest
	}
	first := run()
	cs, _ := c.Clientset()
	cm, err := cs.CoreV1().ConfigMaps("shop").Get(ctx, "shop-config", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	cm.Data["LOG_LEVEL"] = "debug"
	if _, err := cs.CoreV1().ConfigMaps("shop").Update(ctx, cm, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	second := run()
	r, err := repo.Open(ctx, storage)
	if err != nil {
		t.Fatal(err)
	}

	healthy, err := verify.All(ctx, r, verify.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if !healthy.Healthy() || healthy.OK != healthy.Packs || len(healthy.Backups) != 2 {
		t.Fatalf("before any damage: %+v", healthy)
	}

	var shared, own repo.PackEntry
	for _, p := range second.Packs {
		inFirst := slices.ContainsFunc(first.Packs, func(q repo.PackEntry) bool { return q.Key == p.Key })
		switch {
		case inFirst && p.Resource == "secrets":
			shared = p
		case !inFirst:
			own = p
		}
	}
	if shared.Key == "" || own.Key == "" || own.Resource != "configmaps" {
		t.Fatalf("packs: shared %q, own %q", shared.Key, own.Key)
	}
	prefix := r.Layout().Prefix()
	if err := r.Backend().Delete(ctx, prefix+shared.Key); err != nil {
		t.Fatal(err)
	}
	if err := r.Backend().Put(ctx, prefix+own.Key, []byte("not a zstd frame")); err != nil {
		t.Fatal(err)
	}

	var events int
	rep, err := verify.Cluster(ctx, r, "v", verify.Options{Concurrency: 4, Progress: func(verify.Event) { events++ }})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Healthy() || rep.Missing != 1 || rep.Corrupt != 1 || rep.OK != rep.Packs-2 || events != rep.Packs {
		t.Fatalf("report %+v (events %d)", rep, events)
	}
	both := []verify.BackupRef{{Cluster: "v", ID: first.ID}, {Cluster: "v", ID: second.ID}}
	wantProblems := map[string]verify.Problem{
		shared.Key: {Key: shared.Key, Status: verify.Missing, Backups: both},
		own.Key:    {Key: own.Key, Status: verify.Corrupt, Backups: both[1:]},
	}
	if len(rep.Problems) != len(wantProblems) {
		t.Errorf("%d problems %+v, want %d: one per damaged pack", len(rep.Problems), rep.Problems, len(wantProblems))
	}
	for _, p := range rep.Problems {
		want, ok := wantProblems[p.Key]
		if !ok || p.Status != want.Status || !slices.Equal(p.Backups, want.Backups) || p.Error == "" {
			t.Errorf("problem %+v, want %+v", p, want)
		}
	}
	for _, b := range rep.Backups {
		switch b.ID {
		case first.ID:
			if b.Missing != 1 || b.Corrupt != 0 || b.OK() {
				t.Errorf("first backup %+v", b)
			}
		case second.ID:
			if b.Missing != 1 || b.Corrupt != 1 {
				t.Errorf("second backup %+v", b)
			}
		}
	}

	// One backup only.
	rep, err = verify.Backups(ctx, r, []*repo.Manifest{first}, verify.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Missing != 1 || rep.Corrupt != 0 || len(rep.Backups) != 1 || rep.Packs != len(first.Packs) ||
		len(rep.Problems) != 1 || rep.Problems[0].Key != shared.Key || rep.Problems[0].Status != verify.Missing {
		t.Errorf("first backup alone: %+v", rep)
	}
}
