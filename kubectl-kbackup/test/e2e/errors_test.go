package e2e

import (
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Bad input gets a clear error, exit code 1, naming the input and what would
// be accepted; nothing is written.
func TestBadInputIsRefusedClearly(t *testing.T) {
	closedPort := closedPortKubeconfig(t)
	badConfig := filepath.Join(t.TempDir(), "kbackup.yaml")
	if err := os.WriteFile(badConfig, []byte("storage:\n  bucket: backups\nbackup:\n  behavior:\n    batchsize: 100\n    max_resource_size: huge\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	repoDir := t.TempDir()
	cases := []struct {
		name string
		args []string
		env  []string
		// want are the parts the error must have, on stderr.
		want []string
	}{
		{"unknown flag", []string{"backup", "create", "--include-namespace", "x"},
			nil, []string{"unknown flag: --include-namespace", "kubectl kbackup backup create --help"}},
		{"unknown command", []string{"backup", "craete"},
			nil, []string{`unknown command "craete"`, "did you mean create?"}},
		{"bad output format", []string{"backup", "list", "-o", "table"},
			nil, []string{`--output "table"`, "json, yaml"}},
		{"bad storage URL scheme", []string{"backup", "list", "--storage", "ftp://backups/x"},
			nil, []string{"flag --storage", "ftp://backups/x", "s3://bucket", "file:///path"}},
		{"bad storage URL endpoint", []string{"backup", "create", "--storage", "s3://backups?endpoint=minio:9000"},
			nil, []string{"minio:9000", "has no scheme", "https://minio:9000"}},
		{"bad storage URL from the environment", []string{"backup", "list"},
			[]string{"KBACKUP_STORAGE=s3://"}, []string{"env KBACKUP_STORAGE", "names no bucket"}},
		{"bad values of several flags", []string{"backup", "create", "--cluster-resources", "maybe", "--max-resource-size", "lots", "-l", "app in ("},
			nil, []string{"flag --cluster-resources", "auto, on, off", "flag --max-resource-size", `"lots"`, "like 10Mi", "flag --selector"}},
		{"contradicting namespace flags", []string{"backup", "create", "-n", "shop", "-A"},
			nil, []string{"-n/--namespace and -A/--all-namespaces exclude each other"}},
		{"unknown resource type", []string{"backup", "create", "--context", "prod-eu", "--include-resources", "configmaps,Deplyment", "--storage", repoDir},
			nil, []string{"--include-resources", `"Deplyment"`, "did you mean deployments.apps?"}},
		{"unreachable cluster", []string{"backup", "create", "--kubeconfig", closedPort, "--storage", repoDir},
			nil, []string{"127.0.0.1", "unreachable", "connection refused", "--kubeconfig", "--context"}},
		{"no kubeconfig", []string{"detect"},
			[]string{"KUBECONFIG="}, []string{"no kubeconfig found", "set KUBECONFIG"}},
		{"unknown context", []string{"backup", "create", "--context", "prod-us", "--storage", repoDir},
			nil, []string{`no context "prod-us"`, "dr-us, prod-eu", `did you mean "prod-eu"`}},
		{"bad config file", []string{"backup", "create", "--config", badConfig},
			nil, []string{badConfig + ":5:5: backup.behavior.batchsize: unknown key; did you mean batch_size?"}},
		{"missing config file", []string{"backup", "list", "--config", "/nonexistent/kbackup.yaml"},
			nil, []string{"/nonexistent/kbackup.yaml", "flag --config", "does not exist"}},
		{"missing config file from the environment", []string{"backup", "list"},
			[]string{"KBACKUP_CONFIG=/nonexistent/kbackup.yaml"}, []string{"/nonexistent/kbackup.yaml", "env KBACKUP_CONFIG"}},
		{"unknown environment", []string{"backup", "list", "--environment", "prod"},
			nil, []string{`environment "prod" is not defined`}},
		{"bad backup ID", []string{"backup", "describe", "../etc", "--storage", repoDir},
			nil, []string{`"../etc"`, "backup list", "latest"}},
		{"no repository", []string{"backup", "list", "--cluster", "prod-eu", "--storage", repoDir},
			nil, []string{"no kbackup repository", repoDir, "backup create"}},
		{"missing object argument", []string{"backup", "get", "latest", "deployments.apps"},
			nil, []string{`"deployments.apps" names no object`, "TYPE/NAME"}},
		{"delete without --yes off a terminal", []string{"backup", "delete", "20260301T020000Z-1a2b3c", "--storage", repoDir},
			nil, []string{"without --yes", "--dry-run"}},
		{"bad cluster name", []string{"backup", "create", "--cluster-name", "Prod_EU", "--storage", repoDir},
			nil, []string{"flag --cluster-name", "Prod_EU"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			res := mustRun(t, 1, invocation{env: c.env}, c.args...)
			for _, want := range c.want {
				if !strings.Contains(res.stderr, want) {
					t.Errorf("stderr lacks %q:\n%s", want, res)
				}
			}
			if res.stdout != "" {
				t.Errorf("a failed command printed on stdout:\n%s", res)
			}
		})
	}
	if entries, _ := os.ReadDir(repoDir); len(entries) > 0 {
		t.Errorf("refused commands wrote into the repository directory: %v", entries)
	}
}

// closedPortKubeconfig writes a kubeconfig whose server is a loopback port
// nothing listens on.
func closedPortKubeconfig(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	path := filepath.Join(t.TempDir(), "kubeconfig")
	kubeconfig := `apiVersion: v1
kind: Config
clusters:
- name: gone
  cluster:
    server: https://` + addr + `
    insecure-skip-tls-verify: true
users:
- name: gone
  user:
    token: abc
contexts:
- name: gone
  context: {cluster: gone, user: gone}
current-context: gone
`
	if err := os.WriteFile(path, []byte(kubeconfig), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}
