package backup_test

import (
	"context"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kbackup/kbackup/core/backup"
	"github.com/kbackup/kbackup/core/fleet"
	"github.com/kbackup/kbackup/core/repo"
	"github.com/kbackup/kbackup/core/selection"
	"github.com/kbackup/kbackup/core/testenv"
	"github.com/kbackup/kbackup/core/testenv/repotest"
)

// One process backs up three clusters through one chooser: the run opens
// and probes its repository once, and has one storage circuit breaker.
func TestThreeClustersOneRun(t *testing.T) {
	ctx := context.Background()
	names := []string{"a", "b", "c"}
	three := testenv.Start(t, testenv.Options{ClusterNames: names, S3: true})
	primary := repotest.S3Options(three.S3, three.S3.NewBucket(t))
	target := repo.NewChooser(primary)

	for _, name := range names {
		cs, err := three.Cluster(name).Clientset()
		if err != nil {
			t.Fatal(err)
		}
		if _, err := cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "fleet"}}, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		if _, err := cs.CoreV1().ConfigMaps("fleet").Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "from-" + name}}, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	var repos []*repo.Repository
	for _, name := range names {
		res, err := backup.Run(ctx, client(t, three.Cluster(name).Config()), target, backup.Options{
			ClusterName: "cluster-" + name, BackupSpec: fleet.BackupSpec{Selection: selection.Selection{IncludeNamespaces: []string{"fleet"}}},
		})
		if err != nil {
			t.Fatalf("cluster %s: %v", name, err)
		}
		if res.UsedFallback() || res.Manifest.Phase != repo.PhaseCompleted || res.Manifest.Stats.Objects == 0 {
			t.Errorf("cluster %s: phase %s, %d objects, attempts %v", name, res.Manifest.Phase, res.Manifest.Stats.Objects, res.Attempts)
		}
		r, err := target.Repository(ctx)
		if err != nil {
			t.Fatal(err)
		}
		repos = append(repos, r)
	}
	if repos[0] != repos[1] || repos[1] != repos[2] {
		t.Error("the three backups did not share one repository handle")
	}
	st := target.Stats()
	if st.Opens != 1 || st.Probes != 1 || st.Switches != 0 || st.Failures != 0 {
		t.Errorf("run stats %+v; want one open and one probe for the whole run", st)
	}
	if breakers := target.Breakers(); len(breakers) != 1 || st.Breakers != 1 || breakers[0].Name() != three.S3.Endpoint || breakers[0].State() != "closed" {
		t.Errorf("run breakers: %d (stats %d); want one, closed, for %s", len(breakers), st.Breakers, three.S3.Endpoint)
	}
	clusters, err := repos[0].Clusters(ctx)
	if err != nil || len(clusters) != 3 {
		t.Errorf("clusters in the repository: %v, %v; want three", clusters, err)
	}
	t.Logf("three clusters, one run: %+v", st)
}
