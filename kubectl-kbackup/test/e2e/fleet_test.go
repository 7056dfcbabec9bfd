package e2e

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/kbackup/kbackup/core/testenv"
)

// fleetDoc is the part of a fleet run's -o json the tests read.
type fleetDoc struct {
	RunID     string `json:"runId"`
	Completed int    `json:"completed"`
	Clusters  []struct {
		Cluster, Context, Result, BackupID, Location, Error string
		Objects                                             int
		Duration                                            string
		FallbackUsed                                        bool
	} `json:"clusters"`
	StorageFailures []struct{ Location, Error string } `json:"storageFailures"`
	NotReached      []string                           `json:"notReached"`
}

func parseFleetDoc(t *testing.T, res result) fleetDoc {
	t.Helper()
	var doc fleetDoc
	if err := json.Unmarshal([]byte(res.stdout), &doc); err != nil {
		t.Fatalf("the fleet run printed no JSON document (%v):\n%s", err, res)
	}
	return doc
}

// startFleet starts three clusters of the test's own (its faults stop
// servers), each with a namespace "fleet" of ConfigMaps, and writes a
// kubeconfig with a context per cluster.
func startFleet(t *testing.T) (*testenv.Env, string) {
	t.Helper()
	three := testenv.Start(t, testenv.Options{ClusterNames: []string{"fleet-a", "fleet-b", "fleet-c"}})
	for _, c := range three.Clusters {
		cs, err := c.Clientset()
		if err != nil {
			t.Fatal(err)
		}
		ctx := context.Background()
		if _, err := cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "fleet"}}, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		for i := range 20 {
			cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("cm-%d", i)}, Data: map[string]string{"from": c.Name}}
			if _, err := cs.CoreV1().ConfigMaps("fleet").Create(ctx, cm, metav1.CreateOptions{}); err != nil {
				t.Fatal(err)
			}
		}
	}
	path := filepath.Join(t.TempDir(), "kubeconfig")
	if err := three.WriteKubeconfig(path); err != nil {
		t.Fatal(err)
	}
	return three, path
}

