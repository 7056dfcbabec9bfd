package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/restmapper"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/kyaml/filesys"
	"sigs.k8s.io/yaml"

	"github.com/kbackup/kbackup/core/clean"
	"github.com/kbackup/kbackup/core/export"
	"github.com/kbackup/kbackup/core/testenv"
	argocd "github.com/kbackup/kbackup/core/testenv/crds/argo-cd"
)

// exportReport is what `export --report json` prints.
type exportReport = export.Result

func parseExport(t *testing.T, res result) exportReport {
	t.Helper()
	var out exportReport
	if err := json.Unmarshal([]byte(res.stdout), &out); err != nil || out.Backup == "" {
		t.Fatalf("export --report json printed no result (%v):\n%s", err, res)
	}
	return out
}

// build renders one overlay with kustomize's own library.
func build(t *testing.T, dir string) []*unstructured.Unstructured {
	t.Helper()
	resmap, err := krusty.MakeKustomizer(krusty.MakeDefaultOptions()).Run(filesys.MakeFsOnDisk(), dir)
	if err != nil {
		t.Fatalf("kustomize build %s: %v", dir, err)
	}
	var out []*unstructured.Unstructured
	for _, r := range resmap.Resources() {
		m, err := r.Map()
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, &unstructured.Unstructured{Object: m})
	}
	return out
}

// applier applies objects to a cluster with server-side apply and strict
// field validation.
type applier struct {
	dyn    dynamic.Interface
	mapper *restmapper.DeferredDiscoveryRESTMapper
}

func newApplier(t *testing.T, c *testenv.Cluster) *applier {
	t.Helper()
	dyn, err := dynamic.NewForConfig(c.Config())
	if err != nil {
		t.Fatal(err)
	}
	disc, err := discovery.NewDiscoveryClientForConfig(c.Config())
	if err != nil {
		t.Fatal(err)
	}
	return &applier{dyn: dyn, mapper: restmapper.NewDeferredDiscoveryRESTMapper(memory.NewMemCacheClient(disc))}
}

func (a *applier) resource(obj *unstructured.Unstructured) (dynamic.ResourceInterface, error) {
	gvk := obj.GroupVersionKind()
	mapping, err := a.mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
	if err != nil {
		a.mapper.Reset()
		if mapping, err = a.mapper.RESTMapping(gvk.GroupKind(), gvk.Version); err != nil {
			return nil, err
		}
	}
	if mapping.Scope.Name() == meta.RESTScopeNameNamespace {
		return a.dyn.Resource(mapping.Resource).Namespace(obj.GetNamespace()), nil
	}
	return a.dyn.Resource(mapping.Resource), nil
}

func (a *applier) apply(obj *unstructured.Unstructured, dryRun bool) error {
	ri, err := a.resource(obj)
	if err != nil {
		return err
	}
	data, err := json.Marshal(obj.Object)
	if err != nil {
		return err
	}
	opts := metav1.PatchOptions{FieldManager: "kbackup-e2e", Force: ptrTo(true), FieldValidation: "Strict"}
	if dryRun {
		opts.DryRun = []string{metav1.DryRunAll}
	}
	_, err = ri.Patch(context.Background(), obj.GetName(), types.ApplyPatchType, data, opts)
	return err
}

func ptrTo[T any](v T) *T { return &v }

// applyAll applies objects, Namespaces and CustomResourceDefinitions first.
func (a *applier) applyAll(t *testing.T, what string, objs []*unstructured.Unstructured, dryRun bool) {
	t.Helper()
	rank := func(o *unstructured.Unstructured) int {
		switch o.GetKind() {
		case "Namespace", "CustomResourceDefinition":
			return 0
		}
		return 1
	}
	sorted := slices.Clone(objs)
	slices.SortStableFunc(sorted, func(x, y *unstructured.Unstructured) int { return rank(x) - rank(y) })
	for _, o := range sorted {
		if err := a.apply(o, dryRun); err != nil {
			t.Errorf("%s: applying %s %s/%s (dry run %v): %v", what, o.GetKind(), o.GetNamespace(), o.GetName(), dryRun, err)
		}
		if o.GetKind() == "CustomResourceDefinition" && !dryRun {
			a.waitServed(t, o)
		}
	}
}

