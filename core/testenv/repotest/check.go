package repotest

import (
	"context"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/kbackup/kbackup/core/catalog"
	"github.com/kbackup/kbackup/core/repo"
	"github.com/kbackup/kbackup/core/testenv"
)

// StoredKeys lists the objects that env's S3 server holds in bucket, read
// from its files, so that it works on a stopped server too: versitygw's posix
// backend keeps an object as the file <root>/<bucket>/<key>, and testenv
// puts the root at <env dir>/s3/root.
func StoredKeys(t testing.TB, env *testenv.Env, bucket string) []string {
	t.Helper()
	root := filepath.Join(env.Dir, "s3", "root", bucket)
	if _, err := os.Stat(root); err != nil {
		t.Fatalf("cannot find the files of bucket %s: %v", bucket, err)
	}
	var keys []string
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, err := filepath.Rel(root, path)
		keys = append(keys, filepath.ToSlash(rel))
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return keys
}

// ManifestKeys returns the keys of backup manifests among keys.
func ManifestKeys(keys []string) []string {
	var out []string
	for _, k := range keys {
		if strings.Contains(k, "/_backups/") {
			out = append(out, k)
		}
	}
	return out
}

// PackKeys returns the keys of packs among keys.
func PackKeys(keys []string) []string {
	var out []string
	for _, k := range keys {
		if strings.HasSuffix(k, ".yaml.zst") {
			out = append(out, k)
		}
	}
	return out
}

// leftOutByDefault are the types a backup leaves out unless named
// (core/backup's selection), and which ObjectVersions lists.
var leftOutByDefault = []string{"leasecandidates.coordination.k8s.io", "componentstatuses"}

// CheckBackupHoldsCluster reads every pack of backup m from r, which checks
// each pack's hash, and fails the test unless the backup holds exactly the
// objects the manifest lists, and every object that cluster now has (of the
// types a backup takes by default) in the namespaces that match keep (nil:
// every namespace and the cluster-scoped objects).
func CheckBackupHoldsCluster(t testing.TB, r *repo.Repository, m *repo.Manifest, cluster *testenv.Cluster, keep func(namespace string) bool) {
	t.Helper()
	ctx := context.Background()
	packs := catalog.Packs(m)
	objs, err := catalog.ReadAll(ctx, r, packs, 4)
	if err != nil {
		t.Fatalf("backup %s in %s does not read back: %v", m.ID, r.Location(), err)
	}
	if len(objs) != m.Stats.Objects {
		t.Errorf("backup %s: %d objects read back, the manifest counts %d", m.ID, len(objs), m.Stats.Objects)
	}
	listed := 0
	for _, p := range packs {
		listed += len(p.Objects)
	}
	if listed != len(objs) {
		t.Errorf("backup %s: %d objects read back, the manifest lists %d", m.ID, len(objs), listed)
	}
	stored := map[string]bool{}
	for _, o := range objs {
		stored[fmt.Sprintf("%s %s/%s", o.Pack.Resource, o.Object.GetNamespace(), o.Object.GetName())] = true
	}
	versions, err := cluster.ObjectVersions(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var missing []string
	compared := 0
	for k := range versions {
		resource, nsName, _ := strings.Cut(k, " ")
		ns, _, _ := strings.Cut(nsName, "/")
		if slices.Contains(leftOutByDefault, resource) || (keep != nil && !keep(ns)) {
			continue
		}
		compared++
		if !stored[k] {
			missing = append(missing, k)
		}
	}
	slices.Sort(missing)
	if len(missing) > 0 {
		t.Errorf("backup %s in %s lacks %d of the %d objects of cluster %s: %v", m.ID, r.Location(), len(missing), compared, cluster.Name, missing)
	}
	if compared == 0 {
		t.Errorf("cluster %s has no object to compare with backup %s", cluster.Name, m.ID)
	}
}
