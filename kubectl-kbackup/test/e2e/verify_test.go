package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"strings"
	"testing"

	"github.com/minio/minio-go/v7"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kbackup/kbackup/core/verify"
)

// verify reads every pack of a backup: intact, it says so and exits 0; with
// one pack deleted and one corrupted in the bucket, it names both, with
// their status and the backup they break, and exits 1.
func TestVerifyFindsDeletedAndCorruptPacks(t *testing.T) {
	ctx := context.Background()
	const ns = "e2e-verify"
	cs, err := env.Cluster("prod-eu").Clientset()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := cs.CoreV1().ConfigMaps(ns).Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "a"}, Data: map[string]string{"k": "v"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := cs.CoreV1().Secrets(ns).Create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "s"}, StringData: map[string]string{"k": "v"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	bucket := env.S3.NewBucket(t)
	storage := []string{"--storage", env.S3.RepositoryURL(bucket)}
	with := func(args ...string) []string { return append(args, storage...) }
	b := parseBackupResult(t, mustRun(t, 0, invocation{}, with("backup", "create", "--context", "prod-eu", "-n", ns, "-o", "json")...))

	ok := mustRun(t, 0, invocation{}, with("verify", "--context", "prod-eu")...)
	if !strings.Contains(ok.stdout, "every pack is there and matches its SHA-256") || !strings.Contains(ok.stdout, b.ID) {
		t.Errorf("verify of an intact backup:\n%s", ok)
	}

	var missing, corrupt string
	for _, k := range packKeys(bucketKeys(t, env.S3, bucket)) {
		switch {
		case strings.HasPrefix(k, "prod-eu/"+ns+"/configmaps/"):
			missing = k
		case strings.HasPrefix(k, "prod-eu/"+ns+"/secrets/"):
			corrupt = k
		}
	}
	if missing == "" || corrupt == "" {
		t.Fatal("no configmaps or secrets pack in the bucket")
	}
	client := env.S3.Client()
	if err := client.RemoveObject(ctx, bucket, missing, minio.RemoveObjectOptions{}); err != nil {
		t.Fatal(err)
	}
	obj, err := client.GetObject(ctx, bucket, corrupt, minio.GetObjectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	data, err := io.ReadAll(obj)
	obj.Close()
	if err != nil {
		t.Fatal(err)
	}
	data[len(data)/2] ^= 0xff
	if _, err := client.PutObject(ctx, bucket, corrupt, bytes.NewReader(data), int64(len(data)), minio.PutObjectOptions{}); err != nil {
		t.Fatal(err)
	}

	bad := mustRun(t, 1, invocation{}, with("verify", "latest", "--context", "prod-eu")...)
	for _, want := range []string{missing, corrupt, "Missing", "Corrupt", "prod-eu/" + b.ID, "cannot be fully restored", "1 missing, 1 corrupt"} {
		if !strings.Contains(bad.stdout+bad.stderr, want) {
			t.Errorf("verify lacks %q:\n%s", want, bad)
		}
	}
	for _, args := range [][]string{with("verify", b.ID, "-o", "json"), with("verify", "--all-clusters", "-o", "json"), with("verify", "--all", "--cluster", "prod-eu", "-o", "json")} {
		res := mustRun(t, 1, invocation{}, args...)
		var rep verify.Report
		if err := json.Unmarshal([]byte(res.stdout), &rep); err != nil {
			t.Fatalf("%v: %v\n%s", args, err, res)
		}
		statuses := map[string]verify.Status{}
		for _, p := range rep.Problems {
			statuses[p.Key] = p.Status
			if len(p.Backups) != 1 || p.Backups[0].ID != b.ID {
				t.Errorf("%v: %s breaks %+v", args, p.Key, p.Backups)
			}
		}
		if len(rep.Problems) != 2 {
			t.Errorf("%v: %d problems %+v, want 2: one per damaged pack", args, len(rep.Problems), rep.Problems)
		}
		if len(statuses) != 2 || statuses[missing] != verify.Missing || statuses[corrupt] != verify.Corrupt || rep.Healthy() {
			t.Errorf("%v: problems %v", args, statuses)
		}
	}
}
