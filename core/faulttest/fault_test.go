package faulttest

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/kbackup/kbackup/core/backup"
	"github.com/kbackup/kbackup/core/clean"
	"github.com/kbackup/kbackup/core/fleet"
	"github.com/kbackup/kbackup/core/kube"
	"github.com/kbackup/kbackup/core/repo"
	"github.com/kbackup/kbackup/core/restore"
	"github.com/kbackup/kbackup/core/selection"
	"github.com/kbackup/kbackup/core/storage"
	"github.com/kbackup/kbackup/core/testenv"
	"github.com/kbackup/kbackup/core/testenv/repotest"
	"github.com/kbackup/kbackup/core/verify"
)

// DurationEnv sets how long the faults last (a Go duration); make soak
// sets it from DURATION.
const DurationEnv = "KBACKUP_FAULT_DURATION"

const (
	namespaces    = 16
	configMaps    = 10
	gracePeriod   = time.Second
	markerTTL     = 3 * time.Second
	toggledValues = 3
)

// stats are what the test did, printed at the end.
type stats struct {
	committed, failed, waitedOut          atomic.Int64
	collections, skipped, collectFailures atomic.Int64
	deletes, packsDeleted                 atomic.Int64
	kills, mutations                      atomic.Int64
	longestBackup                         atomic.Int64 // nanoseconds
	watchRounds, watchedPacks             atomic.Int64
}

// ledger remembers which backups were committed and which the test asked
// to delete: a committed backup that is neither deleted nor listed at the
// end is lost.
type ledger struct {
	mu        sync.Mutex
	committed map[string]*repo.Manifest // cluster/id
	deleting  map[string]bool
}

func (l *ledger) commit(m *repo.Manifest) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.committed[m.Cluster.Name+"/"+m.ID] = m
}

func (l *ledger) deleteIntent(cluster, id string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.deleting[cluster+"/"+id] = true
}

// watchLosses looks, until ctx ends, at every listed backup: a pack it
// names that the storage does not hold while its manifest exists, before
// and after the look, is lost. It catches a loss that retention would
// otherwise hide by deleting the damaged backup before the end.
func watchLosses(ctx context.Context, r *repo.Repository, clusters []string, st *stats, report func(string)) {
	for sleep(ctx, 500*time.Millisecond) {
		st.watchRounds.Add(1)
		for _, name := range clusters {
			backups, err := r.ListBackups(ctx, name)
			if err != nil {
				continue
			}
			for _, m := range backups {
				var missing []string
				for _, p := range m.Packs {
					st.watchedPacks.Add(1)
					if _, err := r.Backend().Stat(ctx, r.Layout().Prefix()+p.Key); errors.Is(err, storage.ErrNotFound) {
						missing = append(missing, p.Key)
					}
				}
				if len(missing) == 0 {
					continue
				}
				// The manifest existed when listed; if it still does, it
				// existed all along (an ID is committed once), while its
				// packs were missing.
				if _, err := r.ReadManifest(ctx, name, m.ID); err == nil {
					report(fmt.Sprintf("backup %s of %s (committed at %s) names %d packs the storage does not hold: %v",
						m.ID, name, m.CompletedAt.Format(time.RFC3339Nano), len(missing), missing))
				}
			}
		}
	}
}

