package backup_test

import (
	"context"
	"fmt"
	"os"
	"runtime"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kbackup/kbackup/core/backup"
	"github.com/kbackup/kbackup/core/repo"
	"github.com/kbackup/kbackup/core/testenv/workload"
)

func TestScratchPerf(t *testing.T) {
	if os.Getenv("SCRATCH") == "" {
		return
	}
	ctx := context.Background()
	c := env.Cluster("alpha")
	cs, _ := c.Clientset()
	var nss []string
	for i := range 20 {
		nss = append(nss, fmt.Sprintf("perf-%02d", i))
	}
	st := time.Now()
	if err := workload.CreateConfigMaps(ctx, cs, workload.ConfigMaps{Namespaces: nss, Total: 10000, Workers: 32}); err != nil {
		t.Fatal(err)
	}
	t.Logf("create: %s", time.Since(st))
	for range 2 {
		st = time.Now()
		opts := metav1.ListOptions{Limit: 500}
		for {
			l, err := cs.CoreV1().ConfigMaps("").List(ctx, opts)
			if err != nil {
				t.Fatal(err)
			}
			if l.Continue == "" {
				break
			}
			opts.Continue = l.Continue
		}
		t.Logf("list pb: %s", time.Since(st))
	}
	for i := range 2 {
		bucket := env.S3.NewBucket(t)
		st = time.Now()
		var ms runtime.MemStats
		res, err := backup.Run(ctx, client(t, c.Config()), backup.Storage{Primary: s3Options(t, bucket)}, backup.Options{ClusterName: "alpha", IncludeResources: []string{"configmaps"}, Progress: func(e backup.Event) { t.Logf("  %s %s at %s", e.Kind, e.Resource, time.Since(st)) }})
		if err != nil {
			t.Fatal(err)
		}
		runtime.ReadMemStats(&ms)
		t.Logf("backup %d: %s, %d objects, stored %d, raw %d, heap sys %d MB", i, time.Since(st), res.Manifest.Stats.Objects, res.Manifest.Stats.BytesStored, res.Manifest.Stats.RawBytes, ms.HeapSys>>20)
		_ = repo.PhaseCompleted
	}
}
