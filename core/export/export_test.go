package export_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"

	"github.com/kbackup/kbackup/core/backup"
	"github.com/kbackup/kbackup/core/export"
	"github.com/kbackup/kbackup/core/fleet"
	"github.com/kbackup/kbackup/core/kube"
	"github.com/kbackup/kbackup/core/repo"
	"github.com/kbackup/kbackup/core/selection"
	"github.com/kbackup/kbackup/core/testenv"
	"github.com/kbackup/kbackup/core/testenv/repotest"
	"github.com/kbackup/kbackup/core/testenv/workload"
)

var env *testenv.Env

func TestMain(m *testing.M) {
	var err error
	env, err = testenv.New(context.Background(), testenv.Options{ClusterNames: []string{"src"}, S3: true})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	code := m.Run()
	env.Stop()
	os.Exit(code)
}

var environments = []export.Environment{
	{Name: "dev", ClusterURL: "https://dev.example.com:6443", AutoSync: true, Replicas: 1},
	{Name: "prod", ClusterURL: "https://prod.example.com:6443", Replicas: 3},
}

func gitops(ns string) export.Options {
	return export.Options{Format: export.FormatGitOps, Environments: environments, RepoURL: "https://git.example.com/shop.git",
		Selection: selection.Selection{IncludeNamespaces: []string{ns}}}
}

// backupOf installs the shop application into namespace ns of src and backs
// the cluster up (with the cluster-scoped objects the namespace needs).
func backupOf(t *testing.T, ns string) (*repo.Repository, *repo.Manifest) {
	t.Helper()
	ctx := context.Background()
	if _, err := workload.Install(ctx, env.Cluster("src").Config(), workload.Options{Namespace: ns, OwnedObjects: true}); err != nil {
		t.Fatal(err)
	}
	return backupNow(t, repotest.S3Options(env.S3, env.S3.NewBucket(t)), ns)
}

func backupNow(t *testing.T, storage repo.Options, ns string) (*repo.Repository, *repo.Manifest) {
	t.Helper()
	client, err := kube.NewClient(env.Cluster("src").Config(), kube.ClientOptions{QPS: -1})
	if err != nil {
		t.Fatal(err)
	}
	res, err := backup.Run(context.Background(), client, repo.NewChooser(storage),
		backup.Options{ClusterName: "src", BackupSpec: fleet.BackupSpec{Selection: selection.Selection{}}})
	if err != nil {
		t.Fatal(err)
	}
	r, err := repo.Open(context.Background(), storage)
	if err != nil {
		t.Fatal(err)
	}
	return r, res.Manifest
}