// Backups of two real clusters run concurrently with deletes and garbage
// collection under a short grace period and marker TTL, while the S3
// server is killed and restarted and a TCP proxy in front of it drops,
// delays and cuts connections. At the end every backup the repository
// lists must verify complete, every committed backup not deleted must be
// listed, and the last backup of each cluster must restore equal to the
// cluster.
func TestBackupsAndCollectionsUnderFaults(t *testing.T) {
	duration := time.Minute
	if v := os.Getenv(DurationEnv); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil {
			t.Fatalf("%s=%q: %v; want a Go duration such as 10m", DurationEnv, v, err)
		}
		duration = d
	}
	ctx := context.Background()
	clusters := []string{"alpha", "beta"}
	env := testenv.Start(t, testenv.Options{ClusterNames: clusters, S3: true})
	clients := map[string]*kube.Client{}
	clientsets := map[string]*kubernetes.Clientset{}
	for _, name := range clusters {
		c, err := kube.NewClient(env.Cluster(name).Config(), kube.ClientOptions{QPS: -1})
		if err != nil {
			t.Fatal(err)
		}
		clients[name] = c
		cs, err := env.Cluster(name).Clientset()
		if err != nil {
			t.Fatal(err)
		}
		clientsets[name] = cs
		fill(t, cs)
	}

	proxy, err := NewProxy(env.S3.Host())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(proxy.Close)
	bucket := env.S3.NewBucket(t)
	direct := repotest.S3Options(env.S3, bucket)
	direct.GCGracePeriod, direct.InProgressTTL = gracePeriod, markerTTL
	if _, err := repo.Open(ctx, direct); err != nil {
		t.Fatal(err)
	}
	faulty := direct
	faulty.Location.Endpoint = "http://" + proxy.Addr()
	faulty.Storage = storage.Options{MaxAttempts: 4, DialTimeout: time.Second, ResponseTimeout: 3 * time.Second, StallTimeout: 5 * time.Second, OpenFor: 500 * time.Millisecond}

	var st stats
	book := &ledger{committed: map[string]*repo.Manifest{}, deleting: map[string]bool{}}
	runCtx, stop := context.WithTimeout(ctx, duration)
	defer stop()
	mutateUntil := time.Now().Add(duration * 3 / 4)
	proxy.SetFaults(true)
	var wg sync.WaitGroup
	var (
		lossMu sync.Mutex
		losses []string
	)
	watcher, err := repo.Open(ctx, direct)
	if err != nil {
		t.Fatal(err)
	}
	wg.Go(func() {
		watchLosses(runCtx, watcher, clusters, &st, func(msg string) {
			lossMu.Lock()
			defer lossMu.Unlock()
			if !slices.Contains(losses, msg) {
				losses = append(losses, msg)
			}
		})
	})

	// The S3 server dies and comes back.
	wg.Go(func() {
		for sleep(runCtx, time.Duration(5000+rand.IntN(5000))*time.Millisecond) {
			env.S3.Kill()
			st.kills.Add(1)
			time.Sleep(time.Duration(300+rand.IntN(900)) * time.Millisecond)
			if err := restart(env.S3); err != nil {
				t.Errorf("restarting the S3 server: %v", err)
				return
			}
		}
	})
	for _, name := range clusters {
		// The cluster changes, among a few states, so that packs come
		// back after their last backup was deleted.
		wg.Go(func() {
			for time.Now().Before(mutateUntil) && sleep(runCtx, time.Duration(100+rand.IntN(300))*time.Millisecond) {
				ns := fmt.Sprintf("app-%d", rand.IntN(namespaces))
				if err := setToggle(runCtx, clientsets[name], ns, rand.IntN(toggledValues)); err == nil {
					st.mutations.Add(1)
				}
			}
		})
		// Backups, one after the other with short pauses.
		wg.Go(func() {
			for runCtx.Err() == nil {
				started := time.Now()
				res, err := backup.Run(runCtx, clients[name], repo.NewChooser(faulty), backup.Options{
					ClusterName: name,
					// One type at a time: backups as long as a larger
					// cluster's, several times the marker TTL when the
					// faults slow them.
					Concurrency: 1,
					BackupSpec:  fleet.BackupSpec{Selection: selection.Selection{IncludeNamespaces: []string{"app-*"}}},
				})
				switch {
				case err == nil:
					if took := int64(time.Since(started)); took > st.longestBackup.Load() {
						st.longestBackup.Store(took)
					}
					st.committed.Add(1)
					book.commit(res.Manifest)
				case runCtx.Err() != nil:
					st.waitedOut.Add(1)
				default:
					st.failed.Add(1)
					t.Logf("backup of %s failed (expected under faults): %v", name, firstLine(err))
				}
				// A short pause, or one time in three an idle while, as
				// between scheduled backups: collections skip a cluster
				// while its backup runs, and without idle whiles a loaded
				// machine's slower backups left them none to run in.
				pause := time.Duration(rand.IntN(800)) * time.Millisecond
				if rand.IntN(3) == 0 {
					pause = time.Duration(1500+rand.IntN(1500)) * time.Millisecond
				}
				sleep(runCtx, pause)
			}
		})
	}
	// Retention and garbage collection.
	wg.Go(func() {
		r, err := repo.Open(ctx, faulty)
		for err != nil && runCtx.Err() == nil {
			sleep(runCtx, time.Second)
			r, err = repo.Open(ctx, faulty)
		}
		if err != nil {
			return
		}
		for sleep(runCtx, time.Duration(100+rand.IntN(300))*time.Millisecond) {
			name := clusters[rand.IntN(len(clusters))]
			var report *repo.GCReport
			if rand.IntN(3) == 0 {
				report, err = r.CollectGarbage(runCtx, name, repo.GCOptions{})
			} else {
				backups, lerr := r.ListBackups(runCtx, name)
				if lerr != nil || len(backups) < 2 {
					continue
				}
				// Delete all but the newest, or one at random: either can
				// leave a pack that a running backup needs unreferenced.
				victims := backups[:len(backups)-1]
				if rand.IntN(2) == 0 {
					victims = victims[rand.IntN(len(victims)):][:1]
				}
				for _, m := range victims {
					book.deleteIntent(name, m.ID)
					report, err = r.DeleteBackup(runCtx, name, m.ID)
					st.deletes.Add(1)
					if err != nil {
						break
					}
				}
			}
			st.collections.Add(1)
			if report != nil {
				st.packsDeleted.Add(int64(len(report.Deleted)))
				if report.SkippedBecause != "" {
					st.skipped.Add(1)
				}
			}
			if err != nil {
				st.collectFailures.Add(1)
			}
		}
	})
	wg.Wait()
	proxy.SetFaults(false)
	faults := proxy.Counts()
	if err := env.S3.Ping(ctx); err != nil {
		if err := restart(env.S3); err != nil {
			t.Fatalf("the S3 server does not come back: %v", err)
		}
	}

	// Every backup the repository lists is complete; every committed
	// backup not deleted is listed.
	r, err := repo.Open(ctx, direct)
	if err != nil {
		t.Fatal(err)
	}
	var listed []*repo.Manifest
	for _, name := range clusters {
		ms, err := r.ListBackups(ctx, name)
		if err != nil {
			t.Fatalf("listing the backups of %s: %v", name, err)
		}
		listed = append(listed, ms...)
	}
	isListed := map[string]bool{}
	for _, m := range listed {
		isListed[m.Cluster.Name+"/"+m.ID] = true
	}
	var lostManifests []string
	for _, k := range slices.Sorted(maps.Keys(book.committed)) {
		if !isListed[k] && !book.deleting[k] {
			lostManifests = append(lostManifests, k)
		}
	}
	report, err := verify.Backups(ctx, r, listed, verify.Options{})
	if err != nil {
		t.Fatal(err)
	}
	lost := report.Missing + report.Corrupt + len(lostManifests) + len(losses)
	summary := fmt.Sprintf(`fault test, %s of faults:
  backups:     %d committed, %d failed, %d cut short at the end (longest committed: %s); %d listed at the end
  collections: %d run (%d deletes of backups), %d skipped for a running backup, %d failed; %d packs deleted
  faults:      S3 server killed %d times; proxy: %d connections, %d dropped, %d delayed, %d slowed, %d cut; %d changes to the clusters
  watched:     %d rounds over every listed backup while it ran, %d pack checks; %d backups found naming missing packs
  verified:    %d backups at the end, %d packs checked (%d bytes): %d OK, %d missing, %d corrupt, %d unreadable
  lost:        %d`,
		duration, st.committed.Load(), st.failed.Load(), st.waitedOut.Load(), time.Duration(st.longestBackup.Load()).Round(time.Millisecond), len(listed),
		st.collections.Load(), st.deletes.Load(), st.skipped.Load(), st.collectFailures.Load(), st.packsDeleted.Load(),
		st.kills.Load(), faults.Connections, faults.Dropped, faults.Delayed, faults.Slowed, faults.Cut, st.mutations.Load(),
		st.watchRounds.Load(), st.watchedPacks.Load(), len(losses),
		len(report.Backups), report.Packs, report.Bytes, report.OK, report.Missing, report.Corrupt, report.Unreadable, lost)
	t.Log(summary)
	fmt.Println(summary)
	for _, msg := range losses {
		t.Errorf("lost while the test ran: %s", msg)
	}
	for _, k := range lostManifests {
		t.Errorf("backup %s was committed and not deleted, and its manifest is gone", k)
	}
	for _, p := range report.Problems {
		t.Errorf("pack %s is %s (%s), named by %v", p.Key, p.Status, p.Error, p.Backups)
	}
	if len(report.ManifestErrors) > 0 {
		t.Errorf("unreadable manifests: %v", report.ManifestErrors)
	}
	if st.committed.Load() == 0 || st.packsDeleted.Load() == 0 || st.kills.Load() == 0 || faults.Cut+faults.Dropped == 0 {
		t.Errorf("the run exercised too little to tell anything (committed %d, packs deleted %d, kills %d, cut or dropped %d)",
			st.committed.Load(), st.packsDeleted.Load(), st.kills.Load(), faults.Cut+faults.Dropped)
	}

	// The last backup of each cluster restores equal to the cluster.
	for _, name := range clusters {
		checkLastRestores(t, r, direct, clients[name], clientsets[name], env.Cluster(name), name, listed, mutateUntil)
	}
}

