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

	"golang.org/x/sync/errgroup"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/kbackup/kbackup/core/catalog"
	"github.com/kbackup/kbackup/core/clean"
	"github.com/kbackup/kbackup/core/repo"
	"github.com/kbackup/kbackup/core/restore"
	"github.com/kbackup/kbackup/core/selection"
	"github.com/kbackup/kbackup/core/testenv"
	"github.com/kbackup/kbackup/core/testenv/workload"
)

// emptyCluster starts a cluster of its own for one measurement, so that
// every round of kbackup's restore and of each baseline goes into an empty
// cluster; stop it when the measurement is done.
func (h *harness) emptyCluster(b *testing.B, name string) (env *testenv.Env, kubeconfig string) {
	b.Helper()
	env, err := testenv.New(context.Background(), testenv.Options{ClusterNames: []string{name}})
	if err != nil {
		b.Fatal(err)
	}
	kubeconfig = filepath.Join(filepath.Dir(h.kubeconfig), name+"-kubeconfig")
	if err := env.WriteKubeconfig(kubeconfig); err != nil {
		env.Stop()
		b.Fatal(err)
	}
	return env, kubeconfig
}

// restoreNamespaces hold the restore benchmark's objects, apart from the
// backup benchmark's, which grow to 50k.
func restoreNamespaces() []string {
	ns := make([]string, namespaceCount)
	for i := range ns {
		ns[i] = fmt.Sprintf("rbench-%02d", i)
	}
	return ns
}

func BenchmarkRestore(b *testing.B) {
	for _, total := range []int{10_000, 50_000} {
		b.Run(fmt.Sprintf("objects=%d", total), func(b *testing.B) {
			h := setup(b)
			if total > h.restoreObjects {
				err := workload.CreateConfigMaps(context.Background(), h.cs, workload.ConfigMaps{
					Namespaces: restoreNamespaces(), Total: total - h.restoreObjects, Workers: 32,
					Prefix: fmt.Sprintf("cm-%d", h.restoreObjects),
				})
				if err != nil {
					b.Fatal(err)
				}
				h.restoreObjects = total
			}
			for range b.N {
				benchmarkRestore(b, h, total)
			}
		})
	}
	b.Run("large-objects", func(b *testing.B) {
		h := setup(b)
		h.createLargeObjects(b)
		for range b.N {
			for _, n := range largeNamespaceSizes {
				benchmarkRestoreLargeObjects(b, h, n)
			}
		}
	})
	if shared != nil {
		shared.report.write(b)
	}
}

