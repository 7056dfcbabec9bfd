package e2e

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/kbackup/kbackup/core/repo"
	"github.com/kbackup/kbackup/core/storage"
	"github.com/kbackup/kbackup/core/testenv"
	"github.com/kbackup/kbackup/core/testenv/repotest"
	"github.com/kbackup/kbackup/core/testenv/workload"
)

// The S3 server stopped in the middle of a backup leaves no manifest, and
// the command exits non-zero saying which storage failed. With a fallback
// location, the backup starts again there, completes, and says so.
func TestStorageStoppedMidBackup(t *testing.T) {
	ctx := context.Background()
	cs, err := env.Cluster("dr-us").Clientset()
	if err != nil {
		t.Fatal(err)
	}
	var namespaces []string
	for _, n := range []string{"a", "b", "c", "d", "e", "f", "g", "h"} {
		namespaces = append(namespaces, "e2e-stop-"+n)
	}
	if err := workload.CreateConfigMaps(ctx, cs, workload.ConfigMaps{Namespaces: namespaces, Total: 800, Prefix: "bulk"}); err != nil {
		t.Fatal(err)
	}
	// One type at a time, so that most of the backup is still to come when
	// the first type is stored.
	cfg := filepath.Join(t.TempDir(), "kbackup.yaml")
	if err := os.WriteFile(cfg, []byte("performance:\n  limits:\n    max_concurrent_operations: 1\n"), 0o600); err != nil {
		t.Fatal(err)
	}

	t.Run("no fallback", func(t *testing.T) {
		own, bucket := ownS3(t)
		s3 := own.S3
		res := backupUntilFirstPack(t, s3, "backup", "create", "--context", "dr-us", "--config", cfg,
			"--storage", s3.RepositoryURL(bucket), "--log-level", "debug")
		if res.code == 0 {
			t.Fatalf("the backup succeeded although its storage stopped:\n%s", res)
		}
		if !strings.Contains(res.stderr, "storage unavailable") || !strings.Contains(res.stderr, s3.Host()) {
			t.Errorf("the error should say the storage at %s is unavailable:\n%s", s3.Host(), res)
		}
		// The stopped server's files are still on disk: packs were
		// written before the stop, and no manifest.
		keys := repotest.StoredKeys(t, own, bucket)
		if len(repotest.PackKeys(keys)) == 0 {
			t.Fatalf("no pack was written before the stop: %v", keys)
		}
		if manifests := repotest.ManifestKeys(keys); len(manifests) > 0 {
			t.Errorf("manifests were written: %v", manifests)
		}
	})

	t.Run("local fallback", func(t *testing.T) {
		own, bucket := ownS3(t)
		s3 := own.S3
		fallback := t.TempDir()
		res := backupUntilFirstPack(t, s3, "backup", "create", "--context", "dr-us", "--config", cfg, "-o", "json",
			"--storage", s3.RepositoryURL(bucket), "--fallback-storage", fallback, "--log-level", "debug")
		if res.code != 0 {
			t.Fatalf("the backup should have completed in the fallback:\n%s", res)
		}
		b := parseBackupResult(t, res)
		if !b.FallbackUsed || b.Location != "file://"+fallback || len(b.FailedLocations) != 1 || !strings.Contains(b.FailedLocations[0].Error, s3.Host()) {
			t.Errorf("the result should say the fallback %s took the backup after %s failed: %+v", fallback, s3.Host(), b)
		}
		if !strings.Contains(res.stderr, "storage switched") {
			t.Errorf("the switch should be logged:\n%s", res.stderr)
		}
		if manifests := repotest.ManifestKeys(repotest.StoredKeys(t, own, bucket)); len(manifests) > 0 {
			t.Errorf("manifests were written to the stopped primary: %v", manifests)
		}
		// The fallback holds the whole backup: every object of the
		// cluster, in packs that read back with their hashes.
		loc, err := storage.ParseURL(fallback)
		if err != nil {
			t.Fatal(err)
		}
		r, err := repo.Open(ctx, repo.Options{Location: loc})
		if err != nil {
			t.Fatal(err)
		}
		m, err := r.ReadManifest(ctx, "dr-us", b.ID)
		if err != nil {
			t.Fatalf("no manifest in the fallback: %v", err)
		}
		if m.Phase != repo.PhaseCompleted || m.Stats.Objects < 800 {
			t.Errorf("the fallback's backup is %s with %d objects, want Completed with the 800 ConfigMaps and the rest", m.Phase, m.Stats.Objects)
		}
		repotest.CheckBackupHoldsCluster(t, r, m, env.Cluster("dr-us"), nil)
	})
}

