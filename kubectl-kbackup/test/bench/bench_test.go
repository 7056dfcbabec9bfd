// Package bench measures kbackup against baselines taken in the same run, on
// the same cluster and S3 server: the figures are ratios, so they mean the
// same on a fast machine and a slow one. `make bench` runs them; the results
// are written to $KBACKUP_BENCH_OUT (markdown) and reported as metrics.
package bench

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"

	"github.com/kbackup/kbackup/core/catalog"
	"github.com/kbackup/kbackup/core/repo"
	"github.com/kbackup/kbackup/core/testenv"
	"github.com/kbackup/kbackup/core/testenv/repotest"
	"github.com/kbackup/kbackup/core/testenv/workload"
)

// namespaces holds the benchmark's ConfigMaps, as in DESIGN.md's Velero
// comparison (ConfigMaps in 20 namespaces).
const namespaceCount = 20

// repeats: each timing is the median of this many runs.
const repeats = 3

// pairs is how many times the baseline LIST and the backup run in turns.
const pairs = 5

// prefixedNamespaces are named as clusters name them: a team's namespace
// and its -dev, -prod, -canary... siblings. etcd returns a cluster-wide LIST
// in key order, <namespace>/<name>, and '-' sorts before '/', so shop-dev's
// objects come before shop's: a backup that assumed namespaces in plain
// string order read every type twice on such clusters (issue 8, item 5).
var prefixedNamespaces = []string{
	"shop", "shop-dev", "shop-prod", "shop-prod-eu",
	"payments", "payments-dev", "payments-prod",
	"web", "web-canary", "web-dev",
	"api", "api-v2", "api-v2-dev",
	"monitoring", "monitoring-agents",
	"ops", "team-a", "team-a-dev", "team-b", "team-b-dev",
}

// benchNamespaces are the namespaces of the backup benchmark's ConfigMaps:
// prefixedNamespaces, or bench-00 to bench-19 with
// KBACKUP_BENCH_NAMESPACES=numbered, to compare the two shapes.
func benchNamespaces() []string {
	if os.Getenv("KBACKUP_BENCH_NAMESPACES") == "numbered" {
		ns := make([]string, namespaceCount)
		for i := range ns {
			ns[i] = fmt.Sprintf("bench-%02d", i)
		}
		return ns
	}
	return prefixedNamespaces
}

// harness is one cluster and one S3 server, shared by the sizes so that a
// run grows the cluster from 10k to 50k objects.
type harness struct {
	env     *testenv.Env
	cluster *testenv.Cluster
	cs      *kubernetes.Clientset
	// protobuf is a clientset that reads protobuf, as kbackup reads
	// built-in types; client-go's default is JSON.
	protobuf   *kubernetes.Clientset
	kubeconfig string
	binary     string
	kubectl    string
	objects    int
	report     *report
	// restoreObjects is how many objects the restore benchmark's
	// namespaces hold so far.
	restoreObjects int
	// restoreRounds counts the restores, which name their target cluster.
	restoreRounds int
	// largeObjects: the namespaces of large and small objects exist.
	largeObjects bool
}

var (
	harnessOnce sync.Once
	shared      *harness
	sharedErr   error
)

func TestMain(m *testing.M) {
	code := m.Run()
	if shared != nil {
		shared.env.Stop()
	}
	os.Exit(code)
}

func setup(b *testing.B) *harness {
	b.Helper()
	harnessOnce.Do(func() { shared, sharedErr = newHarness() })
	if sharedErr != nil {
		b.Fatal(sharedErr)
	}
	return shared
}

func newHarness() (*harness, error) {
	env, err := testenv.New(context.Background(), testenv.Options{ClusterNames: []string{"bench"}, S3: true})
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "kbackup-bench-")
	if err != nil {
		return nil, err
	}
	h := &harness{env: env, cluster: env.Clusters[0], report: newReport()}
	h.kubeconfig = filepath.Join(dir, "kubeconfig")
	if err := env.WriteKubeconfig(h.kubeconfig); err != nil {
		return nil, err
	}
	if h.cs, err = h.cluster.Clientset(); err != nil {
		return nil, err
	}
	pb := h.cluster.Config()
	pb.ContentType = "application/vnd.kubernetes.protobuf"
	pb.AcceptContentTypes = "application/vnd.kubernetes.protobuf,application/json"
	if h.protobuf, err = kubernetes.NewForConfig(pb); err != nil {
		return nil, err
	}
	if h.kubectl, err = testenv.BinaryPath(testenv.BinKubectl); err != nil {
		return nil, err
	}
	h.binary = filepath.Join(dir, "kubectl-kbackup")
	build := exec.Command("go", "build", "-o", h.binary, ".")
	build.Dir = "../.."
	if out, err := build.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("building kubectl-kbackup: %v\n%s", err, out)
	}
	return h, nil
}