// checkLastRestores restores the last backup of a cluster, taken after the
// cluster stopped changing (or a new one when the faults left none), into
// renamed namespaces of the same cluster, and compares every ConfigMap with
// its source.
func checkLastRestores(t *testing.T, r *repo.Repository, direct repo.Options, client *kube.Client, cs *kubernetes.Clientset,
	cluster *testenv.Cluster, name string, listed []*repo.Manifest, stillAfter time.Time) {
	t.Helper()
	ctx := context.Background()
	var last *repo.Manifest
	for _, m := range listed {
		if m.Cluster.Name == name && m.Phase == repo.PhaseCompleted && m.StartedAt.After(stillAfter.Add(time.Second)) &&
			(last == nil || m.StartedAt.After(last.StartedAt)) {
			last = m
		}
	}
	if last == nil {
		t.Logf("%s: no backup was committed after the cluster stopped changing; taking one without faults", name)
		res, err := backup.Run(ctx, client, repo.NewChooser(direct), backup.Options{
			ClusterName: name,
			BackupSpec:  fleet.BackupSpec{Selection: selection.Selection{IncludeNamespaces: []string{"app-*"}}},
		})
		if err != nil {
			t.Fatal(err)
		}
		last = res.Manifest
	}
	repotest.CheckBackupHoldsCluster(t, r, last, cluster, func(ns string) bool { return strings.HasPrefix(ns, "app-") })
	mapping := clean.NamespaceMapping{}
	for i := range namespaces {
		mapping[fmt.Sprintf("app-%d", i)] = fmt.Sprintf("restored-%d", i)
	}
	plan, err := restore.NewPlan(ctx, restore.PlanInput{Repository: r, Manifest: last, Target: client, Options: restore.Options{
		Selection:         selection.Selection{IncludeNamespaces: slices.Sorted(maps.Keys(mapping))},
		NamespaceMapping:  mapping,
		TargetClusterName: name,
	}})
	if err != nil {
		t.Fatal(err)
	}
	res, err := restore.Apply(ctx, plan)
	if err != nil {
		t.Fatal(err)
	}
	if res.Totals.Failed > 0 {
		t.Fatalf("restoring backup %s of %s: %+v", last.ID, name, res.Totals)
	}
	compared := 0
	for src, dst := range mapping {
		want, err := cs.CoreV1().ConfigMaps(src).List(ctx, metav1.ListOptions{})
		if err != nil {
			t.Fatal(err)
		}
		for _, cm := range want.Items {
			got, err := cs.CoreV1().ConfigMaps(dst).Get(ctx, cm.Name, metav1.GetOptions{})
			if err != nil {
				t.Errorf("restore of backup %s of %s: %s/%s: %v", last.ID, name, dst, cm.Name, err)
				continue
			}
			if !maps.Equal(got.Data, cm.Data) {
				t.Errorf("restore of backup %s of %s: %s/%s holds %v; the cluster's %s/%s holds %v", last.ID, name, dst, cm.Name, got.Data, src, cm.Name, cm.Data)
			}
			compared++
		}
	}
	t.Logf("%s: backup %s restored (%d objects created), %d ConfigMaps equal to the cluster's", name, last.ID, res.Totals.Created, compared)
	fmt.Printf("restore of the last backup of %s (%s): %d ConfigMaps compared, equal to the cluster\n", name, last.ID, compared)
}

