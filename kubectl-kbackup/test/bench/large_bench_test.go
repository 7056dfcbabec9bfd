package bench

import (
	"context"
	"encoding/base64"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// The large-object shape of issue 8, item 21: one namespace of 40
// ConfigMaps of 900 KiB each, 36 MB of data, as Helm's release history
// Secrets look. A LIST page of such objects is tens of MB, so memory that is
// a multiple of a page, or of a namespace's pack, shows here.
const (
	largeNamespace   = "helm-history"
	largeObjects     = 40
	largeObjectBytes = 900 << 10
)

func BenchmarkLargeObjectsBackup(b *testing.B) {
	h := setup(b)
	ctx := context.Background()
	if _, err := h.cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: largeNamespace}}, metav1.CreateOptions{}); err != nil {
		b.Fatal(err)
	}
	// The test cluster runs no namespace controller: the ConfigMaps go
	// first, so that the other benchmarks' cluster is as it was.
	defer func() {
		if err := h.cs.CoreV1().ConfigMaps(largeNamespace).DeleteCollection(ctx, metav1.DeleteOptions{}, metav1.ListOptions{}); err != nil {
			b.Error(err)
		}
		if err := h.cs.CoreV1().Namespaces().Delete(ctx, largeNamespace, metav1.DeleteOptions{}); err != nil {
			b.Error(err)
		}
	}()
	// 40 objects, then 100: the peak should stay about the same, a
	// multiple of the largest object, not of the namespace.
	created := 0
	for _, n := range largeNamespaceSizes {
		for i := created; i < n; i++ {
			cm := &corev1.ConfigMap{
				ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("sh.helm.release.v1.shop.v%d", i+1), Namespace: largeNamespace},
				Data:       map[string]string{"release": releaseText(i, largeObjectBytes)},
			}
			if _, err := h.cs.CoreV1().ConfigMaps(largeNamespace).Create(ctx, cm, metav1.CreateOptions{}); err != nil {
				b.Fatal(err)
			}
		}
		created = n
		for range b.N {
			benchmarkBackupLarge(b, h, n)
		}
	}
	shared.report.write(b)
}

// largeNamespaceSizes are the numbers of large objects the namespace holds
// in turn.
var largeNamespaceSizes = []int{largeObjects, 100}

func benchmarkBackupLarge(b *testing.B, h *harness, objects int) {
	var ratios []float64
	var durations []time.Duration
	var peak int64
	for range pairs {
		start := time.Now()
		list, err := h.protobuf.CoreV1().ConfigMaps(largeNamespace).List(context.Background(), metav1.ListOptions{Limit: 500})
		if err != nil {
			b.Fatal(err)
		}
		listed := time.Since(start)
		if len(list.Items) != objects {
			b.Fatalf("LIST returned %d ConfigMaps, want %d", len(list.Items), objects)
		}
		bucket := h.env.S3.NewBucket(b)
		d, p := h.backupMeasured(b, bucket, "--include-resources", "configmaps", "--include-namespaces", largeNamespace)
		ratios, durations, peak = append(ratios, d.Seconds()/listed.Seconds()), append(durations, d), max(peak, p)
	}
	slices.Sort(ratios)
	slices.Sort(durations)
	ratio, d := ratios[len(ratios)/2], durations[len(durations)/2]
	data := int64(objects * largeObjectBytes)
	b.ReportMetric(d.Seconds(), fmt.Sprintf("backup-s/%d", objects))
	b.ReportMetric(ratio, fmt.Sprintf("backup/list/%d", objects))
	b.ReportMetric(float64(peak)/(1<<20), fmt.Sprintf("peak-MB/%d", objects))
	b.ReportMetric(float64(peak)/float64(largeObjectBytes), fmt.Sprintf("peak/largest-object/%d", objects))
	h.report.addLarge(fmt.Sprintf("| %d ConfigMaps of %d KiB (%s) in one namespace | %s (**%.2fx** the LIST) | **%d MB** | %.0fx the largest object, %.1fx the namespace's data |",
		objects, largeObjectBytes>>10, mb(data), secs(d), ratio, peak>>20,
		float64(peak)/float64(largeObjectBytes), float64(peak)/float64(data)))
}

// releaseText is n bytes of object-specific text that compresses as
// little as Helm's release data does (base64 of gzip).
func releaseText(seed, n int) string {
	rng := rand.New(rand.NewPCG(uint64(seed), 0x68656c6d))
	raw := make([]byte, base64.StdEncoding.DecodedLen(n)+3)
	for i := range raw {
		raw[i] = byte(rng.Uint32())
	}
	return base64.StdEncoding.EncodeToString(raw)[:n]
}