// grow fills the cluster up to total ConfigMaps.
func (h *harness) grow(b *testing.B, total int) {
	b.Helper()
	if total <= h.objects {
		return
	}
	start := time.Now()
	err := workload.CreateConfigMaps(context.Background(), h.cs, workload.ConfigMaps{
		Namespaces: benchNamespaces(), Total: total - h.objects, Workers: 32,
		Prefix: fmt.Sprintf("cm-%d", h.objects),
	})
	if err != nil {
		b.Fatal(err)
	}
	b.Logf("created %d ConfigMaps in %s", total-h.objects, time.Since(start).Round(time.Millisecond))
	h.objects = total
}

// median runs f repeats times and returns the median duration.
func median(b *testing.B, f func() time.Duration) time.Duration {
	b.Helper()
	var ds []time.Duration
	for range repeats {
		ds = append(ds, f())
	}
	return middle(ds)
}

// middle is the median of durations.
func middle(ds []time.Duration) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[len(s)/2]
}

var configMaps = schema.GroupVersionResource{Version: "v1", Resource: "configmaps"}

// listProtobuf is the baseline: a bare paginated LIST of every ConfigMap,
// as protobuf, with the page size a backup uses.
func (h *harness) listProtobuf(b *testing.B) time.Duration {
	b.Helper()
	start := time.Now()
	opts := metav1.ListOptions{Limit: 500}
	n := 0
	for {
		list, err := h.protobuf.CoreV1().ConfigMaps("").List(context.Background(), opts)
		if err != nil {
			b.Fatal(err)
		}
		n += len(list.Items)
		if list.Continue == "" {
			break
		}
		opts.Continue = list.Continue
	}
	if n < h.objects {
		b.Fatalf("LIST returned %d ConfigMaps, want %d", n, h.objects)
	}
	return time.Since(start)
}

// listJSON is the same LIST as JSON into unstructured objects, as a generic
// client (and Velero) reads: for comparison, not the baseline.
func (h *harness) listJSON(b *testing.B) time.Duration {
	b.Helper()
	dyn := dynamic.NewForConfigOrDie(h.cluster.Config())
	start := time.Now()
	opts := metav1.ListOptions{Limit: 500}
	for {
		list, err := dyn.Resource(configMaps).List(context.Background(), opts)
		if err != nil {
			b.Fatal(err)
		}
		if list.GetContinue() == "" {
			break
		}
		opts.Continue = list.GetContinue()
	}
	return time.Since(start)
}

// kubectlGetYAML times `kubectl get configmaps -A -o yaml`.
func (h *harness) kubectlGetYAML(b *testing.B) time.Duration {
	b.Helper()
	cmd := exec.Command(h.kubectl, "--kubeconfig", h.kubeconfig, "get", "configmaps", "-A", "-o", "yaml")
	cmd.Stdout = nil
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	start := time.Now()
	if err := cmd.Run(); err != nil {
		b.Fatalf("kubectl: %v\n%s", err, stderr.String())
	}
	return time.Since(start)
}

// backupRun is one run of `kubectl kbackup backup create`.
type backupRun struct {
	bucket   string
	duration time.Duration
	peakRSS  int64 // bytes: the VmHWM of the kubectl-kbackup process
	manifest *repo.Manifest
}

// backup runs the built binary, as a user would, into bucket.
func (h *harness) backup(b *testing.B, bucket string) backupRun {
	b.Helper()
	cmd := exec.Command(h.binary, "--kubeconfig", h.kubeconfig, "--storage", h.env.S3.RepositoryURL(bucket),
		"backup", "create", "--include-resources", "configmaps", "--cluster-name", "bench", "-o", "json")
	cmd.Env = append(os.Environ(), h.env.S3.Env()...)
	cmd.Env = append(cmd.Env, "NO_COLOR=1")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	duration, peak, err := runMeasured(cmd)
	if err != nil {
		b.Fatalf("kubectl-kbackup backup create: %v\n%s", err, stderr.String())
	}
	run := backupRun{bucket: bucket, duration: duration, peakRSS: peak}
	r, err := repo.Open(context.Background(), h.repoOptions(bucket))
	if err != nil {
		b.Fatal(err)
	}
	if run.manifest, err = catalog.Resolve(context.Background(), r, catalog.Ref{Cluster: "bench", ID: catalog.Latest}); err != nil {
		b.Fatal(err)
	}
	if run.manifest.Phase != repo.PhaseCompleted || run.manifest.Stats.Objects < h.objects {
		b.Fatalf("backup %s: phase %s, %d objects, want Completed with %d", run.manifest.ID, run.manifest.Phase, run.manifest.Stats.Objects, h.objects)
	}
	return run
}