func benchmarkRestore(b *testing.B, h *harness, total int) {
	ctx := context.Background()
	bucket := h.env.S3.NewBucket(b)
	h.backupWith(b, bucket, "--include-resources", "configmaps,namespaces", "--include-namespaces", "rbench-*")
	r, err := repo.Open(ctx, h.repoOptions(bucket))
	if err != nil {
		b.Fatal(err)
	}
	m, err := catalog.Resolve(ctx, r, catalog.Ref{Cluster: "bench", ID: catalog.Latest})
	if err != nil {
		b.Fatal(err)
	}
	onlyConfigMaps, err := selection.Selection{IncludeResources: []string{"configmaps"}}.Compile(nil, nil)
	if err != nil {
		b.Fatal(err)
	}
	objs, err := catalog.ReadAll(ctx, r, catalog.Select(m, onlyConfigMaps, false), 4)
	if err != nil {
		b.Fatal(err)
	}
	if len(objs) != total {
		b.Fatalf("the backup holds %d ConfigMaps, want %d", len(objs), total)
	}

	// Every round of each starts an empty cluster of its own.
	var kb, bareJSON, bareProto []time.Duration
	var peak int64
	for range repeats {
		d, p := h.restore(b, bucket, total)
		kb, peak = append(kb, d), max(peak, p)
		bareJSON = append(bareJSON, h.bareCreates(b, "bare-json", objs, func(cfg *rest.Config) createFunc {
			dyn := dynamic.NewForConfigOrDie(cfg)
			return func(ctx context.Context, o *unstructured.Unstructured) error {
				_, err := dyn.Resource(configMaps).Namespace(o.GetNamespace()).Create(ctx, o, metav1.CreateOptions{})
				return err
			}
		}))
		bareProto = append(bareProto, h.bareCreates(b, "bare-protobuf", objs, func(cfg *rest.Config) createFunc {
			pb := rest.CopyConfig(cfg)
			pb.ContentType = "application/vnd.kubernetes.protobuf"
			pb.AcceptContentTypes = "application/vnd.kubernetes.protobuf,application/json"
			cs := kubernetes.NewForConfigOrDie(pb)
			return func(ctx context.Context, o *unstructured.Unstructured) error {
				cm := &corev1.ConfigMap{}
				if err := runtime.DefaultUnstructuredConverter.FromUnstructured(o.Object, cm); err != nil {
					return err
				}
				_, err := cs.CoreV1().ConfigMaps(cm.Namespace).Create(ctx, cm, metav1.CreateOptions{})
				return err
			}
		}))
	}
	n := float64(len(objs))
	rate := func(ds []time.Duration) float64 { slices.Sort(ds); return n / ds[len(ds)/2].Seconds() }
	kbRate, jsonRate, protoRate := rate(kb), rate(bareJSON), rate(bareProto)
	b.ReportMetric(kbRate, "restore-obj/s")
	b.ReportMetric(jsonRate, "bare-json-obj/s")
	b.ReportMetric(protoRate, "bare-protobuf-obj/s")
	b.ReportMetric(kbRate/jsonRate, "restore/bare-json")
	b.ReportMetric(kbRate/protoRate, "restore/bare-protobuf")
	b.ReportMetric(float64(peak)/(1<<20), "restore-peak-MB")
	h.report.addRestore(fmt.Sprintf("| %s | %s/s | %s/s | %s/s (**%.2fx** JSON, **%.2fx** protobuf) | **%d MB** |",
		count(len(objs)), count(int(jsonRate)), count(int(protoRate)), count(int(kbRate)), kbRate/jsonRate, kbRate/protoRate, peak>>20))
}

// The namespace of large objects: 40 ConfigMaps of 900 KiB, the shape of
// Helm's release history, and a namespace of as many small ones to compare
// with. Neither matches rbench-*.
// largeObjects and largeObjectBytes are the backup's (large_bench_test.go).
const (
	restoreLargeNamespace = "rlarge"
	smallNamespace        = "rsmall"
)

// restoreLargeNamespaceOf holds n large objects.
func restoreLargeNamespaceOf(n int) string {
	if n == largeObjects {
		return restoreLargeNamespace
	}
	return fmt.Sprintf("%s-%d", restoreLargeNamespace, n)
}

// createLargeObjects fills the namespaces, once: one of large objects for
// each of largeNamespaceSizes, and the one of small objects.
func (h *harness) createLargeObjects(b *testing.B) {
	b.Helper()
	if h.largeObjects {
		return
	}
	ctx := context.Background()
	specs := []workload.ConfigMaps{{Namespaces: []string{smallNamespace}, Total: largeObjects, Workers: 4, Prefix: "small"}}
	for _, n := range largeNamespaceSizes {
		specs = append(specs, workload.ConfigMaps{Namespaces: []string{restoreLargeNamespaceOf(n)}, Total: n, DataBytes: largeObjectBytes, Workers: 4, Prefix: "large"})
	}
	for _, spec := range specs {
		if err := workload.CreateConfigMaps(ctx, h.cs, spec); err != nil {
			b.Fatal(err)
		}
	}
	h.largeObjects = true
}

