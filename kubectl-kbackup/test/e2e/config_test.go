package e2e

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// config validate reports every problem with its file, line and key, and
// checks each environment; config view shows the values in force, where
// each came from (flags over environment variables over the file), and
// never a secret.
func TestConfigValidateAndView(t *testing.T) {
	bad := writeFile(t, "kbackup.yaml", `backup:
  behavior:
    batch_size: many
  clusterresources: "on"
`)
	res := mustRun(t, 1, invocation{}, "config", "validate", bad)
	for _, want := range []string{
		bad + ":3:17: backup.behavior.batch_size: \"many\" is not an integer",
		bad + ":4:3: backup.clusterresources: unknown key; did you mean cluster_resources?",
	} {
		if !strings.Contains(res.stderr, want) {
			t.Errorf("config validate should report %q:\n%s", want, res)
		}
	}

	const secret = "wJalrXUtnFEMI-K7MDENG-bPxRfiCYEXAMPLEKEY"
	good := writeFile(t, "kbackup.yaml", `cluster:
  name: "${DEMO_CLUSTER:-from-file}"
storage:
  url: s3://file-bucket?endpoint=https://minio.example.com:9000
  access_key_id: AKIAFILEEXAMPLE1
  secret_access_key: `+secret+`
environments:
  - name: dev
  - name: prod
    overrides:
      storage:
        url: s3://prod-bucket?endpoint=https://minio.example.com:9000
      backup:
        behavior:
          batch_size: 0
`)
	res = mustRun(t, 1, invocation{}, "config", "validate", good)
	if !strings.Contains(res.stderr, "with environment prod selected") || !strings.Contains(res.stderr, good+":15:23: backup.behavior.batch_size") {
		t.Errorf("config validate should check prod's overrides and name the line:\n%s", res)
	}
	fixed := writeFile(t, "kbackup.yaml", strings.Replace(readFile(t, good), "batch_size: 0", "batch_size: 100", 1))
	res = mustRun(t, 0, invocation{}, "config", "validate", fixed)
	if !strings.Contains(res.stdout, "valid (the base configuration, environment dev, environment prod checked)") {
		t.Errorf("config validate of a good file:\n%s", res)
	}

	view := func(inv invocation, args ...string) map[string]string {
		t.Helper()
		res := mustRun(t, 0, inv, append([]string{"config", "view", "--config", fixed, "-o", "json"}, args...)...)
		if strings.Contains(res.stdout, secret) || strings.Contains(res.stdout, "AKIAFILEEXAMPLE1") {
			t.Errorf("config view shows a credential:\n%s", res)
		}
		var v struct {
			Config struct {
				Cluster struct{ Name string }
				Storage struct {
					URL             string `json:"url"`
					SecretAccessKey string `json:"secret_access_key"`
				}
			}
			Sources map[string]string
		}
		if err := json.Unmarshal([]byte(res.stdout), &v); err != nil {
			t.Fatalf("config view -o json: %v\n%s", err, res)
		}
		if v.Config.Storage.SecretAccessKey != "REDACTED" {
			t.Errorf("secret_access_key is shown as %q", v.Config.Storage.SecretAccessKey)
		}
		return map[string]string{
			"cluster.name": v.Config.Cluster.Name, "cluster.name source": v.Sources["cluster.name"],
			"storage.url": v.Config.Storage.URL, "storage.url source": v.Sources["storage.url"],
		}
	}
	got := view(invocation{})
	if got["cluster.name"] != "from-file" || got["storage.url"] != "s3://file-bucket?endpoint=https://minio.example.com:9000" || !strings.HasSuffix(got["storage.url source"], "kbackup.yaml:4") {
		t.Errorf("from the file: %v", got)
	}
	got = view(invocation{env: []string{"DEMO_CLUSTER=from-var", "KBACKUP_STORAGE=/srv/env-repo"}})
	if got["cluster.name"] != "from-var" || !strings.HasSuffix(got["cluster.name source"], "kbackup.yaml:2 via env DEMO_CLUSTER") ||
		got["storage.url"] != "/srv/env-repo" || got["storage.url source"] != "env KBACKUP_STORAGE" {
		t.Errorf("environment variables over the file: %v", got)
	}
	got = view(invocation{env: []string{"KBACKUP_STORAGE=/srv/env-repo", "CLUSTER_NAME=env-name"}}, "--storage", "/srv/flag-repo")
	if got["storage.url"] != "/srv/flag-repo" || got["storage.url source"] != "flag --storage" || got["cluster.name"] != "env-name" || got["cluster.name source"] != "env CLUSTER_NAME" {
		t.Errorf("flags over environment variables: %v", got)
	}
	got = view(invocation{env: []string{"KBACKUP_ENVIRONMENT=prod"}})
	if got["storage.url"] != "s3://prod-bucket?endpoint=https://minio.example.com:9000" {
		t.Errorf("KBACKUP_ENVIRONMENT=prod should apply prod's overrides: %v", got)
	}

	// The table for people: every key with its value and source.
	res = mustRun(t, 0, invocation{}, "config", "view", "--config", fixed, "--storage", "/srv/flag-repo")
	for _, want := range []string{"storage.url", "/srv/flag-repo", "flag --storage", "storage.secret_access_key", "REDACTED", "backup.behavior.batch_size", "default"} {
		if !strings.Contains(res.stdout, want) {
			t.Errorf("config view lacks %q:\n%s", want, res)
		}
	}
	if strings.Contains(res.stdout, secret) {
		t.Errorf("config view shows the secret:\n%s", res)
	}

	// The default configuration file, ~/.kube/kbackup.yaml, is read when
	// it exists.
	home := t.TempDir()
	if err := os.MkdirAll(filepath.Join(home, ".kube"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(home, ".kube", "kbackup.yaml"), []byte("cluster:\n  name: from-home\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	res = mustRun(t, 0, invocation{env: []string{"HOME=" + home}}, "config", "view", "-o", "json")
	if !strings.Contains(res.stdout, `"name": "from-home"`) || !strings.Contains(res.stdout, filepath.Join(home, ".kube", "kbackup.yaml")) {
		t.Errorf("~/.kube/kbackup.yaml was not read:\n%s", res)
	}
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

// detect shows the identity of the current context's cluster: the
// kube-system UID, the name and where it came from, and the evidence.
func TestDetect(t *testing.T) {
	cs, err := env.Cluster("dr-us").Clientset()
	if err != nil {
		t.Fatal(err)
	}
	ns, err := cs.CoreV1().Namespaces().Get(context.Background(), "kube-system", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	res := mustRun(t, 0, invocation{}, "detect", "--context", "dr-us", "-o", "json")
	var id struct {
		Name, NameSource, UID, KubernetesVersion string
		Sources                                  []struct{ Source, Detail string }
	}
	if err := json.Unmarshal([]byte(res.stdout), &id); err != nil {
		t.Fatal(err)
	}
	if id.Name != "dr-us" || id.NameSource != "kubeconfig context dr-us" || id.UID != string(ns.UID) || id.KubernetesVersion == "" || len(id.Sources) == 0 {
		t.Errorf("detect: %+v", id)
	}
	res = mustRun(t, 0, invocation{env: []string{"CLUSTER_NAME=dr-us-east"}}, "detect", "--context", "dr-us")
	if !strings.Contains(res.stdout, "dr-us-east (from env CLUSTER_NAME)") || !strings.Contains(res.stdout, string(ns.UID)) || !strings.Contains(res.stdout, "Evidence:") {
		t.Errorf("detect with CLUSTER_NAME:\n%s", res)
	}
}

// Without any storage configured, backups go to the local default
// repository, $XDG_DATA_HOME/kbackup, and can be read from there.
func TestDefaultLocalRepository(t *testing.T) {
	data := t.TempDir()
	inv := invocation{env: []string{"XDG_DATA_HOME=" + data}}
	res := mustRun(t, 0, inv, "backup", "create", "--context", "dr-us", "-n", "kube-system", "-o", "json")
	b := parseBackupResult(t, res)
	if b.Location != "file://"+filepath.Join(data, "kbackup") {
		t.Errorf("the backup went to %s, want the default repository under %s", b.Location, data)
	}
	if _, err := os.Stat(filepath.Join(data, "kbackup", "dr-us", "_backups", b.ID+".json")); err != nil {
		t.Error(err)
	}
	res = mustRun(t, 0, inv, "backup", "list", "--context", "dr-us")
	if !strings.Contains(res.stdout, b.ID) {
		t.Errorf("backup list of the default repository:\n%s", res)
	}
}

// delete says what it will remove and asks on a terminal; --yes deletes at
// once; --dry-run deletes nothing.
func TestDeleteAsksAndDeletes(t *testing.T) {
	bucket := env.S3.NewBucket(t)
	storage := []string{"--storage", env.S3.RepositoryURL(bucket), "--cluster", "dr-us"}
	create := func(name string) {
		mustRun(t, 0, invocation{}, "backup", "create", name, "--context", "dr-us", "-n", "kube-system", "--storage", env.S3.RepositoryURL(bucket))
	}
	create("first")
	create("second")
	manifests := func() []string {
		var out []string
		for _, k := range bucketKeys(t, env.S3, bucket) {
			if strings.HasPrefix(k, "dr-us/_backups/") {
				out = append(out, k)
			}
		}
		return out
	}

	res := mustRun(t, 0, invocation{}, append([]string{"backup", "delete", "first", "--dry-run"}, storage...)...)
	if !strings.Contains(res.stdout, "would remove its manifest") || len(manifests()) != 2 {
		t.Errorf("--dry-run:\n%s\nmanifests %v", res, manifests())
	}

	out, code := ptyRunInput(t, nil, "n\n", append([]string{"backup", "delete", "first"}, storage...)...)
	if code != 1 || !strings.Contains(out, "Delete backup first of cluster dr-us? [y/N]") || !strings.Contains(out, "not deleted") || len(manifests()) != 2 {
		t.Errorf("answering n: exit code %d\n%s", code, out)
	}
	out, code = ptyRunInput(t, nil, "y\n", append([]string{"backup", "delete", "first"}, storage...)...)
	if code != 0 || !strings.Contains(out, "Deleted backup") || len(manifests()) != 1 {
		t.Errorf("answering y: exit code %d\n%s\nmanifests %v", code, out, manifests())
	}

	res = mustRun(t, 0, invocation{}, append([]string{"backup", "delete", "latest", "--yes", "-o", "json"}, storage...)...)
	var report struct {
		Backup, Manifest string
		KeptYoung        int
	}
	if err := json.Unmarshal([]byte(res.stdout), &report); err != nil || report.Backup != "second" || report.Manifest != "dr-us/_backups/second.json" || report.KeptYoung == 0 {
		t.Errorf("delete latest --yes -o json: %+v (%v)\n%s", report, err, res)
	}
	if len(manifests()) != 0 {
		t.Errorf("manifests left: %v", manifests())
	}
	res = mustRun(t, 1, invocation{}, append([]string{"backup", "describe", "latest"}, storage...)...)
	if !strings.Contains(res.stderr, "cluster dr-us has no backup") {
		t.Errorf("describe after deleting everything:\n%s", res)
	}
}