// ownS3 starts an S3 server of the test's own, since the test stops it,
// with a bucket.
func ownS3(t *testing.T) (*testenv.Env, string) {
	t.Helper()
	own := testenv.Start(t, testenv.Options{S3: true})
	return own, own.S3.NewBucket(t)
}

// backupUntilFirstPack runs the binary with s3's credentials and stops s3
// as soon as the debug log says a resource type with objects was stored.
func backupUntilFirstPack(t *testing.T, s3 *testenv.S3Server, args ...string) result {
	t.Helper()
	cmd := exec.Command(binary, args...)
	cmd.Env = append(baseEnv(t), s3.Env()...)
	cmd.Dir = t.TempDir()
	var stdout bytes.Buffer
	cmd.Stdout = &stdout
	stderrPipe, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var stderr strings.Builder
	var once sync.Once
	stopped := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		sc := bufio.NewScanner(stderrPipe)
		for sc.Scan() {
			line := sc.Text()
			stderr.WriteString(line + "\n")
			var entry struct {
				Msg     string `json:"msg"`
				Objects int    `json:"objects"`
			}
			if json.Unmarshal([]byte(line), &entry) == nil && entry.Msg == "resource type stored" && entry.Objects > 0 {
				once.Do(func() { s3.Stop(); close(stopped) })
			}
		}
	}()
	<-done
	err = cmd.Wait()
	select {
	case <-stopped:
	default:
		t.Fatalf("the backup never logged a stored type, so the storage was not stopped:\n%s", stderr.String())
	}
	res := result{args: args, stdout: stdout.String(), stderr: stderr.String()}
	if exit, ok := err.(*exec.ExitError); ok {
		res.code = exit.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	noCredentials(t, s3, res)
	return res
}

// S3 credentials may come from flags instead of AWS_* variables; a wrong
// one is refused with an error that does not print it.
func TestStorageCredentialsFromFlags(t *testing.T) {
	bucket := env.S3.NewBucket(t)
	storage := env.S3.RepositoryURL(bucket)
	noAWS := invocation{env: []string{"AWS_ACCESS_KEY_ID=", "AWS_SECRET_ACCESS_KEY="}}
	args := []string{"backup", "create", "--context", "prod-eu", "-n", "default", "--include-resources", "serviceaccounts", "--storage", storage}

	withoutCredentials := kbackup(t, noAWS, args...)
	if withoutCredentials.code == 0 {
		t.Fatalf("a backup without credentials succeeded:\n%s", withoutCredentials)
	}
	if !strings.Contains(withoutCredentials.stderr, "AccessDenied") || !strings.Contains(withoutCredentials.stderr, "credentials") {
		t.Errorf("without credentials, the error should say access was denied and point at the credentials:\n%s", withoutCredentials)
	}

	mustRun(t, 0, noAWS, append(args, "--storage-access-key-id", env.S3.AccessKey, "--storage-secret-access-key", env.S3.SecretKey)...)

	const wrong = "not-the-secret-key-0123456789abcdef"
	res := kbackup(t, noAWS, append(args, "--storage-access-key-id", env.S3.AccessKey, "--storage-secret-access-key", wrong)...)
	if res.code == 0 {
		t.Fatalf("a backup with a wrong secret key succeeded:\n%s", res)
	}
	if strings.Contains(res.stdout+res.stderr, wrong) {
		t.Errorf("the wrong secret key was printed:\n%s", res)
	}
}