func run(t *testing.T, r *repo.Repository, m *repo.Manifest, dir string, opts export.Options) *export.Result {
	t.Helper()
	res, err := export.Run(context.Background(), r, m, dir, opts)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

func read(t *testing.T, path string) string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

// The gitops layout of the shop application: a base per namespace with a
// file per object, an overlay per environment with the replica patch, an
// Application per namespace and environment and for the cluster-scoped
// objects, an app-of-apps per environment, the README; what controllers
// make and the Secrets are left out, the Secrets listed by key names only.
func TestGitOpsLayout(t *testing.T) {
	r, m := backupOf(t, "exp-layout")
	dir := t.TempDir()
	opts := gitops("exp-layout")
	opts.Clusters = map[string]map[string]string{"exp-layout": {"prod": "https://critical-prod.example.com"}}
	res := run(t, r, m, dir, opts)

	want := []string{
		"README.md", "SECRETS.md", ".kbackup-export.json",
		"namespaces/exp-layout/base/kustomization.yaml",
		"namespaces/exp-layout/base/deployment-shop-api.yaml",
		"namespaces/exp-layout/base/statefulset-shop-db.yaml",
		"namespaces/exp-layout/base/namespace-exp-layout.yaml",
		"namespaces/exp-layout/base/widget-checkout-widget.yaml",
		"namespaces/exp-layout/base/cronjob-shop-report.yaml",
		"namespaces/exp-layout/dev/kustomization.yaml",
		"namespaces/exp-layout/prod/kustomization.yaml",
		"cluster/base/customresourcedefinition-widgets.example.kbackup.io.yaml",
		"cluster/base/clusterrole-shop-widget-reader.yaml",
		"cluster/base/clusterrolebinding-shop-widget-reader-exp-layout.yaml",
		"cluster/base/priorityclass-shop-critical.yaml",
		"cluster/base/storageclass-shop-fast.yaml",
		"cluster/base/ingressclass-shop-nginx.yaml",
		"cluster/prod/kustomization.yaml",
		"argocd/apps-dev.yaml", "argocd/apps-prod.yaml",
		"argocd/dev/exp-layout-dev.yaml", "argocd/prod/exp-layout-prod.yaml",
		"argocd/dev/cluster-scoped-dev.yaml", "argocd/prod/cluster-scoped-prod.yaml",
		"argocd/prod/cluster-scoped-prod-exp-layout.yaml",
	}
	for _, f := range want {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Errorf("missing %s: %v", f, err)
		}
	}
	for _, gone := range []string{"replicaset", "pod-", "job-", "endpointslice", "secret-", "serviceaccount-default.yaml", "configmap-kube-root-ca.crt"} {
		for _, f := range res.Created {
			if strings.Contains(f, "/base/"+gone) {
				t.Errorf("%s was exported; a controller or the target makes it, or it is a Secret", f)
			}
		}
	}
	if len(res.Secrets) != 2 || res.Secrets[0].Name != "shop-db-credentials" || len(res.Secrets[0].Keys) == 0 {
		t.Errorf("Secrets left out: %+v", res.Secrets)
	}
	if !slices.ContainsFunc(res.Left, func(l export.LeftOut) bool { return strings.HasPrefix(l.Resource, "replicasets") }) {
		t.Errorf("the ReplicaSet is not reported as left out: %+v", res.Left)
	}

	deploy := read(t, filepath.Join(dir, "namespaces/exp-layout/base/deployment-shop-api.yaml"))
	if !strings.HasPrefix(deploy, "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: shop-api\n  namespace: exp-layout\n") {
		t.Errorf("keys are not in documentation order:\n%s", deploy)
	}
	for _, server := range []string{"uid:", "resourceVersion", "creationTimestamp", "status:", "progressDeadlineSeconds", "terminationMessagePath", "managedFields"} {
		if strings.Contains(deploy, server) {
			t.Errorf("the Deployment holds %s:\n%s", server, deploy)
		}
	}
	svc := read(t, filepath.Join(dir, "namespaces/exp-layout/base/service-shop-api-public.yaml"))
	if strings.Contains(svc, "clusterIP") || strings.Contains(svc, "nodePort") {
		t.Errorf("the Service holds cluster-specific values:\n%s", svc)
	}

	prod := read(t, filepath.Join(dir, "namespaces/exp-layout/prod/kustomization.yaml"))
	for _, w := range []string{"namespace: exp-layout", "- ../base", "kbackup.io/environment: prod", "kind: Deployment", "kind: StatefulSet", "replicas: 3"} {
		if !strings.Contains(prod, w) {
			t.Errorf("the prod overlay lacks %q:\n%s", w, prod)
		}
	}
	var app struct {
		Metadata metav1.ObjectMeta
		Spec     struct {
			Project     string
			Source      struct{ RepoURL, TargetRevision, Path string }
			Destination struct{ Server, Namespace string }
			SyncPolicy  *struct {
				Automated   *struct{ Prune, SelfHeal bool }
				SyncOptions []string
			}
		}
	}
	if err := yaml.Unmarshal([]byte(read(t, filepath.Join(dir, "argocd/prod/exp-layout-prod.yaml"))), &app); err != nil {
		t.Fatal(err)
	}
	if app.Metadata.Name != "exp-layout-prod" || app.Metadata.Namespace != "argocd" || app.Spec.Destination.Server != "https://critical-prod.example.com" ||
		app.Spec.Source.Path != "namespaces/exp-layout/prod" || app.Spec.Source.RepoURL != opts.RepoURL || app.Spec.Source.TargetRevision != "HEAD" ||
		app.Spec.Project != "default" || app.Spec.SyncPolicy == nil || app.Spec.SyncPolicy.Automated != nil ||
		!slices.Contains(app.Spec.SyncPolicy.SyncOptions, "CreateNamespace=true") {
		t.Errorf("prod Application: %+v", app)
	}
	if err := yaml.Unmarshal([]byte(read(t, filepath.Join(dir, "argocd/dev/exp-layout-dev.yaml"))), &app); err != nil {
		t.Fatal(err)
	}
	if app.Spec.Destination.Server != "https://dev.example.com:6443" || app.Spec.SyncPolicy.Automated == nil ||
		!app.Spec.SyncPolicy.Automated.Prune || !app.Spec.SyncPolicy.Automated.SelfHeal {
		t.Errorf("dev Application (auto_sync): %+v", app.Spec)
	}

	secrets := read(t, filepath.Join(dir, "SECRETS.md"))
	for _, w := range []string{"shop-db-credentials", "kubeseal", "ExternalSecret", "sops --encrypt"} {
		if !strings.Contains(secrets, w) {
			t.Errorf("SECRETS.md lacks %q", w)
		}
	}
	if strings.Contains(secrets, "c2hvcA") || strings.Contains(secrets, "s3cr3t") {
		t.Errorf("SECRETS.md holds a value:\n%s", secrets)
	}
	for _, f := range res.Created {
		if strings.Contains(read(t, filepath.Join(dir, f)), "kind: Secret\n") {
			t.Errorf("%s is a Secret", f)
		}
	}
}

