package cmd

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
)

// writeKubeconfig writes a kubeconfig with one context per name, each at
// its own (unused) address.
func writeKubeconfig(t *testing.T, names ...string) string {
	t.Helper()
	cfg := clientcmdapi.NewConfig()
	for i, n := range names {
		c := clientcmdapi.NewCluster()
		c.Server = "https://127.0.0.1:" + string(rune('1'+i)) + "443"
		cfg.Clusters[n] = c
		cfg.AuthInfos[n] = clientcmdapi.NewAuthInfo()
		ctx := clientcmdapi.NewContext()
		ctx.Cluster, ctx.AuthInfo = n, n
		cfg.Contexts[n] = ctx
	}
	cfg.CurrentContext = names[0]
	path := filepath.Join(t.TempDir(), "kubeconfig")
	if err := clientcmd.WriteToFile(*cfg, path); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestBackupCreateContextsBecomeAFleetRun(t *testing.T) {
	kubeconfig := writeKubeconfig(t, "prod-eu", "prod-us", "staging")
	o, err := completeCreate(t, testGlobal(t, map[string]string{"CLUSTER_NAME": "from-env"}), "--kubeconfig", kubeconfig,
		"--contexts", "staging,prod-eu", "--max-concurrent-operations", "2", "--connect-timeout", "3s", "--request-timeout", "20s", "-n", "shop")
	if err != nil {
		t.Fatal(err)
	}
	run := o.fleet
	if run == nil {
		t.Fatal("--contexts did not make a fleet run")
	}
	opts := run.options
	if opts.Concurrency != 2 || opts.ConnectTimeout != 3*time.Second || opts.RequestTimeout != 20*time.Second || opts.RunID != o.runID || !strings.HasPrefix(o.runID, "run-") {
		t.Errorf("run options: %+v", opts)
	}
	if opts.Backup.ClusterName != "" || opts.Backup.Concurrency != 0 || strings.Join(opts.Backup.IncludeNamespaces, ",") != "shop" || opts.Backup.RunID != o.runID {
		t.Errorf("each backup's options: %+v", opts.Backup)
	}
	if len(run.candidates) != 2 || run.candidates[0].Context != "staging" || run.candidates[1].Context != "prod-eu" || run.candidates[0].Config.Host != "https://127.0.0.1:3443" {
		t.Errorf("candidates: %+v", run.candidates)
	}

	o, err = completeCreate(t, testGlobal(t, nil), "--kubeconfig", kubeconfig, "--all-contexts")
	if err != nil {
		t.Fatal(err)
	}
	if len(o.fleet.candidates) != 3 || o.fleet.options.Concurrency != 10 || o.fleet.options.RequestTimeout != time.Minute {
		t.Errorf("--all-contexts: %d candidates, options %+v", len(o.fleet.candidates), o.fleet.options)
	}
}

func TestBackupCreateFleetRefusesBadInput(t *testing.T) {
	kubeconfig := writeKubeconfig(t, "prod-eu", "prod-us")
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--contexts", "prod-eu,prod-uk"}, `--contexts: kubeconfig ` + kubeconfig + ` has no context "prod-uk"; did you mean "prod-us"? (available contexts: prod-eu, prod-us)`},
		{[]string{"--contexts", "prod-eu", "--max-concurrent-operations", "0"}, "flag --max-concurrent-operations: performance.limits.max_concurrent_operations: 0 is less than 1"},
		{[]string{"--contexts", "prod-eu", "--max-concurrent-operations", "1000"}, "--max-concurrent-operations: Invalid value: 1000: want 1 to 256 clusters at once"},
		{[]string{"--contexts", "prod-eu", "--all-contexts"}, "--contexts and --all-contexts exclude each other"},
		{[]string{"--all-contexts", "--fleet"}, "--all-contexts and --fleet exclude each other"},
		{[]string{"--contexts", "prod-eu", "--context", "prod-us"}, "--context names one cluster, and --contexts backs up several"},
		{[]string{"--all-contexts", "--cluster-name", "x"}, "--cluster-name names one cluster, and --all-contexts backs up several"},
		{[]string{"--all-contexts", "nightly"}, "NAME (nightly) names one backup"},
		{[]string{"--all-contexts", "--connect-timeout", "0s"}, "--connect-timeout 0s: want a positive duration"},
		{[]string{"--all-contexts", "--request-timeout", "soon"}, `--request-timeout "soon": want a duration`},
		{[]string{"--connect-timeout", "3s"}, "--connect-timeout applies to a run over several clusters"},
	} {
		args := append([]string{"--kubeconfig", kubeconfig}, c.args...)
		_, err := completeCreate(t, testGlobal(t, nil), args...)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v: want an error containing %q, got %v", c.args, c.want, err)
		}
	}
}
