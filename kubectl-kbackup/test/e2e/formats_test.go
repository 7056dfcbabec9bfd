package e2e

import (
	"context"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kbackup/kbackup/core/testenv/workload"
)

// restore, its list and describe, diff and verify print JSON and YAML that
// parse; their tables have no escape sequences when piped, and diff is
// coloured on a terminal.
func TestRestoreDiffVerifyOutputFormats(t *testing.T) {
	const ns = "e2e-formats"
	cs, err := env.Cluster("prod-eu").Clientset()
	if err != nil {
		t.Fatal(err)
	}
	if err := workload.CreateConfigMaps(context.Background(), cs, workload.ConfigMaps{Namespaces: []string{ns}, Total: 3, Prefix: "fmt"}); err != nil {
		t.Fatal(err)
	}
	storage := []string{"--storage", env.S3.RepositoryURL(env.S3.NewBucket(t))}
	with := func(args ...string) []string { return append(args, storage...) }
	mustRun(t, 0, invocation{}, with("backup", "create", "formats-1", "--context", "prod-eu", "-n", ns)...)
	restored := parseRestore(t, mustRun(t, 0, invocation{}, with("restore", "formats-1", "-n", ns, "--context", "dr-us", "--yes", "-o", "json")...), "json")
	if err := cs.CoreV1().ConfigMaps(ns).Delete(context.Background(), "fmt-000001", metav1DeleteOptions()); err != nil {
		t.Fatal(err)
	}

	for _, c := range []struct {
		args []string
		code int
	}{
		{with("restore", "formats-1", "-n", ns, "--context", "dr-us", "--dry-run"), 0},
		{with("restore", "formats-1", "-n", ns, "--context", "dr-us", "--yes"), 0},
		{with("restore", "list", "--context", "dr-us"), 0},
		{with("restore", "list", "--all-clusters"), 0},
		{with("restore", "describe", restored.ID), 0},
		{with("diff", "formats-1", "--context", "prod-eu", "-n", ns), 3},
		{with("diff", "formats-1", "formats-1"), 0},
		{with("verify", "formats-1"), 0},
		{with("verify", "--all-clusters"), 0},
	} {
		jsonOut := mustRun(t, c.code, invocation{}, append(c.args, "-o", "json")...)
		yamlOut := mustRun(t, c.code, invocation{}, append(c.args, "-o", "yaml")...)
		// A restore, dry or not, is a new one each time.
		creates := c.args[0] == "restore" && c.args[1] != "list" && c.args[1] != "describe"
		sameAsJSON(t, jsonOut, yamlOut, creates)
		table := mustRun(t, c.code, invocation{env: []string{"TERM=xterm-256color"}}, c.args...)
		if strings.Contains(table.stdout+table.stderr, "\x1b") {
			t.Errorf("output to a pipe has escape sequences:\n%q", table.stdout+table.stderr)
		}
		t.Logf("%s", table)
	}

	out, code := ptyRunInput(t, nil, "", with("diff", "formats-1", "--context", "prod-eu", "-n", ns)...)
	if code != 3 || !strings.Contains(out, "\x1b[") || !strings.Contains(out, "fmt-000001") {
		t.Errorf("diff on a terminal should be coloured: exit %d\n%q", code, out)
	}
}

func metav1DeleteOptions() metav1.DeleteOptions { return metav1.DeleteOptions{} }
