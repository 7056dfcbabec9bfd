package restore_test

import (
	"context"
	"fmt"
	"os"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/rest"

	"github.com/kbackup/kbackup/core/backup"
	"github.com/kbackup/kbackup/core/catalog"
	"github.com/kbackup/kbackup/core/fleet"
	"github.com/kbackup/kbackup/core/kube"
	"github.com/kbackup/kbackup/core/repo"
	"github.com/kbackup/kbackup/core/restore"
	"github.com/kbackup/kbackup/core/selection"
	"github.com/kbackup/kbackup/core/testenv"
	"github.com/kbackup/kbackup/core/testenv/repotest"
)

// env is shared by the tests of this package: a source cluster, target
// clusters that each scenario starts from fresh where it needs to, and an
// S3 server. Nothing reconciles in these clusters (no controller manager),
// so what a restore creates stays exactly as it was created.
var env *testenv.Env

func TestMain(m *testing.M) {
	var err error
	env, err = testenv.New(context.Background(), testenv.Options{ClusterNames: []string{"src", "dst", "mapped", "refused"}, S3: true})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	code := m.Run()
	env.Stop()
	os.Exit(code)
}

// client connects without a client-side rate limit, as a restore of many
// objects should (the API server's priority and fairness still applies).
func client(t testing.TB, cfg *rest.Config) *kube.Client {
	t.Helper()
	c, err := kube.NewClient(cfg, kube.ClientOptions{QPS: -1})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func cluster(t testing.TB, name string) *kube.Client {
	t.Helper()
	return client(t, env.Cluster(name).Config())
}

// newRepo creates a repository in a new bucket.
func newRepo(t testing.TB) repo.Options {
	t.Helper()
	return repotest.S3Options(env.S3, env.S3.NewBucket(t))
}

func open(t testing.TB, opts repo.Options) *repo.Repository {
	t.Helper()
	r, err := repo.Open(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// backupOf backs up a cluster (whole, or the namespaces given) and returns
// the repository and the manifest.
func backupOf(t testing.TB, clusterName string, storage repo.Options, namespaces ...string) (*repo.Repository, *repo.Manifest) {
	t.Helper()
	res, err := backup.Run(context.Background(), cluster(t, clusterName), repo.NewChooser(storage),
		backup.Options{ClusterName: clusterName, BackupSpec: fleet.BackupSpec{Selection: selection.Selection{IncludeNamespaces: namespaces}}})
	if err != nil {
		t.Fatal(err)
	}
	if res.Manifest.Phase != repo.PhaseCompleted {
		t.Fatalf("backup %s: %v %v", res.Manifest.Phase, res.Manifest.Errors, res.Manifest.Skipped)
	}
	return open(t, storage), res.Manifest
}

func plan(t testing.TB, r *repo.Repository, m *repo.Manifest, target string, opts restore.Options) *restore.Plan {
	t.Helper()
	p, err := restore.NewPlan(context.Background(), restore.PlanInput{Repository: r, Manifest: m, Target: cluster(t, target), Options: withName(opts, target)})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func apply(t testing.TB, p *restore.Plan) *restore.Result {
	t.Helper()
	res, err := restore.Apply(context.Background(), p)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

// backupObjects reads every object of a backup, by "resource ns/name".
func backupObjects(t testing.TB, r *repo.Repository, m *repo.Manifest) map[string]*unstructured.Unstructured {
	t.Helper()
	objs, err := catalog.ReadAll(context.Background(), r, catalog.Packs(m), 4)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]*unstructured.Unstructured{}
	for _, o := range objs {
		out[o.Pack.Resource+" "+o.Object.GetNamespace()+"/"+o.Object.GetName()] = o.Object
	}
	return out
}

func key(o restore.ObjectResult) string {
	ns := o.Namespace
	if o.SourceNamespace != "" {
		ns = o.SourceNamespace
	}
	if o.Resource == "namespaces" {
		return o.Resource + " /" + o.Name
	}
	return o.Resource + " " + ns + "/" + o.Name
}

func outcomes(res *restore.Result) string {
	s := fmt.Sprintf("%+v\n", res.Totals)
	for _, o := range res.Objects {
		s += fmt.Sprintf("  %-10s %s %s/%s %s%s %s\n", o.Outcome, o.Resource, o.Namespace, o.Name, o.Reason, o.Error, o.Duration)
	}
	return s
}

func withName(opts restore.Options, target string) restore.Options {
	if opts.TargetClusterName == "" {
		opts.TargetClusterName = target
	}
	return opts
}