// backupMeasured runs `backup create` with extra arguments into bucket and
// returns its duration and the peak resident set of the process.
func (h *harness) backupMeasured(b *testing.B, bucket string, args ...string) (time.Duration, int64) {
	b.Helper()
	cmd := exec.Command(h.binary, append([]string{"--kubeconfig", h.kubeconfig, "--storage", h.env.S3.RepositoryURL(bucket),
		"backup", "create", "--cluster-name", "bench", "-o", "json"}, args...)...)
	cmd.Env = append(os.Environ(), h.env.S3.Env()...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	d, peak, err := runMeasured(cmd)
	if err != nil {
		b.Fatalf("backup create: %v\n%s", err, stderr.String())
	}
	return d, peak
}

// repoOptions opens, without creating, the repository the binary wrote.
func (h *harness) repoOptions(bucket string) repo.Options {
	opts := repotest.S3Options(h.env.S3, bucket)
	opts.Create = false
	return opts
}

// manifestBytes is the stored size of a backup's manifest, which a backup
// uploads along with its packs.
func (h *harness) manifestBytes(b *testing.B, bucket string, m *repo.Manifest) int64 {
	b.Helper()
	r, err := repo.Open(context.Background(), h.repoOptions(bucket))
	if err != nil {
		b.Fatal(err)
	}
	info, err := r.Backend().Stat(context.Background(), r.Layout().Manifest(m.Cluster.Name, m.ID))
	if err != nil {
		b.Fatal(err)
	}
	return info.Size
}

// changeOnePercent updates 1% of the ConfigMaps. concentrated puts every
// change in one namespace, as a rollout in one team's namespace does;
// otherwise the changes are spread evenly over every namespace.
func (h *harness) changeOnePercent(b *testing.B, concentrated bool, round int) {
	b.Helper()
	ctx := context.Background()
	n := h.objects / 100
	nss := benchNamespaces()
	for i := range n {
		ns := nss[0]
		if !concentrated {
			ns = nss[i%len(nss)]
		}
		list, err := h.cs.CoreV1().ConfigMaps(ns).List(ctx, metav1.ListOptions{Limit: int64(n)})
		if err != nil {
			b.Fatal(err)
		}
		idx := i
		if !concentrated {
			idx = i / len(nss)
		}
		cm := list.Items[idx%len(list.Items)]
		cm.Data["index"] = fmt.Sprintf("changed-%d-%d", round, i)
		if _, err := h.cs.CoreV1().ConfigMaps(ns).Update(ctx, &cm, metav1.UpdateOptions{}); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkBackup(b *testing.B) {
	for _, total := range []int{10_000, 50_000} {
		b.Run(fmt.Sprintf("objects=%d", total), func(b *testing.B) {
			h := setup(b)
			h.grow(b, total)
			for range b.N {
				benchmarkBackup(b, h, total)
			}
		})
	}
	if shared != nil {
		shared.report.write(b)
	}
}

func benchmarkBackup(b *testing.B, h *harness, total int) {
	listJSON := median(b, func() time.Duration { return h.listJSON(b) })
	kubectl := median(b, func() time.Duration { return h.kubectlGetYAML(b) })

	// The baseline LIST and the full backup run in turns, and the ratio is
	// the median of each pair's: the machine's speed drifts between runs
	// (another process, the API server's caches), and a pair shares it.
	var fulls []backupRun
	var lists []time.Duration
	var ratios []float64
	for range pairs {
		l := h.listProtobuf(b)
		f := h.backup(b, h.env.S3.NewBucket(b))
		lists, fulls = append(lists, l), append(fulls, f)
		ratios = append(ratios, f.duration.Seconds()/l.Seconds())
	}
	slices.Sort(lists)
	slices.Sort(ratios)
	list, ratio := lists[len(lists)/2], ratios[len(ratios)/2]
	slices.SortFunc(fulls, func(x, y backupRun) int { return int(x.duration - y.duration) })
	full := fulls[len(fulls)/2]
	peak := slices.MaxFunc(fulls, func(x, y backupRun) int { return int(x.peakRSS - y.peakRSS) }).peakRSS
	fullBucket := full.bucket
	fullManifest := h.manifestBytes(b, fullBucket, full.manifest)
	fullBytes := full.manifest.Stats.BytesUploaded + fullManifest

	// Incremental: into the median full backup's bucket, after 1% changed.
	h.changeOnePercent(b, true, total)
	incr := h.backup(b, fullBucket)
	incrManifest := h.manifestBytes(b, fullBucket, incr.manifest)
	incrBytes := incr.manifest.Stats.BytesUploaded + incrManifest
	h.changeOnePercent(b, false, total)
	spread := h.backup(b, fullBucket)
	spreadBytes := spread.manifest.Stats.BytesUploaded + h.manifestBytes(b, fullBucket, spread.manifest)

	b.ReportMetric(list.Seconds(), "list-s")
	b.ReportMetric(full.duration.Seconds(), "backup-s")
	b.ReportMetric(ratio, "backup/list")
	b.ReportMetric(full.duration.Seconds()/kubectl.Seconds(), "backup/kubectl")
	b.ReportMetric(float64(incrBytes)/float64(fullBytes), "incr-bytes/full")
	b.ReportMetric(float64(incr.manifest.Stats.BytesUploaded)/float64(full.manifest.Stats.BytesUploaded), "incr-packs/full-packs")
	b.ReportMetric(float64(peak)/(1<<20), "peak-MB")

	h.report.add(fmt.Sprintf("| %s | %s | %s | %s | %s (**%.2fx**) | %s | %s + manifest %s = %s, %.1f%% of %s (packs alone **%.1f%%**); spread: %.0f%% | **%d MB** |",
		count(total), secs(list), secs(listJSON), secs(kubectl), secs(full.duration), ratio,
		secs(incr.duration), mb(incr.manifest.Stats.BytesUploaded), mb(incrManifest), mb(incrBytes),
		100*float64(incrBytes)/float64(fullBytes), mb(fullBytes),
		100*float64(incr.manifest.Stats.BytesUploaded)/float64(full.manifest.Stats.BytesUploaded),
		100*float64(spreadBytes)/float64(fullBytes), peak>>20))
	b.Logf("full backup: %d packs %s + manifest %s; 1%% changed in one namespace: %d packs %s + manifest %s; spread: %d packs, %s",
		full.manifest.Stats.PacksUploaded, mb(full.manifest.Stats.BytesUploaded), mb(fullManifest),
		incr.manifest.Stats.PacksUploaded, mb(incr.manifest.Stats.BytesUploaded), mb(incrManifest),
		spread.manifest.Stats.PacksUploaded, mb(spreadBytes))
}

// count writes n with thousands separators, as the docs do.
func count(n int) string {
	s := fmt.Sprint(n)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}

func secs(d time.Duration) string { return fmt.Sprintf("%.2f s", d.Seconds()) }

func mb(n int64) string {
	if n < 1<<20 {
		return fmt.Sprintf("%.0f KB", float64(n)/1024)
	}
	return fmt.Sprintf("%.1f MB", float64(n)/(1<<20))
}

// report collects markdown rows for docs/benchmarks.md.
type report struct {
	mu               sync.Mutex
	rows             []string
	restoreRows      []string
	restoreLargeRows []string
	largeRows        []string
	fleetRows        []string
	fleetCPURows     []string
	exportRows       []string
}

func newReport() *report { return &report{} }

func (r *report) add(row string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.rows = append(r.rows, row)
}

func (r *report) addFleetCPU(row string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.fleetCPURows = append(r.fleetCPURows, row)
}

func (r *report) addFleet(row string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.fleetRows = append(r.fleetRows, row)
}

func (r *report) addRestoreLarge(row string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.restoreLargeRows = append(r.restoreLargeRows, row)
}

func (r *report) addLarge(row string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.largeRows = append(r.largeRows, row)
}

func (r *report) addExport(row string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.exportRows = append(r.exportRows, row)
}

func (r *report) addRestore(row string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.restoreRows = append(r.restoreRows, row)
}

// write logs the rows collected so far, appends them to $KBACKUP_BENCH_OUT
// between the markers that hack/bench-docs.sh copies into
// docs/benchmarks.md, and forgets them.
func (r *report) write(b *testing.B) {
	r.mu.Lock()
	defer r.mu.Unlock()
	var s strings.Builder
	if len(r.restoreRows) > 0 {
		s.WriteString("<!-- bench:restore -->\n")
		s.WriteString("| objects | bare creates, JSON | bare creates, protobuf | kbackup restore (vs bare) | peak RSS of the restore |\n|---|---|---|---|---|\n")
		for _, row := range r.restoreRows {
			s.WriteString(row + "\n")
		}
		s.WriteString("<!-- /bench:restore -->\n")
		r.restoreRows = nil
	}
	if len(r.restoreLargeRows) > 0 {
		if s.Len() > 0 {
			s.WriteString("\n")
		}
		s.WriteString("<!-- bench:restore-large -->\n")
		s.WriteString("| namespace restored | compared with | peak RSS of the restore | of the comparison | difference |\n|---|---|---|---|---|\n")
		for _, row := range r.restoreLargeRows {
			s.WriteString(row + "\n")
		}
		s.WriteString("<!-- /bench:restore-large -->\n")
		r.restoreLargeRows = nil
	}
	if len(r.largeRows) > 0 {
		if s.Len() > 0 {
			s.WriteString("\n")
		}
		s.WriteString("<!-- bench:large -->\n")
		s.WriteString("| objects | kbackup backup (median of the paired ratios to the LIST) | peak RSS of the backup | peak RSS against the data |\n|---|---|---|---|\n")
		for _, row := range r.largeRows {
			s.WriteString(row + "\n")
		}
		s.WriteString("<!-- /bench:large -->\n")
		r.largeRows = nil
	}
	if len(r.rows) > 0 {
		if s.Len() > 0 {
			s.WriteString("\n")
		}
		s.WriteString("<!-- bench:backup -->\n")
		s.WriteString("| objects | LIST, protobuf (the baseline) | LIST, JSON, dynamic client | `kubectl get cm -A -o yaml` | kbackup backup (median of the paired ratios to the LIST) | incremental, 1% changed in one namespace | uploaded by the incremental | peak RSS of the backup |\n")
		s.WriteString("|---|---|---|---|---|---|---|---|\n")
		for _, row := range r.rows {
			s.WriteString(row + "\n")
		}
		s.WriteString("<!-- /bench:backup -->\n")
		r.rows = nil
	}
	if len(r.fleetRows) > 0 {
		if s.Len() > 0 {
			s.WriteString("\n")
		}
		s.WriteString("<!-- bench:fleet -->\n")
		s.WriteString("| clusters × ConfigMaps | one after another, 6 commands (each pair) | fleet run, concurrency 3 (each pair) | fleet run vs one after another (median) | with one API server stopped and one slow | why those two failed |\n|---|---|---|---|---|---|\n")
		for _, row := range r.fleetRows {
			s.WriteString(row + "\n")
		}
		s.WriteString("<!-- /bench:fleet -->\n")
		r.fleetRows = nil
	}
	if len(r.fleetCPURows) > 0 {
		if s.Len() > 0 {
			s.WriteString("\n")
		}
		s.WriteString("<!-- bench:fleet-cpu -->\n")
		s.WriteString("| side | wall time | kbackup CPU s | 6 API servers CPU s | 6 etcds CPU s | S3 server CPU s | total CPU s | cores busy | CPU of the commands ÷ the fleet run's |\n|---|---|---|---|---|---|---|---|---|\n")
		for _, row := range r.fleetCPURows {
			if strings.Count(row, "|") == 9 {
				row += " |" // the baseline's row has no ratio
			}
			s.WriteString(row + "\n")
		}
		s.WriteString("<!-- /bench:fleet-cpu -->\n")
		r.fleetCPURows = nil
	}
	if len(r.exportRows) > 0 {
		if s.Len() > 0 {
			s.WriteString("\n")
		}
		s.WriteString("<!-- bench:export -->\n")
		s.WriteString("| objects | exported into | `verify` of the backup (the baseline), peak RSS | export, gitops, into an empty directory (vs verify), peak RSS, files | again, unchanged (vs verify), peak RSS, files rewritten |\n|---|---|---|---|---|\n")
		for _, row := range r.exportRows {
			s.WriteString(row + "\n")
		}
		s.WriteString("<!-- /bench:export -->\n")
		r.exportRows = nil
	}
	if s.Len() == 0 {
		return
	}
	b.Log("\n" + s.String())
	if out := os.Getenv("KBACKUP_BENCH_OUT"); out != "" {
		f, err := os.OpenFile(out, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
		if err != nil {
			b.Fatal(err)
		}
		defer f.Close()
		fmt.Fprintf(f, "\n%s", s.String())
	}
}
