package bench

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/kbackup/kbackup/core/fleetview"
	"github.com/kbackup/kbackup/core/repo"
	"github.com/kbackup/kbackup/core/storage"
	"github.com/kbackup/kbackup/core/testenv"
	"github.com/kbackup/kbackup/core/testenv/repotest"
	"github.com/kbackup/kbackup/kubectl-kbackup/internal/dashboard"
)

// BenchmarkDashboardFleetPage serves the dashboard over the synthetic
// repository of BenchmarkFleetView (1,000 clusters × 30 backups, written
// with repotest.GenerateFleet into the real S3 server) and measures the
// fleet page: the first load, which reads the fleet (fleetview.Status),
// the loads within the refresh interval, which render the reading kept
// in memory, and a cluster's page.
func BenchmarkDashboardFleetPage(b *testing.B) {
	ctx := context.Background()
	env, err := testenv.New(ctx, testenv.Options{S3: true})
	if err != nil {
		b.Fatal(err)
	}
	defer env.Stop()
	opts := repotest.S3Options(env.S3, env.S3.NewBucket(b))
	counter := &fleetRequestCounter{}
	opts.WrapBackend = func(be storage.Backend) storage.Backend { counter.Backend = be; return counter }
	r, err := repo.Open(ctx, opts)
	if err != nil {
		b.Fatal(err)
	}
	if err := repotest.GenerateFleet(ctx, r, repotest.FleetSpec{
		Clusters: viewClusters, Backups: viewBackups, Interval: 24 * time.Hour,
		Newest: time.Now().Add(-time.Hour), SharedPacks: 2, NewPackEvery: 10,
	}); err != nil {
		b.Fatal(err)
	}
	schedules := map[string]string{"dev": "0 4 * * *", "test": "0 3 * * *", "prod": "0 2 * * *"}
	h, err := dashboard.New(r, dashboard.Options{Address: dashboard.DefaultAddress, Refresh: time.Hour, Fleet: fleetview.Options{Schedules: schedules}}, nil)
	if err != nil {
		b.Fatal(err)
	}
	srv := httptest.NewServer(h)
	defer srv.Close()
	load := func(path string) (time.Duration, int, int64) {
		before := counter.n.Load()
		t0 := time.Now()
		resp, err := http.Get(srv.URL + path)
		if err != nil {
			b.Fatal(err)
		}
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		d := time.Since(t0)
		if err != nil || resp.StatusCode != http.StatusOK {
			b.Fatalf("GET %s: %d %v", path, resp.StatusCode, err)
		}
		if path == "/" && strings.Count(string(body), "data-cluster=") != viewClusters {
			b.Fatalf("the fleet page lists %d clusters, want %d", strings.Count(string(body), "data-cluster="), viewClusters)
		}
		return d, len(body), counter.n.Load() - before
	}
	b.ResetTimer()
	cold, size, coldRequests := load("/")
	var warm []time.Duration
	for range 5 {
		d, _, n := load("/")
		if n != 0 {
			b.Fatalf("a load within the refresh interval sent %d requests to the storage", n)
		}
		warm = append(warm, d)
	}
	cluster, _, clusterRequests := load("/clusters/" + repotest.ClusterName(viewClusters/2))
	b.StopTimer()
	slices.Sort(warm)

	b.ReportMetric(cold.Seconds(), "fleet-page-cold-s")
	b.ReportMetric(warm[len(warm)/2].Seconds()*1000, "fleet-page-warm-ms")
	var s strings.Builder
	s.WriteString("<!-- bench:dashboard -->\n")
	fmt.Fprintf(&s, "| dashboard page (%d clusters × %d backups) | time | S3 requests | HTML |\n|---|---|---|---|\n", viewClusters, viewBackups)
	fmt.Fprintf(&s, "| fleet page, first load (reads the fleet) | **%s** | %d | %s |\n", cold.Round(time.Millisecond), coldRequests, mb(int64(size)))
	fmt.Fprintf(&s, "| fleet page, within the refresh interval (median of 5) | **%s** | 0 | %s |\n", warm[len(warm)/2].Round(time.Millisecond), mb(int64(size)))
	fmt.Fprintf(&s, "| a cluster's page | %s | %d | |\n", cluster.Round(time.Millisecond), clusterRequests)
	s.WriteString("<!-- /bench:dashboard -->\n")
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