// fill creates the namespaces app-0… with ConfigMaps, one of which
// (toggle) the test changes.
func fill(t *testing.T, cs kubernetes.Interface) {
	t.Helper()
	ctx := context.Background()
	for i := range namespaces {
		ns := fmt.Sprintf("app-%d", i)
		if _, err := cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		for j := range configMaps {
			cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("config-%02d", j)}, Data: map[string]string{"value": fmt.Sprintf("%s-%d", ns, j)}}
			if _, err := cs.CoreV1().ConfigMaps(ns).Create(ctx, cm, metav1.CreateOptions{}); err != nil {
				t.Fatal(err)
			}
		}
		cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "toggle"}, Data: map[string]string{"state": "0"}}
		if _, err := cs.CoreV1().ConfigMaps(ns).Create(ctx, cm, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
}

func setToggle(ctx context.Context, cs kubernetes.Interface, ns string, state int) error {
	cm, err := cs.CoreV1().ConfigMaps(ns).Get(ctx, "toggle", metav1.GetOptions{})
	if err != nil {
		return err
	}
	cm.Data = map[string]string{"state": fmt.Sprint(state)}
	_, err = cs.CoreV1().ConfigMaps(ns).Update(ctx, cm, metav1.UpdateOptions{})
	return err
}

// restart brings the S3 server back, trying again when its port is not
// free yet.
func restart(s3 *testenv.S3Server) error {
	var err error
	for range 5 {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		err = s3.Restart(ctx)
		cancel()
		if err == nil {
			return nil
		}
		time.Sleep(500 * time.Millisecond)
	}
	return err
}

// sleep waits for d, and says whether ctx is still live.
func sleep(ctx context.Context, d time.Duration) bool {
	select {
	case <-ctx.Done():
		return false
	case <-time.After(d):
		return true
	}
}

func firstLine(err error) string {
	s, _, _ := strings.Cut(err.Error(), "\n")
	return s
}
