package backup_test

import (
	"context"
	"fmt"
	"net/http"
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

// listCounter counts the LISTs of one resource path that start a read (no
// continue token): a type read twice shows as two.
type listCounter struct {
	suffix string
	mu     sync.Mutex
	starts []string
}

func (c *listCounter) wrap(rt http.RoundTripper) http.RoundTripper {
	return roundTripper(func(req *http.Request) (*http.Response, error) {
		q := req.URL.Query()
		if req.Method == http.MethodGet && strings.HasSuffix(req.URL.Path, c.suffix) && q.Get("continue") == "" && q.Get("watch") == "" {
			c.mu.Lock()
			c.starts = append(c.starts, req.URL.Path)
			c.mu.Unlock()
		}
		return rt.RoundTrip(req)
	})
}

type roundTripper func(*http.Request) (*http.Response, error)

func (f roundTripper) RoundTrip(req *http.Request) (*http.Response, error) { return f(req) }

// etcd returns a cluster-wide LIST in key order, <namespace>/<name>, so the
// ConfigMaps of shop-dev and shop-prod come before those of shop ('-' sorts
// before '/'). The backup streams them a namespace at a time and reads the
// type once; it used to compare namespace names with <, take that order
// for an unsorted server's, and read the type again, holding it whole.
// (Namespace names are DNS labels, so no '.' can take part: the order
// function itself is tested with one.)
func TestPrefixedNamespacesAreReadOnce(t *testing.T) {
	ctx := context.Background()
	cluster := env.Cluster("alpha")
	cs, _ := cluster.Clientset()
	namespaces := []string{"keyorder", "keyorder-dev", "keyorder-prod", "keyorder0"}
	for _, ns := range namespaces {
		mustCreate(t, func() error {
			_, err := cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{})
			return err
		})
		for i := range 3 {
			mustCreate(t, func() error {
				_, err := cs.CoreV1().ConfigMaps(ns).Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("cm-%d", i)}}, metav1.CreateOptions{})
				return err
			})
		}
	}
	for _, tc := range []struct {
		name    string
		include []string
		lists   int // LISTs of configmaps that start a read
	}{
		{"one cluster-wide LIST", []string{"keyorder*"}, 1},
		{"a LIST per named namespace", namespaces, len(namespaces)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			counter := &listCounter{suffix: "/configmaps"}
			cfg := rest.CopyConfig(cluster.Config())
			cfg.WrapTransport = counter.wrap
			tgt, _ := s3Storage(t)
			res, err := backup.Run(ctx, client(t, cfg), tgt.Chooser, backup.Options{
				ClusterName: "alpha",
				BackupSpec: fleet.BackupSpec{Selection: selection.Selection{
					IncludeNamespaces: tc.include, IncludeResources: []string{"configmaps"},
				}},
			})
			if err != nil {
				t.Fatal(err)
			}
			if len(counter.starts) != tc.lists {
				t.Errorf("%d LISTs of configmaps started (%v), want %d: the type was read again", len(counter.starts), counter.starts, tc.lists)
			}
			got := map[string]int{}
			for _, p := range res.Manifest.Packs {
				if p.Resource == "configmaps" {
					got[p.Namespace] += len(p.Objects)
				}
			}
			for _, ns := range namespaces {
				// Each namespace also holds its kube-root-ca.crt when a
				// controller runs; the test cluster runs none.
				if got[ns] != 3 {
					t.Errorf("namespace %s: %d ConfigMaps in the backup, want 3 (packs %v)", ns, got[ns], got)
				}
			}
			if res.Manifest.Phase != repo.PhaseCompleted {
				t.Errorf("phase %s, want Completed", res.Manifest.Phase)
			}
		})
	}
}