// A fallback on another S3 server uses keys of its own (profile= of the
// shared credentials file), not the primary's: here the primary's server
// is down and its keys are unknown to the fallback's server, so the
// backup lands in the fallback only when it did not get them.
func TestFallbackOnAnotherServerUsesItsOwnKeys(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "kbackup.yaml")
	primary := "s3://backups?endpoint=http://" + testenv.ClosedAddress(t)
	if err := os.WriteFile(cfg, []byte("storage:\n  url: "+primary+"\n  access_key_id: AKPRIMARY0000000\n  secret_access_key: primary-only-secret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	creds := filepath.Join(dir, "aws-credentials")
	if err := os.WriteFile(creds, []byte("[dr]\naws_access_key_id = "+env.S3.AccessKey+"\naws_secret_access_key = "+env.S3.SecretKey+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	bucket := env.S3.NewBucket(t)
	fallback := env.S3.RepositoryURL(bucket) + "&profile=dr"
	inv := invocation{env: []string{"AWS_ACCESS_KEY_ID=", "AWS_SECRET_ACCESS_KEY=", "AWS_SHARED_CREDENTIALS_FILE=" + creds}}
	res := kbackup(t, inv, "backup", "create", "--context", "dr-us", "-n", "kube-public", "--config", cfg,
		"--fallback-storage", fallback, "-o", "json")
	if res.code != 0 {
		t.Fatalf("the backup should have completed in the fallback with profile dr's keys:\n%s", res)
	}
	b := parseBackupResult(t, res)
	if !b.FallbackUsed || !strings.HasPrefix(b.Location, "s3://"+bucket) {
		t.Errorf("the backup should be in the fallback %s: %+v", fallback, b)
	}
	if strings.Contains(res.stdout+res.stderr, "primary-only-secret") {
		t.Errorf("the primary's secret key was printed:\n%s", res)
	}
	if manifests := repotest.ManifestKeys(bucketKeys(t, env.S3, bucket)); len(manifests) != 1 {
		t.Errorf("the fallback bucket holds manifests %v, want the one backup", manifests)
	}
}

// Server-side encryption as a user sets it: the test S3 server accepts the
// headers but does not encrypt, which a backup finds out and refuses until
// the user accepts it; an SSE-C repository then needs its key to be read,
// and the key is never printed.
func TestServerSideEncryptionThroughTheBinary(t *testing.T) {
	bucket := env.S3.NewBucket(t)
	url := env.S3.RepositoryURL(bucket)
	key := "WlpaWlpaWlpaWlpaWlpaWlpaWlpaWlpaWlpaWlpaWlo=" // 32 bytes of 'Z'
	noKeyShown := func(res result) {
		t.Helper()
		if strings.Contains(res.stdout+res.stderr, key) {
			t.Errorf("the customer key was printed:\n%s", res)
		}
	}

	res := kbackup(t, invocation{env: []string{"KBACKUP_SSE=sse-s3"}},
		"backup", "create", "--context", "dr-us", "-n", "kube-public", "--storage", url)
	noKeyShown(res)
	if res.code == 0 || !strings.Contains(res.stderr, "reports server-side encryption none") || !strings.Contains(res.stderr, "accept_unverified") {
		t.Fatalf("a backup to a server that ignores SSE should be refused, saying how to accept it:\n%s", res)
	}

	cfg := filepath.Join(t.TempDir(), "kbackup.yaml")
	if err := os.WriteFile(cfg, []byte("storage:\n  encryption:\n    mode: sse-c\n    accept_unverified: true\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	withKey := invocation{env: []string{"KBACKUP_SSE_CUSTOMER_KEY=" + key}}
	res = kbackup(t, withKey, "backup", "create", "--context", "dr-us", "-n", "kube-public", "--storage", url, "--config", cfg)
	noKeyShown(res)
	if res.code != 0 {
		t.Fatalf("the sse-c backup failed:\n%s", res)
	}
	res = kbackup(t, withKey, "backup", "list", "--cluster", "dr-us", "--storage", url, "--config", cfg)
	noKeyShown(res)
	if res.code != 0 || !strings.Contains(res.stdout, "Completed") {
		t.Errorf("listing with the key:\n%s", res)
	}
	res = kbackup(t, invocation{}, "backup", "list", "--cluster", "dr-us", "--storage", url)
	if res.code == 0 || !strings.Contains(res.stderr, "KBACKUP_SSE_CUSTOMER_KEY") {
		t.Errorf("listing without the key should say that it is needed:\n%s", res)
	}
}