func (a *applier) waitServed(t *testing.T, crd *unstructured.Unstructured) {
	t.Helper()
	group, _, _ := unstructured.NestedString(crd.Object, "spec", "group")
	kind, _, _ := unstructured.NestedString(crd.Object, "spec", "names", "kind")
	err := wait.PollUntilContextTimeout(context.Background(), 100*time.Millisecond, 30*time.Second, true, func(context.Context) (bool, error) {
		a.mapper.Reset()
		_, err := a.mapper.RESTMapping(schema.GroupKind{Group: group, Kind: kind})
		return err == nil, nil
	})
	if err != nil {
		t.Fatalf("%s is not served: %v", crd.GetName(), err)
	}
}

// A realistic application backed up from prod-eu and exported as a GitOps
// repository: every overlay builds with kustomize's library and applies to
// another real cluster (prod for real, every environment with a
// server-side dry run); what prod creates equals its source after
// cleaning, with prod's replica count; every Application and the
// AppProject pass Argo CD's CRD schema strictly; a second export changes
// nothing, and after one change in the cluster exactly one file; --check
// says 0 and 3 accordingly; no Secret value is ever printed or written.
func TestExportGitOps(t *testing.T) {
	ctx := context.Background()
	const ns = "e2e-gitops"
	install(t, "prod-eu", ns)
	target := testenv.Start(t, testenv.Options{ClusterNames: []string{"gitops-target"}})
	dst := target.Cluster("gitops-target")
	server := dst.Config().Host

	bucket := env.S3.NewBucket(t)
	storage := []string{"--storage", env.S3.RepositoryURL(bucket)}
	config := writeFile(t, "kbackup.yaml", fmt.Sprintf(`environments:
  - name: dev
    cluster_url: %[1]s
    auto_sync: true
    replicas: 1
  - name: prod
    cluster_url: %[1]s
    replicas: 3
clusters:
  %[2]s:
    dev: https://critical-dev.example.com
`, server, ns))
	withConfig := func(args ...string) []string { return append(append(args, "--config", config), storage...) }
	// Values YAML 1.1 reads as booleans, numbers or null unless quoted:
	// kubectl and Argo CD read manifests as YAML 1.1.
	src := newApplier(t, env.Cluster("prod-eu"))
	src.applyAll(t, "flags", []*unstructured.Unstructured{{Object: map[string]any{
		"apiVersion": "v1", "kind": "ConfigMap", "metadata": map[string]any{"name": "shop-flags", "namespace": ns},
		"data": map[string]any{"feature": "on", "legacy": "yes", "debug": "Off", "short": "n", "mask": "0x1F", "ratio": "1.5",
			"unset": "null", "tilde": "~", "empty": "", "motd": "hello\nworld\n", "url": "https://shop.example.com/#/a?b=c: d"},
	}}}, false)
	mustRun(t, 0, invocation{}, withConfig("backup", "create", "--context", "prod-eu", "-o", "json")...)

	dir := filepath.Join(t.TempDir(), "gitops")
	exportArgs := withConfig("export", "latest", "--from-cluster", "prod-eu", "-n", ns, "--output", dir,
		"--repo-url", "https://git.example.com/platform/prod-eu.git", "--revision", "main", "--project", "shop")
	first := mustRun(t, 0, invocation{}, exportArgs...)
	for _, want := range []string{"Created (", "namespaces/" + ns + "/base/deployment-shop-api.yaml", "Secrets left out (2)", "shop-db-credentials", "Exported "} {
		if !strings.Contains(first.stdout, want) {
			t.Errorf("the export's output lacks %q:\n%s", want, first)
		}
	}
	secretValues := []string{"s3cr3t-" + ns, "c2hvcDpwYXNz", "czNjcjN0"}
	noSecretValues := func(what, text string) {
		t.Helper()
		for _, v := range secretValues {
			if strings.Contains(text, v) {
				t.Errorf("%s holds a Secret value (%s)", what, v)
			}
		}
	}
	noSecretValues("the export's output", first.stdout+first.stderr)
	err := filepath.Walk(dir, func(p string, info os.FileInfo, err error) error {
		if err == nil && !info.IsDir() {
			data, _ := os.ReadFile(p)
			noSecretValues(p, string(data))
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}

	// Every overlay builds, and applies to the target: prod for real, then
	// every environment with a server-side dry run.
	a := newApplier(t, dst)
	overlays := map[string][]*unstructured.Unstructured{}
	for _, env := range []string{"dev", "prod"} {
		for _, d := range []string{"cluster/" + env, "namespaces/" + ns + "/" + env} {
			overlays[d] = build(t, filepath.Join(dir, d))
			if len(overlays[d]) == 0 {
				t.Fatalf("overlay %s renders nothing", d)
			}
			for _, o := range overlays[d] {
				if o.GetLabels()[export.EnvironmentLabel] != env {
					t.Errorf("%s: %s %s lacks the label %s=%s", d, o.GetKind(), o.GetName(), export.EnvironmentLabel, env)
				}
			}
		}
	}
	a.applyAll(t, "prod", overlays["cluster/prod"], false)
	a.applyAll(t, "prod", overlays["namespaces/"+ns+"/prod"], false)
	for _, d := range []string{"cluster/dev", "namespaces/" + ns + "/dev", "cluster/prod", "namespaces/" + ns + "/prod"} {
		a.applyAll(t, d, overlays[d], true)
	}

	// What prod created equals its source after cleaning, with prod's
	// label and replica count.
	compared := 0
	for _, d := range []string{"cluster/prod", "namespaces/" + ns + "/prod"} {
		for _, rendered := range overlays[d] {
			live := get(t, a, rendered)
			source := get(t, src, rendered)
			want := clean.Declared(source, clean.Options{})
			labels := want.GetLabels()
			if labels == nil {
				labels = map[string]string{}
			}
			labels[export.EnvironmentLabel] = "prod"
			want.SetLabels(labels)
			if k := want.GetKind(); k == "Deployment" || k == "StatefulSet" {
				if err := unstructured.SetNestedField(want.Object, int64(3), "spec", "replicas"); err != nil {
					t.Fatal(err)
				}
			}
			got := clean.Declared(live, clean.Options{})
			if !equality.Semantic.DeepEqual(got.Object, want.Object) {
				g, _ := yaml.Marshal(got.Object)
				w, _ := yaml.Marshal(want.Object)
				t.Errorf("%s %s in the target differs from its source:\n%s\nwant:\n%s", rendered.GetKind(), rendered.GetName(), g, w)
			}
			compared++
		}
	}
	if compared < 20 {
		t.Errorf("only %d objects compared", compared)
	}

	// Each base file, read as kubectl reads it (sigs.k8s.io/yaml), is its
	// source object cleaned, "on" and "0x1F" still strings.
	base := filepath.Join(dir, "namespaces", ns, "base")
	files, err := os.ReadDir(base)
	if err != nil {
		t.Fatal(err)
	}
	read := 0
	for _, f := range files {
		if f.Name() == "kustomization.yaml" {
			continue
		}
		data, err := os.ReadFile(filepath.Join(base, f.Name()))
		if err != nil {
			t.Fatal(err)
		}
		obj := &unstructured.Unstructured{}
		js, err := yaml.YAMLToJSON(data)
		if err == nil {
			err = obj.UnmarshalJSON(js)
		}
		if err != nil {
			t.Errorf("kubectl cannot read %s: %v\n%s", f.Name(), err, data)
			continue
		}
		want := clean.Declared(get(t, src, obj), clean.Options{})
		if !equality.Semantic.DeepEqual(obj.Object, want.Object) {
			w, _ := yaml.Marshal(want.Object)
			t.Errorf("%s, read as kubectl reads it, is not its source cleaned:\n%s\nwant:\n%s", f.Name(), data, w)
		}
		read++
	}
	if read < 10 {
		t.Errorf("only %d base files read back", read)
	}
	flags, err := os.ReadFile(filepath.Join(base, "configmap-shop-flags.yaml"))
	if err != nil || !strings.Contains(string(flags), `feature: "on"`) {
		t.Errorf("configmap-shop-flags.yaml does not quote on (%v):\n%s", err, flags)
	}

	// Argo CD's schema, strictly: every Application and the AppProject.
	if err := argocd.Install(ctx, dst.Config()); err != nil {
		t.Fatal(err)
	}
	a.applyAll(t, "argocd namespace", []*unstructured.Unstructured{{Object: map[string]any{
		"apiVersion": "v1", "kind": "Namespace", "metadata": map[string]any{"name": "argocd"}}}}, false)
	var apps []*unstructured.Unstructured
	err = filepath.Walk(filepath.Join(dir, "argocd"), func(p string, info os.FileInfo, err error) error {
		if err != nil || info.IsDir() {
			return err
		}
		obj := &unstructured.Unstructured{}
		data, _ := os.ReadFile(p)
		if err := yaml.Unmarshal(data, &obj.Object); err != nil {
			return fmt.Errorf("%s: %w", p, err)
		}
		apps = append(apps, obj)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	kinds := map[string]int{}
	for _, app := range apps {
		kinds[app.GetKind()]++
		ri, err := a.resource(app)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := ri.Create(ctx, app, metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}, FieldValidation: "Strict"}); err != nil {
			t.Errorf("Argo CD refuses %s %s: %v", app.GetKind(), app.GetName(), err)
		}
	}
	// 2 namespace Applications, 2 of cluster-scoped objects (dev's
	// override adds one for its cluster), 2 app-of-apps, 1 project.
	if kinds["Application"] != 7 || kinds["AppProject"] != 1 {
		t.Errorf("generated %v", kinds)
	}
	// The check is strict: a misspelt field is refused.
	bad := apps[0].DeepCopy()
	if bad.GetKind() != "Application" {
		bad = apps[len(apps)-1].DeepCopy()
	}
	_ = unstructured.SetNestedField(bad.Object, "x", "spec", "sourc")
	ri, _ := a.resource(bad)
	if _, err := ri.Create(ctx, bad, metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}, FieldValidation: "Strict"}); err == nil || !strings.Contains(err.Error(), "sourc") {
		t.Errorf("a misspelt field passed the CRD schema: %v", err)
	}
	var prodApp struct {
		Spec struct {
			Destination struct{ Server, Namespace string }
			SyncPolicy  map[string]any
		}
	}
	data, err := os.ReadFile(filepath.Join(dir, "argocd", "prod", ns+"-prod.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(data, &prodApp); err != nil {
		t.Fatal(err)
	}
	if prodApp.Spec.Destination.Server != server || prodApp.Spec.SyncPolicy["automated"] != nil {
		t.Errorf("prod Application: %+v", prodApp.Spec)
	}
	if data, err = os.ReadFile(filepath.Join(dir, "argocd", "dev", ns+"-dev.yaml")); err != nil || !strings.Contains(string(data), "server: https://critical-dev.example.com") ||
		!strings.Contains(string(data), "selfHeal: true") {
		t.Errorf("dev Application (override, auto_sync): %v\n%s", err, data)
	}

	// Again, unchanged: nothing written; --check 0.
	report := append(slices.Clone(exportArgs), "--report", "json")
	again := parseExport(t, mustRun(t, 0, invocation{}, report...))
	if again.Changed() || again.Unchanged != again.Files {
		t.Errorf("re-export of an unchanged cluster: created %v, updated %v, deleted %v", again.Created, again.Updated, again.Deleted)
	}
	mustRun(t, 0, invocation{}, append(slices.Clone(exportArgs), "--check")...)

	// One change: --check 3 naming the file, then exactly one file.
	cs, err := env.Cluster("prod-eu").Clientset()
	if err != nil {
		t.Fatal(err)
	}
	cm, err := cs.CoreV1().ConfigMaps(ns).Get(ctx, "shop-config", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	cm.Data["FEATURE_FLAGS"] = "checkout-v2"
	if _, err := cs.CoreV1().ConfigMaps(ns).Update(ctx, cm, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	mustRun(t, 0, invocation{}, withConfig("backup", "create", "--context", "prod-eu", "-o", "json")...)
	drift := mustRun(t, 3, invocation{}, append(slices.Clone(exportArgs), "--check")...)
	if !strings.Contains(drift.stdout, "Would update (1):") || !strings.Contains(drift.stdout, "configmap-shop-config.yaml") {
		t.Errorf("--check after one change:\n%s", drift)
	}
	changed := parseExport(t, mustRun(t, 0, invocation{}, report...))
	if !slices.Equal(changed.Updated, []string{"namespaces/" + ns + "/base/configmap-shop-config.yaml"}) || len(changed.Created)+len(changed.Deleted) != 0 {
		t.Errorf("export after one change: created %v, updated %v, deleted %v", changed.Created, changed.Updated, changed.Deleted)
	}
	mustRun(t, 0, invocation{}, append(slices.Clone(exportArgs), "--check")...)

	// A file of the user's in the directory: refused, nothing deleted.
	notes := filepath.Join(dir, "namespaces", ns, "NOTES.md")
	if err := os.WriteFile(notes, []byte("mine\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	refused := mustRun(t, 1, invocation{}, exportArgs...)
	if !strings.Contains(refused.stderr, "holds files kbackup export did not write") || !strings.Contains(refused.stderr, "namespaces/"+ns+"/NOTES.md") {
		t.Errorf("export into a directory with a foreign file:\n%s", refused)
	}
	if data, err := os.ReadFile(notes); err != nil || string(data) != "mine\n" {
		t.Errorf("the user's file: %q, %v", data, err)
	}
}

// Bad configuration is refused with the key and what would be accepted.
func TestExportBadInput(t *testing.T) {
	bucket := env.S3.NewBucket(t)
	storage := []string{"--storage", env.S3.RepositoryURL(bucket)}
	for _, c := range []struct {
		name, config, want string
	}{
		{"environment without cluster_url", "environments:\n  - name: prod\n    replicas: 3\n",
			`environments[0].cluster_url: Required value: environment "prod" has no cluster_url`},
		{"override of an unknown environment", "environments:\n  - name: prod\n    cluster_url: https://prod.example.com\nclusters:\n  critical-workloads:\n    production: https://p.example.com\n",
			`clusters.critical-workloads.production`},
	} {
		t.Run(c.name, func(t *testing.T) {
			config := writeFile(t, "kbackup.yaml", c.config)
			res := mustRun(t, 1, invocation{}, append([]string{"export", "--from-cluster", "prod-eu", "--output", t.TempDir(),
				"--repo-url", "https://git.example.com/x.git", "--config", config}, storage...)...)
			if !strings.Contains(res.stderr, c.want) {
				t.Errorf("want %q:\n%s", c.want, res)
			}
		})
	}
}

func get(t *testing.T, a *applier, like *unstructured.Unstructured) *unstructured.Unstructured {
	t.Helper()
	ri, err := a.resource(like)
	if err != nil {
		t.Fatal(err)
	}
	obj, err := ri.Get(context.Background(), like.GetName(), metav1.GetOptions{})
	if err != nil {
		t.Fatalf("getting %s %s/%s: %v", like.GetKind(), like.GetNamespace(), like.GetName(), err)
	}
	return obj
}
