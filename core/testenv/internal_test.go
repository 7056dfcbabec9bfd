package testenv

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestMissingBinaryNamesMakeTestenv(t *testing.T) {
	t.Setenv("KBACKUP_TESTENV_CACHE", t.TempDir())
	_, err := New(context.Background(), Options{Clusters: 1})
	if err == nil || !strings.Contains(err.Error(), "make testenv") {
		t.Fatalf("want an error naming `make testenv`, got %v", err)
	}
}

func TestProcessThatFailsIsNamedWithItsLog(t *testing.T) {
	dir := t.TempDir()
	p, err := startProcess("fake-server", filepath.Join(dir, "log"), nil, "/bin/sh", "-c", "echo listening failed: port taken >&2; exit 3")
	if err != nil {
		t.Fatal(err)
	}
	err = p.waitReady(context.Background(), 10*time.Second, func(context.Context) error { return errors.New("not yet") })
	var start *StartError
	if !errors.As(err, &start) {
		t.Fatalf("want a *StartError, got %v", err)
	}
	for _, want := range []string{"fake-server", "exit status 3", "listening failed: port taken"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %q", err, want)
		}
	}
}

// stop kills, after its grace period, a process that ignores SIGTERM. The
// shell says when its trap is installed, and the test waits for that, so
// that a SIGTERM arriving first cannot end it; it must die of SIGKILL.
func TestStopKillsProcessThatIgnoresSIGTERM(t *testing.T) {
	dir := t.TempDir()
	logPath := filepath.Join(dir, "log")
	p, err := startProcess("stubborn", logPath, nil, "/bin/sh", "-c", "trap '' TERM; echo trap-installed; while true; do sleep 1; done")
	if err != nil {
		t.Fatal(err)
	}
	err = p.waitReady(context.Background(), time.Minute, func(context.Context) error {
		if !logMentions(logPath, "trap-installed") {
			return errors.New("the shell has not installed its trap yet")
		}
		return nil
	})
	if err != nil {
		p.stop()
		t.Fatal(err)
	}
	p.stop()
	done, err := p.exited()
	if !done {
		t.Fatal("process still running after stop")
	}
	var exit *exec.ExitError
	if !errors.As(err, &exit) {
		t.Fatalf("the process ended with %v; want it killed by SIGKILL", err)
	}
	status, ok := exit.Sys().(syscall.WaitStatus)
	if !ok || !status.Signaled() || status.Signal() != syscall.SIGKILL {
		t.Fatalf("the process ended with %v; want it killed by SIGKILL, since it ignores SIGTERM", exit)
	}
}

func TestBucketPrefix(t *testing.T) {
	valid := regexp.MustCompile(`^[a-z0-9][a-z0-9-]{1,29}$`)
	for name, want := range map[string]string{
		"TestBackup/two_clusters": "testbackup-two-clusters",
		"T":                       "kbackup",
		"TestAVeryLongNameThatGoesOnAndOnForever": "testaverylongnamethatgoesonand",
		"Test__x__": "test-x",
	} {
		got := bucketPrefix(name)
		if got != want {
			t.Errorf("bucketPrefix(%q) = %q, want %q", name, got, want)
		}
		if !valid.MatchString(got) {
			t.Errorf("bucketPrefix(%q) = %q is not a valid bucket name start", name, got)
		}
	}
}

func TestClusterNames(t *testing.T) {
	got := Options{Clusters: 3, ClusterNames: []string{"dev"}}.clusterNames()
	want := []string{"dev", "kbackup-2", "kbackup-3"}
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("clusterNames = %v, want %v", got, want)
	}
	if _, err := New(context.Background(), Options{ClusterNames: []string{"a", "a"}}); err == nil {
		t.Error("two clusters with one name: want an error")
	}
}

// versions.env and the build recipes under tools/testenv must name the same
// versions, or the cache would be keyed by a version it does not hold.
func TestVersionsMatchBuildRecipes(t *testing.T) {
	for file, want := range map[string]string{
		"../../tools/testenv/kube/go.mod": "k8s.io/kubernetes " + KubernetesVersion,
		"../../tools/testenv/etcd/go.mod": "go.etcd.io/etcd/server/v3 " + EtcdVersion,
	} {
		data, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(data), want) {
			t.Errorf("%s does not require %s (from versions.env)", file, want)
		}
	}
}
