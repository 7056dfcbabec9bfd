package bench

import (
	"bytes"
	"context"
	"fmt"
	"iter"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/kbackup/kbackup/core/fleetview"
	"github.com/kbackup/kbackup/core/prune"
	"github.com/kbackup/kbackup/core/repo"
	"github.com/kbackup/kbackup/core/storage"
	"github.com/kbackup/kbackup/core/testenv"
	"github.com/kbackup/kbackup/core/testenv/repotest"
)

// The synthetic fleet of issue 9: 1,000 clusters with 30 daily backups.
// KBACKUP_BENCH_FLEET_CLUSTERS sets fewer, to try the benchmark quickly.
var viewClusters = fleetEnvInt("KBACKUP_BENCH_FLEET_CLUSTERS", 1000)

const viewBackups = 30

func fleetEnvInt(name string, def int) int {
	if n, err := strconv.Atoi(os.Getenv(name)); err == nil && n > 0 {
		return n
	}
	return def
}

// fleetRequestCounter counts the requests that reach the storage.
type fleetRequestCounter struct {
	storage.Backend
	n atomic.Int64
}

func (c *fleetRequestCounter) Unwrap() storage.Backend { return c.Backend }
func (c *fleetRequestCounter) Get(ctx context.Context, key string) ([]byte, error) {
	c.n.Add(1)
	return c.Backend.Get(ctx, key)
}
func (c *fleetRequestCounter) Put(ctx context.Context, key string, data []byte) error {
	c.n.Add(1)
	return c.Backend.Put(ctx, key, data)
}
func (c *fleetRequestCounter) PutIfAbsent(ctx context.Context, key string, data []byte) error {
	c.n.Add(1)
	return c.Backend.PutIfAbsent(ctx, key, data)
}
func (c *fleetRequestCounter) Stat(ctx context.Context, key string) (storage.ObjectInfo, error) {
	c.n.Add(1)
	return c.Backend.Stat(ctx, key)
}

// List counts a request per page of 1,000 keys, as S3 answers them.
func (c *fleetRequestCounter) List(ctx context.Context, prefix string) iter.Seq2[storage.ObjectInfo, error] {
	return func(yield func(storage.ObjectInfo, error) bool) {
		c.n.Add(1)
		i := 0
		for obj, err := range c.Backend.List(ctx, prefix) {
			if i++; i%1000 == 0 {
				c.n.Add(1)
			}
			if !yield(obj, err) {
				return
			}
		}
	}
}
func (c *fleetRequestCounter) Delete(ctx context.Context, key string) error {
	c.n.Add(1)
	return c.Backend.Delete(ctx, key)
}

