package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/kbackup/kbackup/core/fleet"
	"github.com/kbackup/kbackup/core/repo"
	"github.com/kbackup/kbackup/core/selection"
	"github.com/kbackup/kbackup/core/storage"
)

// runScheduler stores a schedule in the repository, as Terraform's
// kbackup_schedule does, runs `serve --scheduler` until one slot of it has
// backed up every registered cluster, shows what /metrics says of them, and
// stops it with SIGTERM.
func runScheduler(ctx context.Context, d *demo) error {
	r, err := repo.Open(ctx, repo.Options{Location: storage.Location{Scheme: storage.SchemeFile, Path: d.repository}})
	if err != nil {
		return err
	}
	sc := &fleet.Schedule{Name: "demo", Cron: "@every 10s",
		Spec:      fleet.BackupSpec{Selection: selection.Selection{IncludeNamespaces: []string{restoredNamespace}}},
		Retention: fleet.RetentionRef{RetentionRules: fleet.RetentionRules{KeepLast: 3}}}
	if err := r.PutSchedule(ctx, sc); err != nil {
		return err
	}
	fmt.Printf("Stored schedule %q (%s, namespace %s, keep the last 3) in _fleet/schedules/, as Terraform's kbackup_schedule does.\n\n", sc.Name, sc.Cron, restoredNamespace)

	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	addr := l.Addr().String()
	l.Close()
	config := filepath.Join(filepath.Dir(d.kubeconfig), "kbackup.yaml")
	if err := os.WriteFile(config, []byte(fleetConfig), 0o600); err != nil {
		return err
	}
	args := []string{"serve", "--scheduler", "--metrics-address", addr, "--reload-interval", "2s", "--log-format", "text",
		"--kubeconfig", d.kubeconfig, "--storage", d.repository, "--config", config}
	fmt.Printf("$ %s %s &\n\n", d.kbackup, strings.Join(d.shorten(args), " "))
	cmd := exec.CommandContext(ctx, d.kbackup, args...)
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stdout
	cmd.Env = demoEnv()
	if err := cmd.Start(); err != nil {
		return err
	}
	stopped := false
	stop := func() error {
		if stopped {
			return nil
		}
		stopped = true
		_ = cmd.Process.Signal(syscall.SIGTERM)
		return cmd.Wait()
	}
	defer stop()

	deadline := time.Now().Add(2 * time.Minute)
	for {
		if done, err := slotDone(ctx, r, sc.Name); err != nil {
			return err
		} else if done {
			break
		}
		if time.Now().After(deadline) {
			return errors.New("no slot of the demo schedule ended within 2 minutes")
		}
		time.Sleep(500 * time.Millisecond)
	}
	// Let the next scrape read the repository after the slot.
	time.Sleep(time.Second)
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		return err
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	fmt.Printf("\n$ curl -s http://%s/metrics | grep -E 'kbackup_cluster_last_success|kbackup_scheduler_cluster_backups_total'\n", addr)
	for _, line := range strings.Split(string(body), "\n") {
		if strings.HasPrefix(line, "kbackup_cluster_last_success") || strings.HasPrefix(line, "kbackup_scheduler_cluster_backups_total") {
			fmt.Println(line)
		}
	}
	fmt.Println()
	if err := stop(); err != nil {
		return fmt.Errorf("serve: %w", err)
	}
	return nil
}

// slotDone says whether some slot of the schedule has ended for every
// cluster claimed in it.
func slotDone(ctx context.Context, r *repo.Repository, schedule string) (bool, error) {
	keys, err := r.ListSlotClaims(ctx, schedule)
	if err != nil {
		return false, err
	}
	ended := map[time.Time]int{}
	claimed := map[time.Time]int{}
	for _, k := range keys {
		claimed[k.Slot]++
		c, err := r.GetSlotClaim(ctx, k.Schedule, k.Slot, k.Cluster)
		if err != nil {
			return false, err
		}
		if c.State != repo.ClaimRunning {
			ended[k.Slot]++
		}
	}
	for slot, n := range claimed {
		if ended[slot] == n {
			return true, nil
		}
	}
	return false, nil
}

// demoEnv is the environment of the commands the demo runs: none of the
// user's kbackup configuration.
func demoEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		name, _, _ := strings.Cut(kv, "=")
		switch {
		case strings.HasPrefix(name, "KBACKUP_"), name == "CLUSTER_NAME", name == "CLUSTER_DOMAIN", name == "KUBECONFIG":
			continue
		}
		env = append(env, kv)
	}
	return env
}
