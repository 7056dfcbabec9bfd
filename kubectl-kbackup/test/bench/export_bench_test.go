package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"golang.org/x/sys/unix"

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

// exportTarget is a file system the benchmark exports into: the disk of
// $TMPDIR, where a user's Git checkout would be, and memory (tmpfs), where
// creating a file costs the least the kernel can do, so that the two rows
// part kbackup's work from the disk's.
type exportTarget struct {
	name   string // what the table says
	metric string // the suffix of its benchmark metrics
	root   string
	// firsts and agains are the rounds' durations.
	firsts, agains            []time.Duration
	firstPeak, againPeak      int64
	written, rewritten, files int
}

// memoryDir is the tmpfs the memory row exports into.
const memoryDir = "/dev/shm"

func exportTargets(b *testing.B, h *harness) []*exportTarget {
	disk := b.TempDir()
	targets := []*exportTarget{{name: "disk (" + fsType(disk) + ", `$TMPDIR`)", metric: "disk", root: disk}}
	if fs := fsType(memoryDir); fs != "tmpfs" {
		// Said in the table, not left out in silence.
		h.report.addExport(fmt.Sprintf("| %s | memory: not measured, %s is %s, not a tmpfs | | | |", count(exportObjects), memoryDir, fs))
		return targets
	}
	mem, err := os.MkdirTemp(memoryDir, "kbackup-bench-export-")
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { os.RemoveAll(mem) })
	return append(targets, &exportTarget{name: "memory (tmpfs, " + memoryDir + ")", metric: "memory", root: mem})
}

// fsType names the file system holding dir.
func fsType(dir string) string {
	var st unix.Statfs_t
	if err := unix.Statfs(dir, &st); err != nil {
		return "unknown: " + err.Error()
	}
	switch st.Type {
	case unix.TMPFS_MAGIC:
		return "tmpfs"
	case unix.EXT4_SUPER_MAGIC:
		return "ext4"
	case unix.XFS_SUPER_MAGIC:
		return "xfs"
	case unix.BTRFS_SUPER_MAGIC:
		return "btrfs"
	case unix.OVERLAYFS_SUPER_MAGIC:
		return "overlayfs"
	}
	return fmt.Sprintf("file system 0x%x", st.Type)
}

func benchmarkExport(b *testing.B, h *harness, bucket, config string) {
	var verifies []time.Duration
	var verifyPeak int64
	targets := exportTargets(b, h)
	for round := range repeats {
		d, p, _ := h.kbackupMeasured(b, bucket, "verify", "latest", "--cluster", "bench")
		verifies, verifyPeak = append(verifies, d), max(verifyPeak, p)
		// Each target in turn within a round, so that both meet the
		// machine as it is then.
		for _, t := range targets {
			t.round(b, h, bucket, config, filepath.Join(t.root, fmt.Sprintf("gitops-%d", round)))
		}
	}
	v := middle(verifies)
	for _, t := range targets {
		f, a := middle(t.firsts), middle(t.agains)
		b.ReportMetric(f.Seconds()/v.Seconds(), "export/verify-"+t.metric)
		b.ReportMetric(a.Seconds()/v.Seconds(), "re-export/verify-"+t.metric)
		b.ReportMetric(float64(t.rewritten), "files-rewritten-"+t.metric)
		h.report.addExport(fmt.Sprintf("| %s | %s | %s, %s | %s (%.2fx), %s, %s | %s (%.2fx), %s, %s rewritten |",
			count(exportObjects), t.name, secs(v), mb(verifyPeak),
			secs(f), f.Seconds()/v.Seconds(), mb(t.firstPeak), count(t.written)+" files written of "+count(t.files),
			secs(a), a.Seconds()/v.Seconds(), mb(t.againPeak), count(t.rewritten)))
	}
}

// round exports into the new directory dir, then again unchanged.
func (t *exportTarget) round(b *testing.B, h *harness, bucket, config, dir string) {
	args := []string{"export", "latest", "--from-cluster", "bench", "--output", dir, "--config", config,
		"--repo-url", "https://git.example.com/bench.git", "--report", "json"}
	d, p, out := h.kbackupMeasured(b, bucket, args...)
	first := parseExportReport(b, out)
	if first.Objects != exportObjects+namespaceCount {
		b.Fatalf("the export into %s wrote %d objects, want %d ConfigMaps and %d Namespaces", dir, first.Objects, exportObjects, namespaceCount)
	}
	t.firsts, t.firstPeak, t.written, t.files = append(t.firsts, d), max(t.firstPeak, p), len(first.Created), first.Files

	d, p, out = h.kbackupMeasured(b, bucket, args...)
	again := parseExportReport(b, out)
	t.agains, t.againPeak = append(t.agains, d), max(t.againPeak, p)
	t.rewritten = max(t.rewritten, len(again.Created)+len(again.Updated)+len(again.Deleted))
	if again.Unchanged != again.Files {
		b.Errorf("the unchanged re-export into %s left %d of %d files unchanged", dir, again.Unchanged, again.Files)
	}
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