// BenchmarkFleetView writes a synthetic repository of 1,000 clusters × 30
// backups into the real S3 server with repotest.GenerateFleet, then
// measures `kubectl kbackup clusters` and `prune --dry-run --fleet`
// through the binary (wall time, median of 3), the same core calls in
// process (S3 requests; clusters' median of 3), and the baseline, once:
// reading every manifest of every cluster, which is what clusters would
// cost without summaries.
func BenchmarkFleetView(b *testing.B) {
	ctx := context.Background()
	env, err := testenv.New(ctx, testenv.Options{S3: true})
	if err != nil {
		b.Fatal(err)
	}
	defer env.Stop()
	dir := b.TempDir()
	binary := filepath.Join(dir, "kubectl-kbackup")
	build := exec.Command("go", "build", "-o", binary, ".")
	build.Dir = filepath.Join("..", "..")
	if out, err := build.CombinedOutput(); err != nil {
		b.Fatalf("building kubectl-kbackup: %v\n%s", err, out)
	}
	bucket := env.S3.NewBucket(b)
	opts := repotest.S3Options(env.S3, bucket)
	counter := &fleetRequestCounter{}
	opts.WrapBackend = func(be storage.Backend) storage.Backend { counter.Backend = be; return counter }
	r, err := repo.Open(ctx, opts)
	if err != nil {
		b.Fatal(err)
	}
	start := time.Now()
	if err := repotest.GenerateFleet(ctx, r, repotest.FleetSpec{
		Clusters: viewClusters, Backups: viewBackups, Interval: 24 * time.Hour,
		Newest: time.Now().Add(-time.Hour), SharedPacks: 2, NewPackEvery: 10,
	}); err != nil {
		b.Fatal(err)
	}
	generated, generateRequests := time.Since(start), counter.n.Load()

	cfg := filepath.Join(dir, "kbackup.yaml")
	if err := os.WriteFile(cfg, []byte("environments:\n  - name: dev\n  - name: test\n  - name: prod\nretention_policies:\n  dev: 7\n  test: 14\n  prod: 90\nbackup_schedules:\n  dev: \"0 4 * * *\"\n  test: \"0 3 * * *\"\n  prod: \"0 2 * * *\"\n"), 0o600); err != nil {
		b.Fatal(err)
	}
	runBinary := func(args ...string) time.Duration {
		cmd := exec.Command(binary, append(args, "--storage", env.S3.RepositoryURL(bucket), "--config", cfg)...)
		cmd.Env = append(os.Environ(), env.S3.Env()...)
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		t0 := time.Now()
		err := cmd.Run()
		d := time.Since(t0)
		if err != nil {
			b.Fatalf("kubectl-kbackup %v: %v\n%s", args, err, stderr.String())
		}
		if strings.Count(stdout.String(), "cluster-") < viewClusters {
			b.Fatalf("kubectl-kbackup %v names fewer than %d clusters:\n%s", args, viewClusters, stdout.String()[:min(2000, stdout.Len())])
		}
		return d
	}
	// measure runs f n times: the median time, and the requests of one run.
	measure := func(n int, f func()) (time.Duration, int64) {
		var times []time.Duration
		var requests int64
		for range n {
			before := counter.n.Load()
			t0 := time.Now()
			f()
			times = append(times, time.Since(t0))
			requests = counter.n.Load() - before
		}
		slices.Sort(times)
		return times[len(times)/2], requests
	}
	schedules := map[string]string{"dev": "0 4 * * *", "test": "0 3 * * *", "prod": "0 2 * * *"}
	status := func() {
		st, err := fleetview.Status(ctx, r, fleetview.Options{Schedules: schedules})
		if err != nil || len(st) != viewClusters {
			b.Fatalf("fleetview.Status: %d clusters, %v", len(st), err)
		}
	}
	plan := func() {
		plans, err := prune.Plan(ctx, r, prune.Options{ConfigDays: map[string]int{"dev": 7, "test": 14, "prod": 90}, Environments: []string{"dev", "test", "prod"}})
		if err != nil || len(plans) != viewClusters {
			b.Fatalf("prune.Plan: %d clusters, %v", len(plans), err)
		}
	}
	baseline := func() {
		names, err := r.Clusters(ctx)
		if err != nil {
			b.Fatal(err)
		}
		for _, n := range names {
			if _, err := r.ListBackups(ctx, n); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.ResetTimer()
	// The baseline and the plan read tens of thousands of objects: once
	// each is enough to compare, and keeps the run within minutes.
	statusTime, statusRequests := measure(repeats, status)
	planTime, planRequests := measure(1, plan)
	baseTime, baseRequests := measure(1, baseline)
	var clustersBin, pruneBin []time.Duration
	for range repeats {
		clustersBin = append(clustersBin, runBinary("clusters", "-o", "json"))
	}
	pruneBin = append(pruneBin, runBinary("prune", "--fleet", "--dry-run", "-o", "json"))
	b.StopTimer()
	slices.Sort(clustersBin)
	slices.Sort(pruneBin)
	median := func(d []time.Duration) time.Duration { return d[len(d)/2] }

	b.ReportMetric(median(clustersBin).Seconds(), "clusters-s")
	b.ReportMetric(float64(statusRequests), "clusters-requests")
	b.ReportMetric(median(pruneBin).Seconds(), "prune-dry-run-s")
	b.ReportMetric(float64(planRequests), "prune-dry-run-requests")
	var s strings.Builder
	s.WriteString("<!-- bench:fleetview -->\n")
	fmt.Fprintf(&s, "| what (%d clusters × %d backups) | wall time, binary | in process | S3 requests |\n|---|---|---|---|\n", viewClusters, viewBackups)
	fmt.Fprintf(&s, "| `kubectl kbackup clusters -o json` | **%s** | %s | %d |\n", median(clustersBin).Round(time.Millisecond), statusTime.Round(time.Millisecond), statusRequests)
	fmt.Fprintf(&s, "| baseline: every manifest of every cluster read | | %s (**%.1fx** clusters) | %d |\n", baseTime.Round(time.Millisecond), baseTime.Seconds()/statusTime.Seconds(), baseRequests)
	fmt.Fprintf(&s, "| `kubectl kbackup prune --fleet --dry-run -o json` | **%s** | %s | %d |\n", median(pruneBin).Round(time.Millisecond), planTime.Round(time.Millisecond), planRequests)
	fmt.Fprintf(&s, "| generating the repository (repotest.GenerateFleet) | | %s | %d |\n", generated.Round(time.Second), generateRequests)
	s.WriteString("<!-- /bench:fleetview -->\n")
	b.Log("\n" + s.String())
	if out := os.Getenv("KBACKUP_BENCH_OUT"); out != "" {
		f, err := os.OpenFile(out, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
		if err != nil {
			b.Fatal(err)
		}
		defer f.Close()
		if _, err := f.WriteString(s.String()); err != nil {
			b.Fatal(err)
		}
	}
}
