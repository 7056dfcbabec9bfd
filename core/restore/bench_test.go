package restore_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"golang.org/x/sync/errgroup"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kbackup/kbackup/core/clean"
	"github.com/kbackup/kbackup/core/restore"
	"github.com/kbackup/kbackup/core/snapshot"
	"github.com/kbackup/kbackup/core/testenv/workload"
)

// BenchmarkRestore restores ConfigMaps in 10 namespaces into empty
// namespaces of another cluster, against bare concurrent creates of the
// same objects (typed client, protobuf, as many workers as the restore's
// concurrency) into that cluster in the same run. It reports both rates
// and their ratio; make bench runs it with -benchtime=1x.
func BenchmarkRestore(b *testing.B) {
	ctx := context.Background()
	const total, namespaces = 2000, 10
	var nss []string
	for i := range namespaces {
		nss = append(nss, fmt.Sprintf("bench-%d", i))
	}
	cs, _ := env.Cluster("src").Clientset()
	if err := workload.CreateConfigMaps(ctx, cs, workload.ConfigMaps{Namespaces: nss, Total: total}); err != nil {
		b.Fatal(err)
	}
	r, m := backupOf(b, "src", newRepo(b), "bench-*")
	objs, err := snapshot.ReadAll(ctx, r, m.Packs, 4)
	if err != nil {
		b.Fatal(err)
	}
	target, _ := env.Cluster("refused").Clientset()
	b.ResetTimer()
	for n := range b.N {
		// Bare creates of the same objects, cleaned, into fresh namespaces.
		bare := func(ns string) string { return fmt.Sprintf("bare-%d-%s", n, ns) }
		for _, ns := range nss {
			if _, err := target.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: bare(ns)}}, metav1.CreateOptions{}); err != nil {
				b.Fatal(err)
			}
		}
		var cms []*corev1.ConfigMap
		for _, o := range objs {
			if o.Pack.Resource != "configmaps" {
				continue
			}
			cm := &corev1.ConfigMap{}
			c := clean.Copy(o.Object, clean.Options{})
			cm.Name, cm.Namespace, cm.Labels = c.GetName(), bare(c.GetNamespace()), c.GetLabels()
			data, _, _ := unstructuredStringMap(c.Object, "data")
			cm.Data = data
			cms = append(cms, cm)
		}
		started := time.Now()
		g, gctx := errgroup.WithContext(ctx)
		g.SetLimit(restore.DefaultConcurrency)
		for _, cm := range cms {
			g.Go(func() error {
				_, err := target.CoreV1().ConfigMaps(cm.Namespace).Create(gctx, cm, metav1.CreateOptions{})
				return err
			})
		}
		if err := g.Wait(); err != nil {
			b.Fatal(err)
		}
		bareRate := float64(len(cms)) / time.Since(started).Seconds()

		mapping := clean.NamespaceMapping{}
		for _, ns := range nss {
			mapping[ns] = fmt.Sprintf("restored-%d-%s", n, ns)
		}
		planStarted := time.Now()
		p := plan(b, r, m, "refused", restore.Options{NamespaceMapping: mapping})
		planTime := time.Since(planStarted)
		res := apply(b, p)
		if res.Totals.Failed > 0 || res.Totals.Created != len(cms)+namespaces {
			b.Fatalf("restore: %+v", res.Totals)
		}
		rate := float64(res.Totals.Created) / res.Duration().Seconds()
		b.ReportMetric(bareRate, "bare-objects/s")
		b.ReportMetric(rate, "restore-objects/s")
		b.ReportMetric(rate/bareRate, "ratio")
		b.Logf("%d objects: bare creates %.0f/s; restore %.0f/s applying (%s), plan %s (read, clean, compare); ratio %.2f",
			len(cms), bareRate, rate, res.Duration().Round(time.Millisecond), planTime.Round(time.Millisecond), rate/bareRate)
	}
}

func unstructuredStringMap(obj map[string]any, field string) (map[string]string, bool, error) {
	m, ok := obj[field].(map[string]any)
	if !ok {
		return nil, false, nil
	}
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[k], _ = v.(string)
	}
	return out, true, nil
}
