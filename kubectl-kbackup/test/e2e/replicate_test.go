package e2e

import (
	"bytes"
	"encoding/json"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/kbackup/kbackup/core/replicate"
	"github.com/kbackup/kbackup/core/testenv"
)

// Backups of prod-eu replicated to a second S3 server: the first copy,
// slowed by a latency proxy, is killed in the middle (SIGKILL, as a node
// that dies); what it left verifies; a second run resumes without sending
// the packs again; verify --all-clusters passes on the copy; and a
// namespace restored from the copy into dr-us equals the source's backup.
func TestReplicateKilledThenResumedGivesAVerifiedRestorableCopy(t *testing.T) {
	const ns, mapped = "e2e-repl", "e2e-repl-copy"
	install(t, "prod-eu", ns)
	srcBucket := env.S3.NewBucket(t)
	source := []string{"--storage", env.S3.RepositoryURL(srcBucket)}
	first := parseBackupResult(t, mustRun(t, 0, invocation{}, append([]string{"backup", "create", "--context", "prod-eu", "-o", "json"}, source...)...))
	second := parseBackupResult(t, mustRun(t, 0, invocation{}, append([]string{"backup", "create", "--context", "prod-eu", "-o", "json"}, source...)...))
	srcPacks := len(packKeys(bucketKeys(t, env.S3, srcBucket)))

	target := testenv.StartS3Server(t, env.S3)
	dstBucket := target.NewBucket(t)
	slow := testenv.StartLatencyProxy(t, strings.TrimPrefix(target.Endpoint, "http://"), 150*time.Millisecond)
	slowURL := "s3://" + dstBucket + "?endpoint=http://" + slow.Addr
	copyURL := target.RepositoryURL(dstBucket)

	// The first run, killed once some packs are stored and before all are.
	cmd := exec.Command(binary, append([]string{"replicate", "--to", slowURL, "--cluster", "prod-eu", "--concurrency", "1"}, source...)...)
	cmd.Env = baseEnv(t)
	cmd.Dir = t.TempDir()
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	eventually(t, 2*time.Minute, "the first packs in the copy", func() bool {
		return len(packKeys(bucketKeys(t, target, dstBucket))) >= 5
	})
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()
	stored := len(packKeys(bucketKeys(t, target, dstBucket)))
	if stored >= srcPacks {
		t.Fatalf("the copy was complete (%d of %d packs) before it was killed; slow it down more:\n%s", stored, srcPacks, out.String())
	}
	t.Logf("killed with %d of %d packs copied", stored, srcPacks)

	// What the killed run left is a valid repository.
	mustRun(t, 0, invocation{}, "verify", "--all-clusters", "--storage", copyURL)

	// Resumed: only the missing packs are sent.
	res := mustRun(t, 0, invocation{}, append([]string{"replicate", "--to", copyURL, "--cluster", "prod-eu", "-o", "json"}, source...)...)
	var rep replicate.Report
	if err := json.Unmarshal([]byte(res.stdout), &rep); err != nil {
		t.Fatalf("replicate -o json: %v\n%s", err, res)
	}
	// A put in flight when the process died may land after the count:
	// at most the packs not seen stored are sent.
	if rep.ManifestsCopied+rep.ManifestsSkipped != 2 || rep.PacksCopied == 0 || rep.PacksCopied > srcPacks-stored || len(rep.Problems) != 0 {
		t.Errorf("resumed run: %d packs were stored before, report %+v (the source has %d packs)", stored, rep, srcPacks)
	}
	if got := len(packKeys(bucketKeys(t, target, dstBucket))); got != srcPacks {
		t.Errorf("the copy holds %d packs, the source %d", got, srcPacks)
	}
	table := mustRun(t, 0, invocation{}, append([]string{"replicate", "--to", copyURL, "--cluster", "prod-eu"}, source...)...)
	for _, want := range []string{"CLUSTER", "BACKUPS COPIED", "prod-eu", "OK", "Copied 0 backups and 0 packs", "already there: 2 backups"} {
		if !strings.Contains(table.stdout, want) {
			t.Errorf("a third run's table lacks %q:\n%s", want, table)
		}
	}

	verified := mustRun(t, 0, invocation{}, "verify", "--all-clusters", "--storage", copyURL, "-o", "json")
	var v struct {
		Backups []struct{ ID string } `json:"backups"`
		Packs   int                   `json:"packs"`
	}
	if err := json.Unmarshal([]byte(verified.stdout), &v); err != nil || len(v.Backups) != 2 || v.Packs != srcPacks {
		t.Fatalf("verify --all-clusters of the copy (%v):\n%s", err, verified)
	}
	listed := mustRun(t, 0, invocation{}, "backup", "list", "--cluster", "prod-eu", "--storage", copyURL)
	for _, id := range []string{first.ID, second.ID} {
		if !strings.Contains(listed.stdout, id) {
			t.Errorf("backup list of the copy lacks %s:\n%s", id, listed)
		}
	}

	// A restore from the copy equals the source's backup.
	mustRun(t, 0, invocation{}, "restore", "latest", "--from-cluster", "prod-eu", "-n", ns, "--namespace-mapping", ns+":"+mapped,
		"--context", "dr-us", "--yes", "--storage", copyURL)
	same := mustRun(t, 0, invocation{}, append([]string{"diff", second.ID, "--from-cluster", "prod-eu", "--context", "dr-us", "-n", ns,
		"--namespace-mapping", ns + ":" + mapped, "--exclude-resources", "replicasets,pods,jobs,endpointslices"}, source...)...)
	if !strings.Contains(same.stdout, "No differences") {
		t.Errorf("the source's backup against the namespace restored from the copy:\n%s", same)
	}
}
