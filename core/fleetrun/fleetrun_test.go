package fleetrun_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"

	"github.com/kbackup/kbackup/core/backup"
	"github.com/kbackup/kbackup/core/fleet"
	"github.com/kbackup/kbackup/core/fleetrun"
	"github.com/kbackup/kbackup/core/repo"
	"github.com/kbackup/kbackup/core/selection"
	"github.com/kbackup/kbackup/core/storage"
	"github.com/kbackup/kbackup/core/testenv"
	"github.com/kbackup/kbackup/core/testenv/repotest"
)

// Three clusters and an S3 server, shared by the package's tests; none of
// them stops a server of it.
var shared = testenv.Shared{Options: testenv.Options{ClusterNames: []string{"east", "west", "north"}, S3: true}}

func TestMain(m *testing.M) {
	code := m.Run()
	shared.Stop()
	os.Exit(code)
}

var seedOnce sync.Once

// env returns the shared environment with a namespace "fleet" of three
// ConfigMaps in each cluster (and kube-root-ca.crt: four objects).
func env(t *testing.T) *testenv.Env {
	t.Helper()
	e := shared.Get(t)
	var err error
	seedOnce.Do(func() {
		for _, c := range e.Clusters {
			cs, cerr := c.Clientset()
			if cerr != nil {
				err = cerr
				return
			}
			ctx := context.Background()
			if _, err = cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "fleet"}}, metav1.CreateOptions{}); err != nil {
				return
			}
			for i := range 3 {
				cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("%s-%d", c.Name, i)}, Data: map[string]string{"k": "v"}}
				if _, err = cs.CoreV1().ConfigMaps("fleet").Create(ctx, cm, metav1.CreateOptions{}); err != nil {
					return
				}
			}
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func fleetOnly() backup.Options {
	return backup.Options{BackupSpec: fleet.BackupSpec{Selection: selection.Selection{IncludeNamespaces: []string{"fleet"}}}}
}

func clusterOf(c *testenv.Cluster, priority int) fleetrun.Cluster {
	return fleetrun.Cluster{Context: c.Name, Config: c.Config(), Priority: priority}
}

// down is a cluster whose API server refuses connections: its address is
// one where nothing listens, as after the server stopped.
func down(t *testing.T, like *testenv.Cluster, name string) fleetrun.Cluster {
	cfg := like.Config()
	cfg.Host = "https://" + testenv.ClosedAddress(t)
	return fleetrun.Cluster{Context: name, Config: cfg}
}