// A fleet run with one API server stopped: the cluster fails fast with its
// reason, the others complete, and the table and the exit code say so. The
// same with --fleet, which finds the registered clusters by identity and
// reports the stopped one, last seen at that address, as not backed up.
func TestFleetRunWithAnAPIServerStopped(t *testing.T) {
	three, kc := startFleet(t)
	storage := env.S3.RepositoryURL(env.S3.NewBucket(t))
	inv := invocation{env: []string{"KUBECONFIG=" + kc}}
	base := []string{"backup", "create", "-n", "fleet", "--storage", storage}

	// All three answer: each is backed up, and registered by its backup.
	first := mustRun(t, 0, inv, append(base, "--all-contexts", "-o", "json")...)
	doc := parseFleetDoc(t, first)
	if doc.Completed != 3 || !strings.HasPrefix(doc.RunID, "run-") {
		t.Fatalf("first run: %+v\n%s", doc, first)
	}

	three.Cluster("fleet-b").StopAPIServer()
	const connect = 4 * time.Second
	started := time.Now()
	res := mustRun(t, 2, inv, append(base, "--contexts", "fleet-a,fleet-b,fleet-c", "--connect-timeout", connect.String())...)
	took := time.Since(started)
	lines := strings.Split(res.stdout, "\n")
	if !strings.HasPrefix(lines[0], "CLUSTER") || !strings.Contains(lines[0], "ENVIRONMENT") || !strings.Contains(lines[0], "ERROR") {
		t.Errorf("no table header:\n%s", res)
	}
	rows := map[string]string{}
	for _, l := range lines[1:] {
		if f := strings.Fields(l); len(f) > 2 {
			rows[f[0]] = l
		}
	}
	for _, name := range []string{"fleet-a", "fleet-c"} {
		if !strings.Contains(rows[name], "Completed") {
			t.Errorf("cluster %s's row: %q\n%s", name, rows[name], res)
		}
	}
	if r := rows["fleet-b"]; !strings.Contains(r, "NotBackedUp") || !strings.Contains(r, "connection refused") {
		t.Errorf("the stopped cluster's row: %q\n%s", r, res)
	}
	if !strings.Contains(res.stdout, "2 of 3 clusters completed") || !strings.Contains(res.stderr, "2 of 3 clusters completed") {
		t.Errorf("no summary line:\n%s", res)
	}
	// Fails fast: the stopped cluster costs at most the connect timeout,
	// beside backups that take a few seconds here.
	if took > connect+30*time.Second {
		t.Errorf("the run took %s", took)
	}

	fleet := mustRun(t, 2, inv, append(base, "--fleet", "--connect-timeout", connect.String(), "-o", "json", "--log-format", "json", "--log-level", "info")...)
	doc = parseFleetDoc(t, fleet)
	byCluster := map[string]string{}
	for _, c := range doc.Clusters {
		byCluster[c.Context] = c.Result + " " + c.Error
	}
	if len(doc.Clusters) != 3 || !strings.HasPrefix(byCluster["fleet-a"], "Completed") || !strings.HasPrefix(byCluster["fleet-c"], "Completed") ||
		!strings.Contains(byCluster["fleet-b"], "did not answer while the run looked for it") {
		t.Errorf("--fleet: %+v\n%s", doc.Clusters, fleet)
	}
	// Every log line carries the run's ID (correlation).
	logged := 0
	for _, l := range strings.Split(strings.TrimSpace(fleet.stderr), "\n") {
		if !strings.HasPrefix(l, "{") {
			continue
		}
		var entry map[string]any
		if err := json.Unmarshal([]byte(l), &entry); err != nil {
			t.Fatalf("log line %q: %v", l, err)
		}
		if entry["run"] != doc.RunID {
			t.Errorf("log line without the run's ID %s: %s", doc.RunID, l)
		}
		logged++
	}
	if logged < 4 {
		t.Errorf("%d log lines; want the run's start and end and a line per cluster:\n%s", logged, fleet.stderr)
	}
	// The backups of the run carry its ID in their manifests.
	list := mustRun(t, 0, inv, "backup", "list", "--all-clusters", "--storage", storage, "-o", "json")
	var backups struct {
		Items []struct {
			ID      string `json:"id"`
			RunID   string `json:"runId"`
			Cluster struct{ Name string }
		} `json:"items"`
	}
	if err := json.Unmarshal([]byte(list.stdout), &backups); err != nil {
		t.Fatal(err)
	}
	ofRun := 0
	for _, b := range backups.Items {
		if b.RunID == doc.RunID {
			ofRun++
		}
	}
	if ofRun != 2 {
		t.Errorf("%d backups of run %s in backup list; want 2:\n%s", ofRun, doc.RunID, list.stdout)
	}
}

