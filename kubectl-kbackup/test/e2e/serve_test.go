package e2e

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"k8s.io/client-go/tools/clientcmd"

	"github.com/kbackup/kbackup/core/fleet"
	"github.com/kbackup/kbackup/core/repo"
	"github.com/kbackup/kbackup/core/selection"
	"github.com/kbackup/kbackup/core/storage"
	"github.com/kbackup/kbackup/core/testenv"
)

// serveProcess is a `kubectl kbackup serve` running in the background.
type serveProcess struct {
	cmd  *exec.Cmd
	addr string
	// dashboardAddr is where its web dashboard listens.
	dashboardAddr string
	mu            sync.Mutex
	stderr        bytes.Buffer
	done          chan struct{}
	waitErr       error
}

// startServe starts the binary's serve with args on a free loopback port
// and waits until /healthz answers.
func startServe(t *testing.T, inv invocation, args ...string) *serveProcess {
	t.Helper()
	freePort := func() string {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close()
		return l.Addr().String()
	}
	addr, dashboardAddr := freePort(), freePort()
	args = append([]string{"serve", "--metrics-address", addr, "--dashboard-address", dashboardAddr}, args...)
	cmd := exec.Command(binary, args...)
	cmd.Env = append(baseEnv(t), inv.env...)
	cmd.Dir = t.TempDir()
	p := &serveProcess{cmd: cmd, addr: addr, dashboardAddr: dashboardAddr, done: make(chan struct{})}
	pr, pw := io.Pipe()
	cmd.Stderr = pw
	cmd.Stdout = pw
	go func() {
		sc := bufio.NewScanner(pr)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			p.mu.Lock()
			p.stderr.Write(sc.Bytes())
			p.stderr.WriteByte('\n')
			p.mu.Unlock()
		}
	}()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		p.waitErr = cmd.Wait()
		pw.Close()
		close(p.done)
	}()
	t.Cleanup(func() {
		p.stop(t)
		t.Logf("serve %s log:\n%s", strings.Join(args, " "), p.log())
	})
	waitFor(t, 30*time.Second, "serve answers /healthz", func() error {
		select {
		case <-p.done:
			return fmt.Errorf("serve exited: %v\n%s", p.waitErr, p.log())
		default:
		}
		_, err := p.get("/healthz")
		return err
	})
	return p
}

func (p *serveProcess) log() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.stderr.String()
}

// get fetches a path of serve and fails unless it answers 200.
func (p *serveProcess) get(path string) (string, error) {
	resp, err := http.Get("http://" + p.addr + path)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		return string(body), fmt.Errorf("%s: %s: %s", path, resp.Status, body)
	}
	return string(body), nil
}

// stop sends SIGTERM and waits for the process to end.
func (p *serveProcess) stop(t *testing.T) error {
	select {
	case <-p.done:
		return p.waitErr
	default:
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(2 * time.Minute):
		_ = p.cmd.Process.Kill()
		<-p.done
		t.Errorf("serve did not stop within 2 minutes of SIGTERM")
	}
	return p.waitErr
}

// waitFor polls check until it returns nil, failing the test with the last
// error after timeout. The timeout bounds a wait for something that must
// happen; no assertion is made about how long it took.
func waitFor(t *testing.T, timeout time.Duration, what string, check func() error) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		err := check()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("waiting for %s: %v", what, err)
		}
		time.Sleep(250 * time.Millisecond)
	}
}

// putSchedule stores a schedule in the repository, as Terraform's
// kbackup_schedule does.
func putSchedule(t *testing.T, r *repo.Repository, s *fleet.Schedule) {
	t.Helper()
	if err := r.PutSchedule(context.Background(), s); err != nil {
		t.Fatal(err)
	}
}

