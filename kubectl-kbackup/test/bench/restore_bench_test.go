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
	"strings"
	"testing"
	"time"

	"golang.org/x/sync/errgroup"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"

	"github.com/kbackup/kbackup/core/catalog"
	"github.com/kbackup/kbackup/core/clean"
	"github.com/kbackup/kbackup/core/repo"
	"github.com/kbackup/kbackup/core/restore"
	"github.com/kbackup/kbackup/core/selection"
	"github.com/kbackup/kbackup/core/testenv"
	"github.com/kbackup/kbackup/core/testenv/workload"
)

// restoreTargets are two empty clusters: kbackup restores into one, the
// baselines create the same objects in the other.
type restoreTargets struct {
	env        *testenv.Env
	kubeconfig string
}

func (h *harness) restoreTargets(b *testing.B) *restoreTargets {
	b.Helper()
	if h.targets != nil {
		return h.targets
	}
	env, err := testenv.New(context.Background(), testenv.Options{ClusterNames: []string{"restored", "baseline"}})
	if err != nil {
		b.Fatal(err)
	}
	t := &restoreTargets{env: env, kubeconfig: filepath.Join(filepath.Dir(h.kubeconfig), "targets-kubeconfig")}
	if err := env.WriteKubeconfig(t.kubeconfig); err != nil {
		b.Fatal(err)
	}
	h.targets = t
	return t
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
	const total = 10_000
	b.Run(fmt.Sprintf("objects=%d", total), func(b *testing.B) {
		h := setup(b)
		if !h.restoreSource {
			err := workload.CreateConfigMaps(context.Background(), h.cs, workload.ConfigMaps{Namespaces: restoreNamespaces(), Total: total, Workers: 32})
			if err != nil {
				b.Fatal(err)
			}
			h.restoreSource = true
		}
		targets := h.restoreTargets(b)
		for range b.N {
			benchmarkRestore(b, h, targets, total)
		}
	})
	if shared != nil {
		shared.report.write(b)
	}
}

func benchmarkRestore(b *testing.B, h *harness, targets *restoreTargets, total int) {
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
	baselineCfg := targets.env.Cluster("baseline").Config()
	dyn := dynamic.NewForConfigOrDie(baselineCfg)
	cs := kubernetes.NewForConfigOrDie(baselineCfg)

	var kb, bareJSON, bareProto []time.Duration
	for round := range repeats {
		prefix := func(kind string) func(string) string {
			return func(ns string) string { return fmt.Sprintf("%s%d-%s", kind, round, ns) }
		}
		kb = append(kb, h.restore(b, targets, bucket, prefix("r"), total))
		bareJSON = append(bareJSON, bareCreates(b, cs, objs, prefix("j"), func(ctx context.Context, o *unstructured.Unstructured) error {
			_, err := dyn.Resource(configMaps).Namespace(o.GetNamespace()).Create(ctx, o, metav1.CreateOptions{})
			return err
		}))
		bareProto = append(bareProto, bareCreates(b, cs, objs, prefix("p"), func(ctx context.Context, o *unstructured.Unstructured) error {
			cm := &corev1.ConfigMap{}
			if err := runtime.DefaultUnstructuredConverter.FromUnstructured(o.Object, cm); err != nil {
				return err
			}
			_, err := cs.CoreV1().ConfigMaps(cm.Namespace).Create(ctx, cm, metav1.CreateOptions{})
			return err
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
	h.report.addRestore(fmt.Sprintf("| %d | %.0f/s | %.0f/s | %.0f/s (%.2fx JSON, %.2fx protobuf) |",
		len(objs), jsonRate, protoRate, kbRate, kbRate/jsonRate, kbRate/protoRate))
}

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
// bench into the restored cluster, every namespace renamed by rename.
func (h *harness) restore(b *testing.B, targets *restoreTargets, bucket string, rename func(string) string, total int) time.Duration {
	b.Helper()
	var mapping []string
	for _, ns := range restoreNamespaces() {
		mapping = append(mapping, ns+":"+rename(ns))
	}
	cmd := exec.Command(h.binary, "--kubeconfig", targets.kubeconfig, "--context", "restored",
		"--storage", h.env.S3.RepositoryURL(bucket),
		"restore", "latest", "--from-cluster", "bench", "--namespace-mapping", strings.Join(mapping, ","),
		"--cluster-name", "restored", "--yes", "-o", "json")
	cmd.Env = append(os.Environ(), h.env.S3.Env()...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	start := time.Now()
	err := cmd.Run()
	elapsed := time.Since(start)
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
	return elapsed
}

// bareCreates creates the backed-up ConfigMaps, cleaned as a restore cleans
// them, into renamed namespaces of the baseline cluster, with the restore's
// default concurrency, and times only the creates.
func bareCreates(b *testing.B, cs kubernetes.Interface, objs []catalog.Object, rename func(string) string,
	create func(context.Context, *unstructured.Unstructured) error) time.Duration {
	b.Helper()
	ctx := context.Background()
	for _, ns := range restoreNamespaces() {
		if _, err := cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: rename(ns)}}, metav1.CreateOptions{}); err != nil {
			b.Fatal(err)
		}
	}
	cleaned := make([]*unstructured.Unstructured, len(objs))
	for i, o := range objs {
		cleaned[i] = clean.Copy(o.Object, clean.Options{})
		cleaned[i].SetNamespace(rename(cleaned[i].GetNamespace()))
	}
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
