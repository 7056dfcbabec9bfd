package backup_test

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"

	"github.com/kbackup/kbackup/core/backup"
	"github.com/kbackup/kbackup/core/fleet"
	"github.com/kbackup/kbackup/core/repo"
	"github.com/kbackup/kbackup/core/selection"
)

// A namespace of large objects (Helm release history) is read in pages of
// a few MiB, not of 500 objects: the first page of a LIST holds a few
// objects, and the next ones about 4 MiB of objects of the size seen. With
// 500 to a page, one LIST response held the whole namespace, decoded and
// encoded again at once (315 MB of memory for 36 MB of data).
func TestLargeObjectsAreListedInPagesOfAFewMiB(t *testing.T) {
	ctx := context.Background()
	cluster := env.Cluster("beta")
	cs, _ := cluster.Clientset()
	const ns = "helm-history"
	const objects, size = 24, 900 << 10
	mustCreate(t, func() error {
		_, err := cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{})
		return err
	})
	for i := range objects {
		mustCreate(t, func() error {
			_, err := cs.CoreV1().ConfigMaps(ns).Create(ctx, &corev1.ConfigMap{
				ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("sh.helm.release.v1.shop.v%02d", i)},
				Data:       map[string]string{"release": strings.Repeat(fmt.Sprintf("%07d", i), size/7)},
			}, metav1.CreateOptions{})
			return err
		})
	}
	var (
		mu     sync.Mutex
		limits []int
	)
	cfg := rest.CopyConfig(cluster.Config())
	cfg.WrapTransport = func(rt http.RoundTripper) http.RoundTripper {
		return roundTripper(func(req *http.Request) (*http.Response, error) {
			if req.Method == http.MethodGet && strings.HasSuffix(req.URL.Path, "/namespaces/"+ns+"/configmaps") {
				limit, _ := strconv.Atoi(req.URL.Query().Get("limit"))
				mu.Lock()
				limits = append(limits, limit)
				mu.Unlock()
			}
			return rt.RoundTrip(req)
		})
	}
	tgt, _ := s3Storage(t)
	res, err := backup.Run(ctx, client(t, cfg), tgt.Chooser, backup.Options{
		ClusterName: "beta", BackupSpec: fleet.BackupSpec{Selection: selection.Selection{IncludeNamespaces: []string{ns}, IncludeResources: []string{"configmaps"}}},
	})
	if err != nil {
		t.Fatal(err)
	}
	if m := res.Manifest; m.Phase != repo.PhaseCompleted || m.Stats.Objects != objects || len(m.Packs) != 1 {
		t.Fatalf("phase %s, %d objects in %d packs; want Completed, %d in one", m.Phase, m.Stats.Objects, len(m.Packs), objects)
	}
	// 4 MiB of 900 KiB objects is 4 or 5 of them.
	if len(limits) < 3 || limits[0] > 16 {
		t.Errorf("LIST limits %v: want a small first page and more pages after it", limits)
	}
	for _, l := range limits[1:] {
		if l > 5 {
			t.Errorf("LIST limits %v: a page after the first asked for %d objects of 900 KiB; want about 4 MiB of them", limits, l)
		}
	}
	// The pack, compressed as its objects came, reads back whole.
	objs := readBackup(t, openRepo(t, tgt.Primary), res.Manifest)
	if len(objs) != objects {
		t.Errorf("%d objects read back, want %d", len(objs), objects)
	}
}