// Every cluster is backed up once, higher priority first, and the
// manifests of the run carry its ID.
func TestRunBacksUpInPriorityOrderWithOneRunID(t *testing.T) {
	e := env(t)
	primary := repotest.S3Options(e.S3, e.S3.NewBucket(t))
	clusters := []fleetrun.Cluster{clusterOf(e.Clusters[0], 1), clusterOf(e.Clusters[1], 5), clusterOf(e.Clusters[2], 3)}
	var (
		mu      sync.Mutex
		started []string
	)
	res, err := fleetrun.Run(context.Background(), clusters, repo.NewChooser(primary), fleetrun.Options{
		RunID: "run-priority", Concurrency: 1, Backup: fleetOnly(),
		Progress: func(ev fleetrun.Event) {
			if ev.Kind == fleetrun.EventConnecting {
				mu.Lock()
				started = append(started, ev.Context)
				mu.Unlock()
			}
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	if want := "west,north,east"; strings.Join(started, ",") != want {
		t.Errorf("clusters started in order %v, want %s (priority 5, 3, 1)", started, want)
	}
	r, err := repo.Open(context.Background(), primary)
	if err != nil {
		t.Fatal(err)
	}
	for i, c := range res.Clusters {
		if c.Context != strings.Split("west,north,east", ",")[i] {
			t.Errorf("result %d is %s: results are not in the run's order", i, c.Context)
		}
		if c.Result != fleetrun.Completed || c.Objects != 4 || c.BytesUploaded == 0 || c.BackupID == "" || c.Error != "" || c.Attempts != 1 || c.Duration <= 0 {
			t.Errorf("cluster %s: %+v", c.Context, c)
			continue
		}
		m, err := r.ReadManifest(context.Background(), c.Cluster, c.BackupID)
		if err != nil {
			t.Fatal(err)
		}
		if m.RunID != "run-priority" {
			t.Errorf("manifest of %s has run ID %q, want the run's", c.Cluster, m.RunID)
		}
	}
	if res.RunID != "run-priority" || res.Count(fleetrun.Completed) != 3 {
		t.Errorf("result: run %q, %d completed", res.RunID, res.Count(fleetrun.Completed))
	}
}

// A cluster that refuses connections is given up within its connect
// timeout, and the others complete as if it were not there.
func TestUnreachableClusterCostsAtMostItsConnectTimeout(t *testing.T) {
	e := env(t)
	primary := repotest.S3Options(e.S3, e.S3.NewBucket(t))
	const connect = 3 * time.Second
	clusters := []fleetrun.Cluster{clusterOf(e.Clusters[0], 0), down(t, e.Clusters[0], "gone"), clusterOf(e.Clusters[1], 0)}
	started := time.Now()
	res, err := fleetrun.Run(context.Background(), clusters, repo.NewChooser(primary), fleetrun.Options{
		Concurrency: 3, ConnectTimeout: connect, Backup: fleetOnly(), RetryInterval: 200 * time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	took := time.Since(started)
	var gone fleetrun.ClusterResult
	for _, c := range res.Clusters {
		if c.Context == "gone" {
			gone = c
			continue
		}
		if c.Result != fleetrun.Completed {
			t.Errorf("cluster %s: %s (%s)", c.Context, c.Result, c.Error)
		}
	}
	if gone.Result != fleetrun.NotBackedUp || !strings.Contains(gone.Error, "connection refused") || gone.Attempts < 2 {
		t.Errorf("the cluster that is down: %+v; want NotBackedUp, tried again, saying connection refused", gone)
	}
	// The budget: the connect timeout, and a margin for a loaded machine.
	if gone.Duration > connect+2*time.Second {
		t.Errorf("the cluster that is down cost %s; its connect timeout is %s", gone.Duration, connect)
	}
	if took > connect+20*time.Second {
		t.Errorf("the run took %s", took)
	}
	if res.Count(fleetrun.Completed) != 2 {
		t.Errorf("%d completed, want 2", res.Count(fleetrun.Completed))
	}
}

// A cluster behind a network slower than the request timeout is given up
// within the connect timeout; the others are not held up by it.
func TestSlowClusterIsGivenUpWithinItsTimeouts(t *testing.T) {
	e := env(t)
	primary := repotest.S3Options(e.S3, e.S3.NewBucket(t))
	slow := e.Clusters[2]
	proxy := testenv.StartLatencyProxy(t, strings.TrimPrefix(slow.Server, "https://"), 1500*time.Millisecond)
	cfg := slow.Config()
	cfg.Host = "https://" + proxy.Addr
	const connect, request = 4 * time.Second, time.Second
	clusters := []fleetrun.Cluster{clusterOf(e.Clusters[0], 0), {Context: "slow", Config: cfg}}
	res, err := fleetrun.Run(context.Background(), clusters, repo.NewChooser(primary), fleetrun.Options{
		Concurrency: 2, ConnectTimeout: connect, RequestTimeout: request, Backup: fleetOnly(), RetryInterval: 200 * time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]fleetrun.ClusterResult{}
	for _, c := range res.Clusters {
		got[c.Context] = c
	}
	s := got["slow"]
	if s.Result != fleetrun.NotBackedUp || !strings.Contains(s.Error, "connect timeout of 4s") {
		t.Errorf("the slow cluster: %+v; want NotBackedUp for the connect timeout", s)
	}
	if s.Duration > connect+2*time.Second {
		t.Errorf("the slow cluster cost %s; its connect timeout is %s", s.Duration, connect)
	}
	if c := got[e.Clusters[0].Name]; c.Result != fleetrun.Completed {
		t.Errorf("the healthy cluster: %+v", c)
	}
}

// When the primary storage cannot be written, the run's backups go to the
// fallback, and the result says which location failed and why.
func TestStorageThatFailsMovesTheRunToTheFallback(t *testing.T) {
	e := env(t)
	dead := repotest.S3Options(e.S3, "dead-primary")
	dead.Location.Endpoint = "http://" + testenv.ClosedAddress(t)
	fallback := repotest.S3Options(e.S3, e.S3.NewBucket(t))
	clusters := []fleetrun.Cluster{clusterOf(e.Clusters[0], 0), clusterOf(e.Clusters[1], 0)}
	res, err := fleetrun.Run(context.Background(), clusters, repo.NewChooser(dead, fallback), fleetrun.Options{Concurrency: 2, Backup: fleetOnly()})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range res.Clusters {
		if c.Result != fleetrun.Completed || !c.FallbackUsed || !strings.Contains(c.Location, fallback.Location.Bucket) {
			t.Errorf("cluster %s: %+v; want Completed in the fallback", c.Context, c)
		}
	}
	if len(res.StorageAttempts) != 1 || !strings.Contains(res.StorageAttempts[0].Location, "dead-primary") {
		t.Errorf("storage failures %+v; want the primary's", res.StorageAttempts)
	}
}

// A cluster the run could not even look for is reported with its reason
// and not contacted.
func TestClusterWithAnErrorIsReportedNotTried(t *testing.T) {
	e := env(t)
	primary := repotest.S3Options(e.S3, e.S3.NewBucket(t))
	why := errors.New("registered cluster prod-eu: its context prod did not answer")
	clusters := []fleetrun.Cluster{{Context: "prod", ClusterName: "prod-eu", Environment: "prod", Config: &rest.Config{Host: "https://" + testenv.ClosedAddress(t)}, Err: why}}
	res, err := fleetrun.Run(context.Background(), clusters, repo.NewChooser(primary), fleetrun.Options{})
	if err != nil {
		t.Fatal(err)
	}
	c := res.Clusters[0]
	if c.Result != fleetrun.NotBackedUp || c.Error != why.Error() || c.Cluster != "prod-eu" || c.Environment != "prod" || c.Attempts != 0 {
		t.Errorf("got %+v", c)
	}
}

func TestValidate(t *testing.T) {
	for _, tc := range []struct {
		opts fleetrun.Options
		want string
	}{
		{fleetrun.Options{Concurrency: -1}, "concurrency: Invalid value: -1: want 1 to 256"},
		{fleetrun.Options{Concurrency: 1000}, "concurrency: Invalid value: 1000"},
		{fleetrun.Options{ConnectTimeout: -time.Second}, "connect_timeout: Invalid value: \"-1s\""},
		{fleetrun.Options{RequestTimeout: -time.Second}, "request_timeout"},
		{fleetrun.Options{Attempts: 11}, "attempts"},
		{fleetrun.Options{RunID: "-x"}, "run_id"},
		{fleetrun.Options{Backup: backup.Options{Name: "mine"}}, "backup.name"},
		{fleetrun.Options{Backup: backup.Options{ClusterName: "prod"}}, "backup.cluster_name"},
		{fleetrun.Options{Backup: backup.Options{BackupSpec: fleet.BackupSpec{Selection: selection.Selection{LabelSelector: "a in (b"}}}}, "backup.spec.label_selector"},
	} {
		err := tc.opts.Validate()
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Validate(%+v) = %v, want an error containing %q", tc.opts, err, tc.want)
		}
	}
	if err := (fleetrun.Options{Concurrency: 3}).Validate(); err != nil {
		t.Errorf("valid options: %v", err)
	}
	if _, err := fleetrun.Run(context.Background(), nil, nil, fleetrun.Options{Concurrency: -1}); err == nil {
		t.Error("Run took options Validate refuses")
	}
}

func TestTransient(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want bool
	}{
		{context.DeadlineExceeded, true},
		{fmt.Errorf("x: %w", storage.ErrStorageUnavailable), false},
		{fmt.Errorf("x: %w", repo.ErrClusterNameTaken), false},
		{context.Canceled, false},
		{errors.New("something else"), false},
	} {
		if got := fleetrun.Transient(tc.err); got != tc.want {
			t.Errorf("Transient(%v) = %v, want %v", tc.err, got, tc.want)
		}
	}
}

// --fleet's matching: registered clusters are found by the UID of their
// kube-system namespace, whatever their contexts are called.
func TestMatchRegistryByIdentity(t *testing.T) {
	e := env(t)
	ctx := context.Background()
	uid := func(c *testenv.Cluster) string {
		cs, err := c.Clientset()
		if err != nil {
			t.Fatal(err)
		}
		ns, err := cs.CoreV1().Namespaces().Get(ctx, "kube-system", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return string(ns.UID)
	}
	east, west, north := e.Clusters[0], e.Clusters[1], e.Clusters[2]
	downAddr := "https://" + testenv.ClosedAddress(t)
	entries := []*fleet.ClusterEntry{
		{Name: "east", UID: uid(east), Environment: "dev", Priority: 1},
		{Name: "prod-north", UID: uid(north), Environment: "prod", Priority: 10},
		{Name: "ghost", UID: "00000000-0000-0000-0000-000000000000"},
		{Name: "down-reg", UID: "11111111-1111-1111-1111-111111111111", Server: downAddr, Environment: "test"},
	}
	downCfg := east.Config()
	downCfg.Host = downAddr
	candidates := []fleetrun.Candidate{
		{Context: "east", Config: east.Config()},
		{Context: "east-again", Config: east.Config()},
		{Context: "west", Config: west.Config()},
		{Context: "north-admin", Config: north.Config()},
		{Context: "down", Config: downCfg},
	}
	started := time.Now()
	m := fleetrun.MatchRegistry(ctx, candidates, entries, 3*time.Second)
	if took := time.Since(started); took > 5*time.Second {
		t.Errorf("matching took %s with a timeout of 3s", took)
	}
	got := map[string]fleetrun.Cluster{}
	for _, c := range m.Clusters {
		got[c.ClusterName] = c
	}
	if len(got) != 3 || got["east"].Context != "east" || got["east"].Err != nil ||
		got["prod-north"].Context != "north-admin" || got["prod-north"].Priority != 10 || got["prod-north"].Environment != "prod" ||
		got["down-reg"].Context != "down" || got["down-reg"].Err == nil {
		t.Errorf("clusters: %+v", m.Clusters)
	}
	if fmt.Sprint(m.Unregistered, m.Duplicates, m.NotReached) != "[west] [east-again] [ghost]" {
		t.Errorf("unregistered %v, duplicates %v, not reached %v", m.Unregistered, m.Duplicates, m.NotReached)
	}
}
