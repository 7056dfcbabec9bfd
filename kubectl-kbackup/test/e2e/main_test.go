// Package e2e drives the built kubectl-kbackup binary, as a user would,
// against real test clusters and a real S3 server (core/testenv), and checks
// its output, exit code and what it left in the repository.
package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"

	"github.com/kbackup/kbackup/core/testenv"
)

// Shared by the tests: the binary, two clusters (contexts prod-eu and dr-us
// in kubeconfig) and an S3 server. Each test uses namespaces and buckets of
// its own.
var (
	binary     string
	env        *testenv.Env
	kubeconfig string
)

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	dir, err := os.MkdirTemp("", "kbackup-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)

	binary = filepath.Join(dir, "kubectl-kbackup")
	build := exec.Command("go", "build", "-o", binary, ".")
	build.Dir = filepath.Join("..", "..")
	build.Stdout, build.Stderr = os.Stdout, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "building kubectl-kbackup:", err)
		return 1
	}

	env, err = testenv.New(context.Background(), testenv.Options{ClusterNames: []string{"prod-eu", "dr-us"}, S3: true})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer env.Stop()
	kubeconfig = filepath.Join(dir, "kubeconfig")
	if err := env.WriteKubeconfig(kubeconfig); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return m.Run()
}

// result is what one run of the binary did.
type result struct {
	args           []string
	stdout, stderr string
	code           int
}

func (r result) String() string {
	return fmt.Sprintf("kubectl-kbackup %s\nexit code %d\nstdout:\n%s\nstderr:\n%s", strings.Join(r.args, " "), r.code, r.stdout, r.stderr)
}

// invocation is how a test runs the binary.
type invocation struct {
	// env is added to the base environment (KEY=value).
	env   []string
	stdin string
	// dir is the working directory; default a fresh temporary one.
	dir string
}

// baseEnv is a clean environment: nothing of the developer's kbackup or AWS
// settings, HOME and XDG_DATA_HOME of the test's own (so that neither
// ~/.kube/kbackup.yaml nor the default repository leaks between tests), the
// test kubeconfig, and the S3 server's credentials.
func baseEnv(t *testing.T) []string {
	home := t.TempDir()
	vars := []string{
		"PATH=" + os.Getenv("PATH"),
		"HOME=" + home,
		"XDG_DATA_HOME=" + filepath.Join(home, "data"),
		"KUBECONFIG=" + kubeconfig,
	}
	return append(vars, env.S3.Env()...)
}

// kbackup runs the binary with args and returns what it did.
func kbackup(t *testing.T, inv invocation, args ...string) result {
	t.Helper()
	cmd := exec.Command(binary, args...)
	cmd.Env = append(baseEnv(t), inv.env...)
	cmd.Dir = inv.dir
	if cmd.Dir == "" {
		cmd.Dir = t.TempDir()
	}
	cmd.Stdin = strings.NewReader(inv.stdin)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	res := result{args: args, stdout: stdout.String(), stderr: stderr.String()}
	if exit, ok := err.(*exec.ExitError); ok {
		res.code = exit.ExitCode()
	} else if err != nil {
		t.Fatalf("running kubectl-kbackup %v: %v", args, err)
	}
	noCredentials(t, env.S3, res)
	return res
}

// noCredentials fails the test when a run printed the S3 server's secret
// key or its whole access key, in output, logs or errors.
func noCredentials(t *testing.T, s3 *testenv.S3Server, res result) {
	t.Helper()
	for _, secret := range []string{s3.SecretKey, s3.AccessKey} {
		if strings.Contains(res.stdout+res.stderr, secret) {
			t.Errorf("a credential of the S3 server was printed:\n%s", res)
		}
	}
}

// mustRun runs the binary and fails the test unless it exits with code.
func mustRun(t *testing.T, code int, inv invocation, args ...string) result {
	t.Helper()
	res := kbackup(t, inv, args...)
	if res.code != code {
		t.Fatalf("want exit code %d:\n%s", code, res)
	}
	return res
}

// backupResult is the part of `backup create -o json` the tests read.
type backupResult struct {
	ID      string `json:"id"`
	Phase   string `json:"phase"`
	Cluster struct {
		Name string `json:"name"`
		UID  string `json:"uid"`
	} `json:"cluster"`
	Stats struct {
		Objects       int   `json:"objects"`
		ResourceTypes int   `json:"resourceTypes"`
		Packs         int   `json:"packs"`
		PacksUploaded int   `json:"packsUploaded"`
		PacksReused   int   `json:"packsReused"`
		BytesUploaded int64 `json:"bytesUploaded"`
	} `json:"stats"`
	Location        string `json:"location"`
	FallbackUsed    bool   `json:"fallbackUsed"`
	FailedLocations []struct {
		Location, Error string
	} `json:"failedLocations"`
	Errors []struct {
		Resource, Namespace, Message string
	} `json:"errors"`
}

func parseBackupResult(t *testing.T, res result) backupResult {
	t.Helper()
	var out backupResult
	if err := json.Unmarshal([]byte(res.stdout), &out); err != nil {
		t.Fatalf("backup create -o json printed no JSON (%v):\n%s", err, res)
	}
	return out
}

// bucketKeys lists every object of a bucket.
func bucketKeys(t *testing.T, s3 *testenv.S3Server, bucket string) []string {
	t.Helper()
	var keys []string
	for obj := range s3.Client().ListObjects(context.Background(), bucket, minio.ListObjectsOptions{Recursive: true}) {
		if obj.Err != nil {
			t.Fatal(obj.Err)
		}
		keys = append(keys, obj.Key)
	}
	return keys
}

// packKeys are the keys of a bucket that are packs.
func packKeys(keys []string) []string {
	var packs []string
	for _, k := range keys {
		if strings.HasSuffix(k, ".yaml.zst") {
			packs = append(packs, k)
		}
	}
	return packs
}

// writeKubeconfig writes a kubeconfig of one context, named contextName, for
// cluster c, authenticating with token.
func writeKubeconfig(t *testing.T, c *testenv.Cluster, contextName, token string) string {
	t.Helper()
	cfg := clientcmdapi.NewConfig()
	cfg.Clusters[contextName] = &clientcmdapi.Cluster{Server: c.Server, CertificateAuthorityData: c.CAData}
	cfg.AuthInfos[contextName] = &clientcmdapi.AuthInfo{Token: token}
	cfg.Contexts[contextName] = &clientcmdapi.Context{Cluster: contextName, AuthInfo: contextName}
	cfg.CurrentContext = contextName
	path := filepath.Join(t.TempDir(), "kubeconfig")
	if err := clientcmd.WriteToFile(*cfg, path); err != nil {
		t.Fatal(err)
	}
	return path
}

// eventually polls cond until it holds or the timeout passes.
func eventually(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