// claimsOf reads every claim of a schedule.
func claimsOf(t *testing.T, r *repo.Repository, schedule string) []*repo.SlotClaim {
	t.Helper()
	ctx := context.Background()
	keys, err := r.ListSlotClaims(ctx, schedule)
	if err != nil {
		t.Fatal(err)
	}
	var out []*repo.SlotClaim
	for _, k := range keys {
		c, err := r.GetSlotClaim(ctx, k.Schedule, k.Slot, k.Cluster)
		if errors.Is(err, storage.ErrNotFound) {
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, c)
	}
	return out
}

// metricValue finds a sample of a metric in the text exposition format:
// the line that starts with name and has every label given.
func metricValue(exposition, name string, labels ...string) (string, bool) {
	for _, line := range strings.Split(exposition, "\n") {
		if !strings.HasPrefix(line, name+"{") && !strings.HasPrefix(line, name+" ") {
			continue
		}
		ok := true
		for _, l := range labels {
			if !strings.Contains(line, l) {
				ok = false
			}
		}
		if ok {
			f := strings.Fields(line)
			return f[len(f)-1], true
		}
	}
	return "", false
}

// The scheduler backs up three registered clusters at every slot of a
// schedule, prunes by the schedule's retention, records each slot in a
// claim, and reports a cluster whose API server stopped as failed and
// stale, in its metrics, in a real Prometheus that scrapes it, and in the
// alerts that Prometheus evaluates from examples/monitoring.
func TestServeSchedulerBacksUpPrunesAndAlerts(t *testing.T) {
	three, kc := startFleet(t)
	bucket := env.S3.NewBucket(t)
	storageURL := env.S3.RepositoryURL(bucket)
	cfg := writeFile(t, "kbackup.yaml", "environments:\n  - name: prod\n")
	inv := invocation{env: []string{"KUBECONFIG=" + kc, "KBACKUP_CONFIG=" + cfg}}
	for _, c := range []string{"fleet-a", "fleet-b", "fleet-c"} {
		mustRun(t, 0, inv, "cluster", "register", "--context", c, "--environment", "prod", "--storage", storageURL)
	}
	r := openBucket(t, bucket)
	const interval = 10 * time.Second
	putSchedule(t, r, &fleet.Schedule{Name: "often", Cron: "@every 10s", Environment: "prod",
		Spec:      fleet.BackupSpec{Selection: selection.Selection{IncludeNamespaces: []string{"fleet"}}},
		Retention: fleet.RetentionRef{RetentionRules: fleet.RetentionRules{KeepLast: 2}}})

	// Each run's backups are copied into a second repository too.
	replica := env.S3.NewBucket(t)
	serve := startServe(t, inv, "--scheduler", "--storage", storageURL, "--reload-interval", "2s", "--connect-timeout", "3s",
		"--grace", "1s", "--metrics-refresh-interval", "1s", "--shutdown-timeout", "1m", "--replicate-to", env.S3.RepositoryURL(replica))
	waitFor(t, time.Minute, "/readyz", func() error { _, err := serve.get("/readyz"); return err })

	// Backups appear at every slot, and retention keeps the newest two.
	ctx := context.Background()
	waitFor(t, 3*time.Minute, "four completed slots of every cluster", func() error {
		done := map[string]int{}
		for _, c := range claimsOf(t, r, "often") {
			if c.State == repo.ClaimCompleted {
				done[c.Cluster]++
			}
		}
		for _, c := range []string{"fleet-a", "fleet-b", "fleet-c"} {
			if done[c] < 4 {
				return fmt.Errorf("completed slots: %v", done)
			}
		}
		return nil
	})
	claims := claimsOf(t, r, "often")
	for _, c := range claims {
		if c.State != repo.ClaimCompleted && c.State != repo.ClaimRunning {
			t.Errorf("slot %s of %s: %s %s", c.Slot, c.Cluster, c.State, c.Error)
		}
		if c.RunID == "" || !strings.Contains(c.ClaimedBy, "/") {
			t.Errorf("claim without run or claimant: %+v", c)
		}
	}
	for _, cluster := range []string{"fleet-a", "fleet-b", "fleet-c"} {
		// Each backup ran in the slot it claimed: after the slot began,
		// before the next one.
		for _, c := range claims {
			if c.Cluster != cluster || c.BackupID == "" {
				continue
			}
			m, err := r.ReadManifest(ctx, cluster, c.BackupID)
			if errors.Is(err, storage.ErrNotFound) {
				continue // pruned since
			}
			if err != nil {
				t.Fatal(err)
			}
			if m.StartedAt.Before(c.Slot) || !m.StartedAt.Before(c.Slot.Add(interval)) {
				t.Errorf("backup %s of %s started at %s, outside its slot %s", m.ID, cluster, m.StartedAt, c.Slot)
			}
			if m.RunID != c.RunID {
				t.Errorf("backup %s records run %s, its claim %s", m.ID, m.RunID, c.RunID)
			}
		}
	}
	waitFor(t, time.Minute, "retention to keep two backups of each cluster", func() error {
		for _, cluster := range []string{"fleet-a", "fleet-b", "fleet-c"} {
			s, _, err := r.CurrentSummary(ctx, cluster)
			if err != nil {
				return err
			}
			if len(s.Backups) != 2 {
				return fmt.Errorf("cluster %s has %d backups", cluster, len(s.Backups))
			}
		}
		return nil
	})

	// The replica holds every cluster's backups, and the dashboard, on
	// its own loopback address, shows the fleet.
	waitFor(t, time.Minute, "the replica to hold backups of every cluster", func() error {
		rr := openBucket(t, replica)
		for _, cluster := range []string{"fleet-a", "fleet-b", "fleet-c"} {
			if ids, err := rr.BackupIDs(ctx, cluster); err != nil || len(ids) == 0 {
				return fmt.Errorf("cluster %s in the replica: %d backups, %v", cluster, len(ids), err)
			}
		}
		return nil
	})
	mustRun(t, 0, inv, "verify", "--all-clusters", "--storage", env.S3.RepositoryURL(replica))
	waitFor(t, time.Minute, "the dashboard's fleet page", func() error {
		resp, err := http.Get("http://" + serve.dashboardAddr + "/")
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		page, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != http.StatusOK || !strings.Contains(string(page), "fleet-a") || !strings.Contains(string(page), "fleet-c") {
			return fmt.Errorf("GET /: %s\n%.300s", resp.Status, page)
		}
		return nil
	})

	// One API server stops: the cluster's next slots fail, and it becomes
	// stale.
	three.Cluster("fleet-b").StopAPIServer()
	waitFor(t, 2*time.Minute, "a failed slot of fleet-b", func() error {
		for _, c := range claimsOf(t, r, "often") {
			if c.Cluster == "fleet-b" && c.State == repo.ClaimNotBackedUp {
				if !strings.Contains(c.Error, "fleet-b") {
					return fmt.Errorf("the failed claim does not say why: %+v", c)
				}
				return nil
			}
		}
		return errors.New("none yet")
	})
	waitFor(t, time.Minute, "metrics to show fleet-b failed and stale", func() error {
		body, err := serve.get("/metrics")
		if err != nil {
			return err
		}
		if v, _ := metricValue(body, "kbackup_scheduler_cluster_last_run_success", `cluster="fleet-b"`); v != "0" {
			return fmt.Errorf("fleet-b's last run success is %q", v)
		}
		if v, _ := metricValue(body, "kbackup_cluster_stale", `cluster="fleet-b"`); v != "1" {
			return fmt.Errorf("fleet-b's stale is %q", v)
		}
		for _, ok := range []string{"fleet-a", "fleet-c"} {
			if v, _ := metricValue(body, "kbackup_scheduler_cluster_last_run_success", `cluster="`+ok+`"`); v != "1" {
				return fmt.Errorf("%s's last run success is %q", ok, v)
			}
		}
		return nil
	})

	// A real Prometheus scrapes serve and evaluates the example alerts.
	rules, err := filepath.Abs(filepath.Join("..", "..", "..", "examples", "monitoring", "kbackup-alerts.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	prom := testenv.StartPrometheus(t, fmt.Sprintf(`global:
  scrape_interval: 1s
  evaluation_interval: 1s
rule_files: [%q]
scrape_configs:
  - job_name: kbackup
    static_configs:
      - targets: [%q]
`, rules, serve.addr))
	waitFor(t, time.Minute, "Prometheus's last-success time of every cluster to be the repository's", func() error {
		samples, err := prom.Query(ctx, "kbackup_cluster_last_success_timestamp_seconds")
		if err != nil {
			return err
		}
		got := map[string]float64{}
		for _, s := range samples {
			got[s.Metric["cluster"]] = s.Value
		}
		for _, cluster := range []string{"fleet-a", "fleet-b", "fleet-c"} {
			sum, _, err := r.CurrentSummary(ctx, cluster)
			if err != nil {
				return err
			}
			_, good := sum.Latest()
			if good == nil {
				return fmt.Errorf("cluster %s has no good backup", cluster)
			}
			want := float64(good.CompletedAt.UnixNano()) / 1e9
			if d := got[cluster] - want; d > 0.001 || d < -0.001 {
				return fmt.Errorf("cluster %s: Prometheus says %f, the repository %f (%s)", cluster, got[cluster], want, good.CompletedAt)
			}
		}
		return nil
	})
	waitFor(t, 2*time.Minute, "the alerts for fleet-b to fire in Prometheus", func() error {
		samples, err := prom.Query(ctx, `ALERTS{alertstate="firing"}`)
		if err != nil {
			return err
		}
		firing := map[string][]string{}
		for _, s := range samples {
			firing[s.Metric["alertname"]] = append(firing[s.Metric["alertname"]], s.Metric["cluster"])
		}
		for _, alert := range []string{"KbackupBackupFailed", "KbackupBackupStale"} {
			if !slices.Contains(firing[alert], "fleet-b") {
				return fmt.Errorf("%s is not firing for fleet-b (firing: %v)\n%s", alert, firing, prom.LogTail())
			}
			if slices.Contains(firing[alert], "fleet-a") || slices.Contains(firing[alert], "fleet-c") {
				return fmt.Errorf("%s fires for a cluster that is backed up: %v", alert, firing)
			}
		}
		return nil
	})

	// SIGTERM: serve stops cleanly.
	if err := serve.stop(t); err != nil {
		t.Errorf("serve exited with %v", err)
	}
	if log := serve.log(); !strings.Contains(log, `"msg":"serve stopped"`) || !strings.Contains(log, `"run":"run-`) {
		t.Errorf("serve's log lacks its stop or the runs' IDs:\n%s", log)
	}
}

// Two schedulers on one repository: every cluster's backup of every slot
// ran once, by one of them, and both took part.
func TestServeTwoSchedulersRunEachSlotOnce(t *testing.T) {
	bucket := env.S3.NewBucket(t)
	storageURL := env.S3.RepositoryURL(bucket)
	for _, c := range []string{"prod-eu", "dr-us"} {
		mustRun(t, 0, invocation{}, "cluster", "register", "--context", c, "--storage", storageURL)
	}
	r := openBucket(t, bucket)
	putSchedule(t, r, &fleet.Schedule{Name: "twice", Cron: "@every 5s",
		Spec: fleet.BackupSpec{Selection: selection.Selection{IncludeNamespaces: []string{"kube-system"}}}})
	args := []string{"--scheduler", "--storage", storageURL, "--reload-interval", "1s", "--connect-timeout", "3s"}
	one := startServe(t, invocation{}, args...)
	two := startServe(t, invocation{}, args...)

	waitFor(t, 3*time.Minute, "six slots ended", func() error {
		ended := map[time.Time]int{}
		for _, c := range claimsOf(t, r, "twice") {
			if c.State != repo.ClaimRunning {
				ended[c.Slot]++
			}
		}
		full := 0
		for _, n := range ended {
			if n == 2 {
				full++
			}
		}
		if full < 6 {
			return fmt.Errorf("%d slots with both clusters ended", full)
		}
		return nil
	})
	for _, p := range []*serveProcess{one, two} {
		if err := p.stop(t); err != nil {
			t.Errorf("serve exited with %v", err)
		}
	}

	claims := claimsOf(t, r, "twice")
	by := map[string]int{}
	backupOf := map[string]*repo.SlotClaim{}
	for _, c := range claims {
		by[c.ClaimedBy]++
		if c.State != repo.ClaimCompleted {
			t.Errorf("slot %s of %s: %s %s", c.Slot, c.Cluster, c.State, c.Error)
			continue
		}
		backupOf[c.Cluster+"/"+c.BackupID] = c
	}
	if len(by) != 2 {
		t.Errorf("claims by %v; want both schedulers to take part", by)
	}
	// Every backup stored belongs to exactly one claim: no slot ran twice.
	ctx := context.Background()
	for _, cluster := range []string{"prod-eu", "dr-us"} {
		s, _, err := r.CurrentSummary(ctx, cluster)
		if err != nil {
			t.Fatal(err)
		}
		slots := map[time.Time]string{}
		for _, b := range s.Backups {
			c := backupOf[cluster+"/"+b.ID]
			if c == nil {
				t.Errorf("backup %s of %s belongs to no claim", b.ID, cluster)
				continue
			}
			if other, dup := slots[c.Slot]; dup {
				t.Errorf("slot %s of %s ran twice: %s and %s", c.Slot, cluster, other, b.ID)
			}
			slots[c.Slot] = b.ID
		}
		n := 0
		for _, c := range claims {
			if c.Cluster == cluster && c.State == repo.ClaimCompleted {
				n++
			}
		}
		if len(s.Backups) != n {
			t.Errorf("cluster %s: %d backups for %d completed claims", cluster, len(s.Backups), n)
		}
	}
	if !strings.Contains(one.log()+two.log(), "claimed by another scheduler") {
		t.Errorf("neither scheduler found a slot claimed by the other")
	}
}

// SIGTERM while a backup runs: serve starts nothing new, gives the backup
// --shutdown-timeout, then interrupts it; the slot's claim says
// Interrupted, no manifest is stored for it, and serve exits 0. The
// cluster is reached through a proxy that delays every answer by two
// seconds, so that its backup outlasts the one-second timeout.
func TestServeShutdownRecordsInterruptedBackups(t *testing.T) {
	bucket := env.S3.NewBucket(t)
	storageURL := env.S3.RepositoryURL(bucket)
	mustRun(t, 0, invocation{}, "cluster", "register", "--context", "prod-eu", "--storage", storageURL)
	r := openBucket(t, bucket)
	putSchedule(t, r, &fleet.Schedule{Name: "slow", Cron: "@every 5s", Cluster: "prod-eu",
		Spec: fleet.BackupSpec{Selection: selection.Selection{IncludeNamespaces: []string{"kube-system"}}}})

	cfg := env.Kubeconfig()
	proxy := testenv.StartLatencyProxy(t, strings.TrimPrefix(env.Cluster("prod-eu").Server, "https://"), 2*time.Second)
	cfg.Clusters["prod-eu"].Server = "https://" + proxy.Addr
	delete(cfg.Contexts, "dr-us")
	kc := filepath.Join(t.TempDir(), "kubeconfig")
	if err := clientcmd.WriteToFile(*cfg, kc); err != nil {
		t.Fatal(err)
	}
	serve := startServe(t, invocation{env: []string{"KUBECONFIG=" + kc}}, "--scheduler", "--storage", storageURL, "--reload-interval", "1s",
		"--connect-timeout", "30s", "--shutdown-timeout", "1s")
	waitFor(t, 2*time.Minute, "a run to start", func() error {
		if !strings.Contains(serve.log(), `"msg":"run started"`) {
			return errors.New("none yet")
		}
		return nil
	})
	if err := serve.stop(t); err != nil {
		t.Errorf("serve exited with %v", err)
	}
	log := serve.log()
	if !strings.Contains(log, "shutdown timeout passed") {
		t.Errorf("the backup was not interrupted by the timeout:\n%s", log)
	}
	claims := claimsOf(t, r, "slow")
	interrupted := 0
	for _, c := range claims {
		switch c.State {
		case repo.ClaimInterrupted:
			interrupted++
			if c.BackupID != "" || !strings.Contains(c.Error, "context canceled") {
				t.Errorf("interrupted claim: %+v", c)
			}
		case repo.ClaimRunning:
			t.Errorf("a claim left Running after a clean shutdown: %+v", c)
		}
	}
	if interrupted == 0 {
		t.Errorf("no claim says Interrupted: %+v", claims)
	}
	s, _, err := r.CurrentSummary(context.Background(), "prod-eu")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range claims {
		if c.State == repo.ClaimInterrupted {
			for _, b := range s.Backups {
				if !b.StartedAt.Before(c.Slot) && b.StartedAt.Before(c.Slot.Add(5*time.Second)) {
					t.Errorf("backup %s was stored in the interrupted slot %s", b.ID, c.Slot)
				}
			}
		}
	}
}

// With notifications on, a webhook that never answers holds no backup: while
// it holds the first run's request, the next slots' backups complete, each in
// its own slot.
func TestServeBackupsGoOnWhileTheWebhookHangs(t *testing.T) {
	arrived := make(chan []byte, 100)
	release := make(chan struct{})
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		arrived <- body
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer hook.Close()
	defer close(release)

	bucket := env.S3.NewBucket(t)
	storageURL := env.S3.RepositoryURL(bucket)
	cfg := writeFile(t, "kbackup.yaml", fmt.Sprintf("notifications:\n  enabled: true\n  webhook:\n    url: %s/hooks/T0KEN\n", hook.URL))
	inv := invocation{env: []string{"KBACKUP_CONFIG=" + cfg}}
	mustRun(t, 0, inv, "cluster", "register", "--context", "prod-eu", "--storage", storageURL)
	r := openBucket(t, bucket)
	putSchedule(t, r, &fleet.Schedule{Name: "hooked", Cron: "@every 5s", Cluster: "prod-eu",
		Spec: fleet.BackupSpec{Selection: selection.Selection{IncludeNamespaces: []string{"kube-system"}}}})
	serve := startServe(t, inv, "--scheduler", "--storage", storageURL, "--reload-interval", "1s")

	var first []byte
	select {
	case first = <-arrived:
	case <-time.After(2 * time.Minute):
		t.Fatalf("the webhook received nothing\n%s", serve.log())
	}
	var p struct {
		Version, Event, RunID, Schedule string
		Clusters                        []struct{ Name, Result, BackupID string }
	}
	if err := json.Unmarshal(first, &p); err != nil {
		t.Fatal(err)
	}
	if p.Version != "kbackup.io/notification/v1" || p.Event != "run.succeeded" || p.Schedule != "hooked" || len(p.Clusters) != 1 || p.Clusters[0].Result != "completed" {
		t.Errorf("payload: %s", first)
	}
	// The webhook still holds that request: three more slots complete.
	waitFor(t, 2*time.Minute, "three more completed slots while the webhook hangs", func() error {
		n := 0
		for _, c := range claimsOf(t, r, "hooked") {
			if c.State == repo.ClaimCompleted && c.RunID != p.RunID {
				n++
			}
		}
		if n < 3 {
			return fmt.Errorf("%d completed slots after the first", n)
		}
		return nil
	})
	if strings.Contains(serve.log(), "T0KEN") {
		t.Errorf("serve's log shows the webhook's token")
	}
}