// A fleet run whose primary S3 server stops mid-run: the remaining backups
// land in the fallback on another S3 server, the output says so, and
// backup list finds them there.
func TestFleetRunMovesToTheFallbackWhenStorageStops(t *testing.T) {
	three, kc := startFleet(t)
	// The second and third clusters answer through a slow network, so that
	// the primary is surely down before they write: the test stops it when
	// the first cluster is done, and they take a second to connect.
	cfg, err := clientcmd.LoadFromFile(kc)
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"fleet-b", "fleet-c"} {
		proxy := testenv.StartLatencyProxy(t, strings.TrimPrefix(three.Cluster(name).Server, "https://"), 400*time.Millisecond)
		cfg.Clusters[name].Server = "https://" + proxy.Addr
	}
	if err := clientcmd.WriteToFile(*cfg, kc); err != nil {
		t.Fatal(err)
	}
	primaryS3 := testenv.StartS3Server(t, env.S3)
	primaryBucket, err := primaryS3.CreateBucket(context.Background(), "primary")
	if err != nil {
		t.Fatal(err)
	}
	primary := primaryS3.RepositoryURL(primaryBucket)
	fallback := env.S3.RepositoryURL(env.S3.NewBucket(t))
	args := []string{"backup", "create", "-n", "fleet", "--contexts", "fleet-a,fleet-b,fleet-c", "--max-concurrent-operations", "1",
		"--storage", primary, "--fallback-storage", fallback, "-o", "json", "--log-format", "json", "--log-level", "info"}

	// The primary stops as soon as the first cluster is done.
	cmd := exec.Command(binary, args...)
	cmd.Env = append(baseEnv(t), "KUBECONFIG="+kc)
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
	sc := bufio.NewScanner(stderrPipe)
	for sc.Scan() {
		line := sc.Text()
		stderr.WriteString(line + "\n")
		var entry struct {
			Msg string `json:"msg"`
		}
		if json.Unmarshal([]byte(line), &entry) == nil && entry.Msg == "cluster done" {
			once.Do(primaryS3.Stop)
		}
	}
	err = cmd.Wait()
	res := result{args: args, stdout: stdout.String(), stderr: stderr.String()}
	if exit, ok := err.(*exec.ExitError); ok {
		res.code = exit.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	noCredentials(t, env.S3, res)
	if res.code != 0 {
		t.Fatalf("want every cluster backed up (exit 0):\n%s", res)
	}
	doc := parseFleetDoc(t, res)
	inFallback := 0
	for i, c := range doc.Clusters {
		switch {
		case c.Result != "Completed":
			t.Errorf("cluster %s: %s %s", c.Cluster, c.Result, c.Error)
		case i == 0 && c.FallbackUsed:
			t.Errorf("the first cluster went to the fallback before the primary stopped: %+v", c)
		case i > 0 && (!c.FallbackUsed || !strings.Contains(c.Location, env.S3.Host())):
			t.Errorf("cluster %s after the primary stopped went to %s, not the fallback", c.Cluster, c.Location)
		case i > 0:
			inFallback++
		}
	}
	if len(doc.StorageFailures) != 1 || !strings.Contains(doc.StorageFailures[0].Location, primaryS3.Host()) {
		t.Errorf("storage failures: %+v; want the primary's", doc.StorageFailures)
	}

	// backup list, pointed at the fallback, finds them.
	list := mustRun(t, 0, invocation{}, "backup", "list", "--all-clusters", "--storage", fallback)
	for _, c := range doc.Clusters[1:] {
		if !strings.Contains(list.stdout, c.BackupID) {
			t.Errorf("backup list of the fallback lacks %s's backup %s:\n%s", c.Cluster, c.BackupID, list.stdout)
		}
	}
	if inFallback != 2 {
		t.Errorf("%d backups in the fallback, want 2", inFallback)
	}
}

// Bad input to a fleet run: an unknown context is named with the contexts
// there are, and a bad concurrency names its flag; nothing is written.
func TestFleetRunBadInput(t *testing.T) {
	bucket := env.S3.NewBucket(t)
	storage := env.S3.RepositoryURL(bucket)
	res := mustRun(t, 1, invocation{}, "backup", "create", "--contexts", "prod-eu,prod-uk", "--storage", storage)
	if !strings.Contains(res.stderr, `has no context "prod-uk"`) || !strings.Contains(res.stderr, "available contexts: dr-us, prod-eu") {
		t.Errorf("unknown context:\n%s", res)
	}
	res = mustRun(t, 1, invocation{}, "backup", "create", "--all-contexts", "--max-concurrent-operations", "-2", "--storage", storage)
	if !strings.Contains(res.stderr, "flag --max-concurrent-operations") || !strings.Contains(res.stderr, "want a positive integer") {
		t.Errorf("bad concurrency:\n%s", res)
	}
	res = mustRun(t, 1, invocation{}, "backup", "create", "--all-contexts", "--connect-timeout", "soon", "--storage", storage)
	if !strings.Contains(res.stderr, "--connect-timeout") {
		t.Errorf("bad timeout:\n%s", res)
	}
	if keys := bucketKeys(t, env.S3, bucket); len(keys) != 0 {
		t.Errorf("bad input wrote %v", keys)
	}
}