// benchmarkRestoreLargeObjects restores a namespace of n large objects and
// the one of small objects, each from a backup of its own into an empty
// cluster, and reports the restore's peak memory: the difference between
// the two is what the large objects cost, compared with the largest one.
func benchmarkRestoreLargeObjects(b *testing.B, h *harness, n int) {
	peaks := map[string]int64{}
	large := restoreLargeNamespaceOf(n)
	for _, ns := range []string{large, smallNamespace} {
		bucket := h.env.S3.NewBucket(b)
		h.backupWith(b, bucket, "--include-resources", "configmaps,namespaces", "--include-namespaces", ns)
		objects := n
		if ns == smallNamespace {
			objects = largeObjects
		}
		for range repeats {
			_, p := h.restore(b, bucket, objects)
			peaks[ns] = max(peaks[ns], p)
		}
	}
	largePeak, small := peaks[large], peaks[smallNamespace]
	extra := float64(largePeak-small) / largeObjectBytes
	b.ReportMetric(float64(largePeak)/(1<<20), fmt.Sprintf("restore-peak-MB/%d", n))
	b.ReportMetric(float64(small)/(1<<20), "small-restore-peak-MB")
	b.ReportMetric(extra, fmt.Sprintf("extra-peak/largest-object/%d", n))
	h.report.addRestoreLarge(fmt.Sprintf("| %d ConfigMaps of %d KiB (%s) | %d ConfigMaps of 256 B | **%d MB** | %d MB | %d MB, **%.0fx** the largest object |",
		n, largeObjectBytes>>10, mb(int64(n)*largeObjectBytes), largeObjects, largePeak>>20, small>>20, (largePeak-small)>>20, extra))
}

type createFunc func(context.Context, *unstructured.Unstructured) error

// backupWith runs `backup create` with extra arguments into bucket.
func (h *harness) backupWith(b *testing.B, bucket string, args ...string) {
	b.Helper()
	cmd := exec.Command(h.binary, append([]string{"--kubeconfig", h.kubeconfig, "--storage", h.env.S3.RepositoryURL(bucket),
		"backup", "create", "--cluster-name", "bench", "-o", "json"}, args...)...)
	cmd.Env = append(os.Environ(), h.env.S3.Env()...)
	if out, err := cmd.CombinedOutput(); err != nil {
		b.Fatalf("backup create: %v\n%s", err, out)
	}
}

// restore runs `kubectl kbackup restore` of the latest backup of cluster
// bench into an empty cluster of its own, and returns its duration and the
// peak resident set of the kubectl-kbackup process.
func (h *harness) restore(b *testing.B, bucket string, total int) (time.Duration, int64) {
	b.Helper()
	target, kubeconfig := h.emptyCluster(b, "restored")
	defer target.Stop()
	// Each round's cluster is a new one (a new kube-system UID), so its
	// restore record goes under a name of its own.
	h.restoreRounds++
	cmd := exec.Command(h.binary, "--kubeconfig", kubeconfig, "--context", "restored",
		"--storage", h.env.S3.RepositoryURL(bucket),
		"restore", "latest", "--from-cluster", "bench", "--cluster-name", fmt.Sprintf("restored-%d", h.restoreRounds), "--yes", "-o", "json")
	cmd.Env = append(os.Environ(), h.env.S3.Env()...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	elapsed, peak, err := runMeasured(cmd)
	if err != nil {
		b.Fatalf("restore: %v\n%s", err, stderr.String())
	}
	var res restore.Result
	if err := json.Unmarshal(stdout.Bytes(), &res); err != nil {
		b.Fatalf("restore -o json: %v\n%s", err, stdout.String())
	}
	if res.Totals.Failed > 0 || res.Totals.Created < total {
		b.Fatalf("restore created %d objects and failed %d, want %d created", res.Totals.Created, res.Totals.Failed, total)
	}
	return elapsed, peak
}

// bareCreates creates the backed-up ConfigMaps, cleaned as a restore cleans
// them, and their namespaces, in an empty cluster of its own, with the
// restore's default concurrency, and times only the ConfigMaps' creates.
func (h *harness) bareCreates(b *testing.B, name string, objs []catalog.Object, client func(*rest.Config) createFunc) time.Duration {
	b.Helper()
	ctx := context.Background()
	target, _ := h.emptyCluster(b, name)
	defer target.Stop()
	cfg := target.Cluster(name).Config()
	cs := kubernetes.NewForConfigOrDie(cfg)
	for _, ns := range restoreNamespaces() {
		if _, err := cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil {
			b.Fatal(err)
		}
	}
	cleaned := make([]*unstructured.Unstructured, len(objs))
	for i, o := range objs {
		cleaned[i] = clean.Copy(o.Object, clean.Options{})
	}
	create := client(cfg)
	start := time.Now()
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(restore.DefaultConcurrency)
	for _, o := range cleaned {
		g.Go(func() error { return create(gctx, o) })
	}
	if err := g.Wait(); err != nil {
		b.Fatal(err)
	}
	return time.Since(start)
}
