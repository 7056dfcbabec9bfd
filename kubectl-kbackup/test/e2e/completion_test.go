package e2e

import (
	"slices"
	"strings"
	"testing"
	"time"
)

// completions asks the binary what cobra's completion offers for args, as
// the shells' scripts and kubectl's plugin completion do, and returns the
// values without descriptions, in order.
func completions(t *testing.T, inv invocation, args ...string) []string {
	t.Helper()
	res := mustRun(t, 0, inv, append([]string{"__complete"}, args...)...)
	var out []string
	for _, line := range strings.Split(res.stdout, "\n") {
		if line == "" || strings.HasPrefix(line, ":") {
			continue
		}
		value, _, _ := strings.Cut(line, "\t")
		out = append(out, value)
	}
	return out
}

// Completion reaches the kubeconfig, the cluster and the repository with
// the flags typed so far: backup IDs (latest first, then newest first),
// cluster names, contexts, namespaces, types and fixed values.
func TestCompletion(t *testing.T) {
	data := t.TempDir()
	inv := invocation{env: []string{"XDG_DATA_HOME=" + data}}
	var ids []string
	for i := range 2 {
		if i > 0 {
			// IDs start with their second: the second backup must sort after the first.
			time.Sleep(time.Until(time.Now().Truncate(time.Second).Add(time.Second)))
		}
		ids = append(ids, parseBackupResult(t, mustRun(t, 0, inv, "backup", "create", "--context", "dr-us", "-n", "kube-system", "-o", "json")).ID)
	}

	if got, want := completions(t, inv, "backup", "describe", "--cluster", "dr-us", ""), []string{"latest", ids[1], ids[0]}; !slices.Equal(got, want) {
		t.Errorf("backup describe --cluster dr-us <Tab>: %v, want %v", got, want)
	}
	// Without --cluster, the current context's cluster (restore's
	// subcommands are offered too).
	if got := completions(t, inv, "--context", "dr-us", "restore", ""); !slices.Contains(got, "latest") || !slices.Contains(got, ids[0]) || !slices.Contains(got, ids[1]) {
		t.Errorf("--context dr-us restore <Tab>: %v, want latest and the two IDs", got)
	}
	if got := completions(t, inv, "restore", "--from-cluster", ""); !slices.Equal(got, []string{"dr-us"}) {
		t.Errorf("restore --from-cluster <Tab>: %v, want [dr-us]", got)
	}
	if got := completions(t, inv, "backup", "create", "--context", ""); !slices.Equal(got, []string{"dr-us", "prod-eu"}) {
		t.Errorf("--context <Tab>: %v, want the kubeconfig's contexts", got)
	}
	if got := completions(t, inv, "--context", "prod-eu", "backup", "create", "-n", ""); !slices.Contains(got, "kube-system") || !slices.Contains(got, "default") {
		t.Errorf("-n <Tab>: %v, want the cluster's namespaces", got)
	}
	if got := completions(t, inv, "--context", "prod-eu", "backup", "create", "--include-resources", ""); !slices.Contains(got, "configmaps") || !slices.Contains(got, "deployments.apps") {
		t.Errorf("--include-resources <Tab>: %v, want the cluster's types", got)
	}
	// Lists complete their last item after what was typed.
	if got := completions(t, inv, "--context", "prod-eu", "backup", "create", "--include-resources", "configmaps,se"); !slices.Contains(got, "configmaps,secrets") {
		t.Errorf("--include-resources configmaps,se<Tab>: %v, want configmaps,secrets among them", got)
	}
	if got := completions(t, inv, "restore", "--existing-resource-policy", ""); !slices.Equal(got, []string{"skip", "update", "fail"}) {
		t.Errorf("--existing-resource-policy <Tab>: %v", got)
	}
	if got := completions(t, inv, "backup", "list", "-o", ""); !slices.Contains(got, "json") || !slices.Contains(got, "yaml") {
		t.Errorf("backup list -o <Tab>: %v", got)
	}
	for _, shell := range []string{"bash", "zsh", "fish", "powershell"} {
		if res := mustRun(t, 0, inv, "completion", shell); !strings.Contains(res.stdout, "__complete") {
			t.Errorf("completion %s: the script does not ask the plugin's __complete:\n%.300s", shell, res.stdout)
		}
	}
}
