package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/kbackup/kbackup/core/export"
	"github.com/kbackup/kbackup/core/testenv/workload"
)

// exportObjects is the size of the export benchmark's backup.
const exportObjects = 10_000

// exportNamespaces hold the export benchmark's ConfigMaps, apart from the
// other benchmarks'.
func exportNamespaces() []string {
	ns := make([]string, namespaceCount)
	for i := range ns {
		ns[i] = fmt.Sprintf("xbench-%02d", i)
	}
	return ns
}

// exportConfig is the benchmark's kbackup.yaml: two environments, so that
// every namespace has a base and two overlays.
const exportConfig = `environments:
  - name: dev
    cluster_url: https://dev.example.com:6443
    auto_sync: true
  - name: prod
    cluster_url: https://prod.example.com:6443
    replicas: 3
`

// BenchmarkExport exports the 10,000-object backup as a GitOps repository
// into an empty directory, then again unchanged into the same directory,
// against `verify` reading and checking every pack of the same backup.
func BenchmarkExport(b *testing.B) {
	h := setup(b)
	err := workload.CreateConfigMaps(context.Background(), h.cs, workload.ConfigMaps{
		Namespaces: exportNamespaces(), Total: exportObjects, Workers: 32, Prefix: "cm-x",
	})
	if err != nil {
		b.Fatal(err)
	}
	bucket := h.env.S3.NewBucket(b)
	h.backupWith(b, bucket, "--include-resources", "configmaps,namespaces", "--include-namespaces", "xbench-*")
	config := filepath.Join(filepath.Dir(h.kubeconfig), "export-kbackup.yaml")
	if err := os.WriteFile(config, []byte(exportConfig), 0o600); err != nil {
		b.Fatal(err)
	}
	for range b.N {
		benchmarkExport(b, h, bucket, config)
	}
	shared.report.write(b)
}

func benchmarkExport(b *testing.B, h *harness, bucket, config string) {
	var verifies, firsts, agains []time.Duration
	var verifyPeak, firstPeak, againPeak int64
	var written, rewritten, files int
	for round := range repeats {
		d, p, _ := h.kbackupMeasured(b, bucket, "verify", "latest", "--cluster", "bench")
		verifies, verifyPeak = append(verifies, d), max(verifyPeak, p)

		dir := filepath.Join(b.TempDir(), fmt.Sprintf("gitops-%d", round))
		args := []string{"export", "latest", "--from-cluster", "bench", "--output", dir, "--config", config,
			"--repo-url", "https://git.example.com/bench.git", "--report", "json"}
		d, p, out := h.kbackupMeasured(b, bucket, args...)
		first := parseExportReport(b, out)
		if first.Objects != exportObjects+namespaceCount {
			b.Fatalf("the export wrote %d objects, want %d ConfigMaps and %d Namespaces", first.Objects, exportObjects, namespaceCount)
		}
		firsts, firstPeak, written, files = append(firsts, d), max(firstPeak, p), len(first.Created), first.Files

		d, p, out = h.kbackupMeasured(b, bucket, args...)
		again := parseExportReport(b, out)
		agains, againPeak = append(agains, d), max(againPeak, p)
		rewritten = max(rewritten, len(again.Created)+len(again.Updated)+len(again.Deleted))
		if again.Unchanged != again.Files {
			b.Errorf("the unchanged re-export left %d of %d files unchanged", again.Unchanged, again.Files)
		}
	}
	slices.Sort(verifies)
	slices.Sort(firsts)
	slices.Sort(agains)
	v, f, a := verifies[len(verifies)/2], firsts[len(firsts)/2], agains[len(agains)/2]
	b.ReportMetric(f.Seconds()/v.Seconds(), "export/verify")
	b.ReportMetric(a.Seconds()/v.Seconds(), "re-export/verify")
	b.ReportMetric(float64(rewritten), "files-rewritten")
	h.report.addExport(fmt.Sprintf("| %s | %s, %s | %s (%.2fx), %s, %s | %s (%.2fx), %s, %s rewritten |",
		count(exportObjects), secs(v), mb(verifyPeak),
		secs(f), f.Seconds()/v.Seconds(), mb(firstPeak), count(written)+" files written of "+count(files),
		secs(a), a.Seconds()/v.Seconds(), mb(againPeak), count(rewritten)))
}

// kbackupMeasured runs the binary against bucket and returns its duration,
// the peak resident set of the process and its stdout.
func (h *harness) kbackupMeasured(b *testing.B, bucket string, args ...string) (time.Duration, int64, []byte) {
	b.Helper()
	cmd := exec.Command(h.binary, append([]string{"--kubeconfig", h.kubeconfig, "--storage", h.env.S3.RepositoryURL(bucket)}, args...)...)
	cmd.Env = append(os.Environ(), h.env.S3.Env()...)
	cmd.Env = append(cmd.Env, "NO_COLOR=1")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	d, peak, err := runMeasured(cmd)
	if err != nil {
		b.Fatalf("kubectl-kbackup %v: %v\n%s", args, err, stderr.String())
	}
	return d, peak, stdout.Bytes()
}

func parseExportReport(b *testing.B, out []byte) export.Result {
	b.Helper()
	var res export.Result
	if err := json.Unmarshal(out, &res); err != nil {
		b.Fatalf("export --report json: %v\n%.2000s", err, out)
	}
	return res
}