// A second export of the same backup writes nothing; after a change in the
// cluster, one file; --check says so without writing; files of objects
// that are gone are removed, and only those.
func TestIdempotentAndCheck(t *testing.T) {
	const ns = "exp-again"
	storage := repotest.S3Options(env.S3, env.S3.NewBucket(t))
	if _, err := workload.Install(context.Background(), env.Cluster("src").Config(), workload.Options{Namespace: ns}); err != nil {
		t.Fatal(err)
	}
	r, m := backupNow(t, storage, ns)
	dir := t.TempDir()
	first := run(t, r, m, dir, gitops(ns))
	if len(first.Created) != first.Files || first.Files < 30 {
		t.Fatalf("first export: %d created of %d files", len(first.Created), first.Files)
	}
	stat := func() map[string]os.FileInfo {
		out := map[string]os.FileInfo{}
		filepath.Walk(dir, func(p string, info os.FileInfo, err error) error {
			if err == nil && !info.IsDir() {
				out[p] = info
			}
			return nil
		})
		return out
	}
	before := stat()
	again := run(t, r, m, dir, gitops(ns))
	if again.Changed() || again.Unchanged != first.Files {
		t.Errorf("re-export of the same backup: %+v", again)
	}
	for p, info := range stat() {
		if !info.ModTime().Equal(before[p].ModTime()) {
			t.Errorf("%s was rewritten", p)
		}
	}
	check := gitops(ns)
	check.Check = true
	if res := run(t, r, m, dir, check); res.Drift {
		t.Errorf("check after an export found drift: %+v", res)
	}

	// One change in the cluster: one file.
	cs, err := env.Cluster("src").Clientset()
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	cm, err := cs.CoreV1().ConfigMaps(ns).Get(ctx, "shop-config", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	cm.Data["LOG_LEVEL"] = "debug"
	if _, err := cs.CoreV1().ConfigMaps(ns).Update(ctx, cm, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	r, m2 := backupNow(t, storage, ns)
	drift := run(t, r, m2, dir, check)
	if !drift.Drift || !slices.Equal(drift.Updated, []string{"namespaces/" + ns + "/base/configmap-shop-config.yaml"}) || len(drift.Created)+len(drift.Deleted) != 0 {
		t.Errorf("check after one change: %+v", drift)
	}
	if stat()[filepath.Join(dir, "namespaces", ns, "base", "configmap-shop-config.yaml")].ModTime() != before[filepath.Join(dir, "namespaces", ns, "base", "configmap-shop-config.yaml")].ModTime() {
		t.Error("check wrote a file")
	}
	changed := run(t, r, m2, dir, gitops(ns))
	if !slices.Equal(changed.Updated, drift.Updated) || len(changed.Created)+len(changed.Deleted) != 0 {
		t.Errorf("export after one change: %+v", changed)
	}
	if !strings.Contains(read(t, filepath.Join(dir, "namespaces", ns, "base", "configmap-shop-config.yaml")), "LOG_LEVEL: debug") {
		t.Error("the change is not in the file")
	}

	// An object removed: its file goes, and nothing else of the user's.
	if err := cs.CoreV1().ConfigMaps(ns).Delete(ctx, "shop-db-init", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	r, m3 := backupNow(t, storage, ns)
	removed := run(t, r, m3, dir, gitops(ns))
	if !slices.Equal(removed.Deleted, []string{"namespaces/" + ns + "/base/configmap-shop-db-init.yaml"}) {
		t.Errorf("export after a delete: deleted %v, updated %v", removed.Deleted, removed.Updated)
	}
	if _, err := os.Stat(filepath.Join(dir, "namespaces", ns, "base", "configmap-shop-db-init.yaml")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the file of the deleted object is still there: %v", err)
	}

	// A file of the user's: refused, nothing written or deleted.
	user := filepath.Join(dir, "namespaces", ns, "base", "notes.txt")
	if err := os.WriteFile(user, []byte("mine"), 0o644); err != nil {
		t.Fatal(err)
	}
	before = stat()
	_, err = export.Run(ctx, r, m, dir, gitops(ns))
	if !errors.Is(err, export.ErrForeignFiles) || !strings.Contains(err.Error(), "namespaces/"+ns+"/base/notes.txt") {
		t.Errorf("want a refusal naming notes.txt, got %v", err)
	}
	after := stat()
	if len(after) != len(before) {
		t.Errorf("a refused export changed the directory: %d files before, %d after", len(before), len(after))
	}
	for p, info := range after {
		if !info.ModTime().Equal(before[p].ModTime()) {
			t.Errorf("a refused export rewrote %s", p)
		}
	}
}

// The plain layout: <cluster>/<namespace>/<type>/<name>.yaml, Secrets
// written with --secrets include and a warning.
func TestPlainLayoutWithSecrets(t *testing.T) {
	r, m := backupOf(t, "exp-plain")
	dir := t.TempDir()
	res := run(t, r, m, dir, export.Options{Format: export.FormatPlain, Secrets: export.SecretsInclude, Selection: selection.Selection{IncludeNamespaces: []string{"exp-plain"}}})
	for _, f := range []string{
		"src/exp-plain/deployments.apps/shop-api.yaml",
		"src/exp-plain/configmaps/shop-config.yaml",
		"src/exp-plain/secrets/shop-db-credentials.yaml",
		"src/exp-plain/widgets.example.kbackup.io/checkout-widget.yaml",
		"src/_cluster/namespaces/exp-plain.yaml",
		"src/_cluster/customresourcedefinitions.apiextensions.k8s.io/widgets.example.kbackup.io.yaml",
		"README.md",
	} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Errorf("missing %s: %v", f, err)
		}
	}
	if len(res.Warnings) == 0 || !strings.Contains(strings.Join(res.Warnings, "\n"), "not encrypted") {
		t.Errorf("no warning about the Secrets written: %v", res.Warnings)
	}
	for _, w := range res.Warnings {
		if strings.Contains(w, "c2hv") {
			t.Errorf("a warning holds a value: %s", w)
		}
	}
}

// Bad options fail with the field and what would be accepted.
func TestValidate(t *testing.T) {
	tests := []struct {
		name string
		opts export.Options
		want string
	}{
		{"no environments", export.Options{RepoURL: "https://git.example.com/x.git"}, "environments: Required value: a GitOps export writes an overlay per environment"},
		{"no repository", export.Options{Environments: environments}, "repo_url: Required value"},
		{"environment without cluster_url", export.Options{RepoURL: "https://g/x.git", Environments: []export.Environment{{Name: "staging"}}},
			`environments[0].cluster_url: Required value: environment "staging" has no cluster_url, and clusters.default has no staging`},
		{"cluster_url from clusters.default", export.Options{RepoURL: "https://g/x.git", Environments: []export.Environment{{Name: "staging"}},
			Clusters: map[string]map[string]string{"default": {"staging": "https://staging.example.com"}}}, ""},
		{"override of an unknown environment", export.Options{RepoURL: "https://g/x.git", Environments: environments,
			Clusters: map[string]map[string]string{"critical-workloads": {"production": "https://p.example.com"}}},
			`clusters.critical-workloads.production: Invalid value: "production": "production" is not an environment; defined: dev, prod`},
		{"bad format", export.Options{Format: "helm"}, `format: Unsupported value: "helm"`},
		{"bad secrets", export.Options{Format: export.FormatPlain, Secrets: "all"}, `secrets: Unsupported value: "all"`},
		{"environment named base", export.Options{RepoURL: "https://g/x.git", Environments: []export.Environment{{Name: "base", ClusterURL: "https://b.example.com"}}}, "base is the directory"},
		{"plain needs no environment", export.Options{Format: export.FormatPlain}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.opts.Validate()
			switch {
			case tt.want == "" && err != nil:
				t.Errorf("unexpected error: %v", err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
				t.Errorf("want an error with %q, got %v", tt.want, err)
			}
		})
	}
}

// A directory with files and no index is refused before anything is
// read; an index that names a path outside the directory is refused.
func TestForeignDirectory(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "main.tf"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := export.Run(context.Background(), nil, &repo.Manifest{}, dir, export.Options{Format: export.FormatPlain})
	if !errors.Is(err, export.ErrForeignFiles) || !strings.Contains(err.Error(), "main.tf") || !strings.Contains(err.Error(), "no .kbackup-export.json") {
		t.Errorf("got %v", err)
	}
	if read(t, filepath.Join(dir, "main.tf")) != "x" {
		t.Error("the user's file changed")
	}
	hostile := t.TempDir()
	if err := os.WriteFile(filepath.Join(hostile, export.IndexFile), []byte(`{"formatVersion":1,"files":["../outside"]}`), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err = export.Run(context.Background(), nil, &repo.Manifest{}, hostile, export.Options{Format: export.FormatPlain})
	if err == nil || !strings.Contains(err.Error(), `"../outside"`) {
		t.Errorf("an index naming ../outside: got %v", err)
	}
	// A Git repository's own directory is not the user's files.
	gitDir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(gitDir, ".git", "objects"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(gitDir, ".git", "HEAD"), []byte("ref: refs/heads/main\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	r, m := backupOf(t, "exp-git")
	if _, err := export.Run(context.Background(), r, m, gitDir, export.Options{Format: export.FormatPlain, Selection: selection.Selection{IncludeNamespaces: []string{"exp-git"}}}); err != nil {
		t.Errorf("exporting into a fresh Git repository: %v", err)
	}
}
