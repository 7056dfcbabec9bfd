// Package hostile holds the hostile-repository suite (issue 8): a
// repository is untrusted input, since whoever can write the bucket need not
// be able to write the cluster. Each test takes a real backup, crafts one
// attack into its manifest or packs (local directory and the real S3
// server), and runs the real kubectl-kbackup binary's restore of it into a
// real test cluster: the restore must refuse, naming the key it refuses,
// and the target cluster must be unchanged.
package hostile

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/klauspost/compress/zstd"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"

	"github.com/kbackup/kbackup/core/repo"
	"github.com/kbackup/kbackup/core/storage"
	"github.com/kbackup/kbackup/core/testenv"
	"github.com/kbackup/kbackup/core/testenv/repotest"
)

var (
	binary     string
	kubeconfig string
	env        *testenv.Env
)

func TestMain(m *testing.M) { os.Exit(run(m)) }

func run(m *testing.M) int {
	dir, err := os.MkdirTemp("", "kbackup-hostile-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	binary = filepath.Join(dir, "kubectl-kbackup")
	build := exec.Command("go", "build", "-o", binary, ".")
	build.Dir = filepath.Join("..", "..")
	build.Stdout, build.Stderr = os.Stdout, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "building kubectl-kbackup:", err)
		return 1
	}
	env, err = testenv.New(context.Background(), testenv.Options{ClusterNames: []string{"source", "target"}, S3: true})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer env.Stop()
	kubeconfig = filepath.Join(dir, "kubeconfig")
	if err := env.WriteKubeconfig(kubeconfig); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return m.Run()
}

// The namespace every test backs up: two ConfigMaps and a RoleBinding.
const namespace = "team-a"

var sourceOnce sync.Once

func fillSource(t *testing.T) {
	t.Helper()
	sourceOnce.Do(func() {
		ctx := context.Background()
		cs, err := env.Cluster("source").Clientset()
		if err != nil {
			t.Fatal(err)
		}
		must := func(_ any, err error) {
			if err != nil && !apierrors.IsAlreadyExists(err) {
				t.Fatal(err)
			}
		}
		must(cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: namespace}}, metav1.CreateOptions{}))
		for _, name := range []string{"app-config", "feature-flags"} {
			must(cs.CoreV1().ConfigMaps(namespace).Create(ctx, &corev1.ConfigMap{
				ObjectMeta: metav1.ObjectMeta{Name: name}, Data: map[string]string{"mode": "production"},
			}, metav1.CreateOptions{}))
		}
		must(cs.RbacV1().RoleBindings(namespace).Create(ctx, &rbacv1.RoleBinding{
			ObjectMeta: metav1.ObjectMeta{Name: "readers"},
			RoleRef:    rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "ClusterRole", Name: "view"},
			Subjects:   []rbacv1.Subject{{Kind: "ServiceAccount", Name: "default", Namespace: namespace}},
		}, metav1.CreateOptions{}))
	})
}

// repository is one place a test's backup goes.
type repository struct {
	url  string
	opts repo.Options
}

func repositories(t *testing.T) map[string]func(t *testing.T) repository {
	return map[string]func(t *testing.T) repository{
		"local": func(t *testing.T) repository {
			dir := filepath.Join(t.TempDir(), "repo")
			return repository{url: "file://" + dir, opts: repo.Options{Location: storage.Location{Scheme: storage.SchemeFile, Path: dir}}}
		},
		"s3": func(t *testing.T) repository {
			bucket := env.S3.NewBucket(t)
			opts := repotest.S3Options(env.S3, bucket)
			opts.Create = false
			return repository{url: env.S3.RepositoryURL(bucket), opts: opts}
		},
	}
}

// kbackup runs the binary with a clean environment.
func kbackup(t *testing.T, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	cmd := exec.Command(binary, args...)
	home := t.TempDir()
	cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + home, "XDG_DATA_HOME=" + filepath.Join(home, "data"),
		"KUBECONFIG=" + kubeconfig, "NO_COLOR=1"}, env.S3.Env()...)
	cmd.Dir = home
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	code = cmd.ProcessState.ExitCode()
	if err != nil && code < 0 {
		t.Fatalf("kubectl-kbackup %s: %v", strings.Join(args, " "), err)
	}
	return out.String(), errOut.String(), code
}

// crafted is a real backup whose manifest and packs a test rewrites, as
// whoever can write the bucket could.
type crafted struct {
	t           *testing.T
	backend     storage.Backend
	layout      repo.Layout
	manifestKey string
	manifest    map[string]any
}

// backupSource backs team-a of the source cluster up into r and opens the
// backup for crafting.
func backupSource(t *testing.T, r repository) *crafted {
	t.Helper()
	fillSource(t)
	if out, errOut, code := kbackup(t, "backup", "create", "--context", "source", "--cluster-name", "source",
		"--include-namespaces", namespace, "--storage", r.url, "-o", "json"); code != 0 {
		t.Fatalf("backup create: exit %d\n%s\n%s", code, out, errOut)
	}
	opened, err := repo.Open(context.Background(), r.opts)
	if err != nil {
		t.Fatal(err)
	}
	c := &crafted{t: t, backend: opened.Backend(), layout: opened.Layout()}
	for obj, err := range c.backend.List(context.Background(), c.layout.Backups("source")) {
		if err != nil {
			t.Fatal(err)
		}
		c.manifestKey = obj.Key
	}
	if c.manifestKey == "" {
		t.Fatal("the backup wrote no manifest")
	}
	if err := json.Unmarshal(c.get(c.manifestKey), &c.manifest); err != nil {
		t.Fatal(err)
	}
	return c
}

func (c *crafted) get(key string) []byte {
	c.t.Helper()
	data, err := c.backend.Get(context.Background(), key)
	if err != nil {
		c.t.Fatal(err)
	}
	return data
}

func (c *crafted) put(key string, data []byte) {
	c.t.Helper()
	if err := c.backend.Put(context.Background(), key, data); err != nil {
		c.t.Fatal(err)
	}
}

// pack returns the manifest entry of team-a's pack of resource.
func (c *crafted) pack(resource string) map[string]any {
	c.t.Helper()
	for _, p := range c.manifest["packs"].([]any) {
		entry := p.(map[string]any)
		if entry["resource"] == resource && entry["namespace"] == namespace {
			return entry
		}
	}
	c.t.Fatalf("the backup has no pack of %s in %s", resource, namespace)
	return nil
}

// documents decodes a pack's objects, as JSON maps.
func (c *crafted) documents(entry map[string]any) []map[string]any {
	c.t.Helper()
	dec, _ := zstd.NewReader(nil)
	defer dec.Close()
	content, err := dec.DecodeAll(c.get(c.layout.Prefix()+entry["key"].(string)), nil)
	if err != nil {
		c.t.Fatal(err)
	}
	var docs []map[string]any
	for doc := range strings.SplitSeq(strings.TrimPrefix(string(content), "---\n"), "\n---\n") {
		var obj map[string]any
		if err := json.Unmarshal([]byte(doc), &obj); err != nil {
			c.t.Fatal(err)
		}
		docs = append(docs, obj)
	}
	return docs
}

// repack stores docs as the entry's pack, and fixes the entry (hash, key,
// sizes, object names) so that every check of the manifest alone passes:
// the attack is in what the pack holds.
func (c *crafted) repack(entry map[string]any, docs []map[string]any) {
	c.t.Helper()
	var content bytes.Buffer
	var names []string
	for _, d := range docs {
		line, err := json.Marshal(d)
		if err != nil {
			c.t.Fatal(err)
		}
		content.WriteString("---\n")
		content.Write(line)
		content.WriteString("\n")
		names = append(names, d["metadata"].(map[string]any)["name"].(string))
	}
	slices.Sort(names)
	enc, _ := zstd.NewWriter(nil)
	stored := enc.EncodeAll(content.Bytes(), nil)
	sum := sha256.Sum256(content.Bytes())
	ref := repo.PackRef{Cluster: "source", Namespace: namespace, Resource: entry["resource"].(string),
		SHA256: hex.EncodeToString(sum[:]), Size: int64(len(stored)), RawSize: int64(content.Len()), Encoding: repo.EncodingZstd}
	c.put(c.layout.Prefix()+ref.Key(), stored)
	entry["sha256"], entry["key"], entry["size"], entry["rawSize"] = ref.SHA256, ref.Key(), ref.Size, ref.RawSize
	objects := make([]any, len(names))
	for i, n := range names {
		objects[i] = n
	}
	entry["objects"] = objects
}

func (c *crafted) saveManifest() {
	c.t.Helper()
	data, err := json.Marshal(c.manifest)
	if err != nil {
		c.t.Fatal(err)
	}
	c.put(c.manifestKey, data)
}

// relativeManifestKey is the manifest's key as errors name it.
func (c *crafted) relativeManifestKey() string {
	return strings.TrimPrefix(c.manifestKey, c.layout.Prefix())
}

// snapshot lists what the target cluster holds of the types a restore of
// team-a could write, with each object's resourceVersion.
func snapshot(t *testing.T) []string {
	t.Helper()
	dyn, err := dynamic.NewForConfig(env.Cluster("target").Config())
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, gvr := range []schema.GroupVersionResource{
		{Version: "v1", Resource: "namespaces"}, {Version: "v1", Resource: "configmaps"}, {Version: "v1", Resource: "secrets"},
		{Version: "v1", Resource: "serviceaccounts"},
		{Group: "rbac.authorization.k8s.io", Version: "v1", Resource: "rolebindings"},
		{Group: "rbac.authorization.k8s.io", Version: "v1", Resource: "roles"},
		{Group: "rbac.authorization.k8s.io", Version: "v1", Resource: "clusterrolebindings"},
		{Group: "rbac.authorization.k8s.io", Version: "v1", Resource: "clusterroles"},
	} {
		list, err := dyn.Resource(gvr).List(context.Background(), metav1.ListOptions{})
		if err != nil {
			t.Fatal(err)
		}
		for _, o := range list.Items {
			out = append(out, fmt.Sprintf("%s %s/%s %s", gvr.Resource, o.GetNamespace(), o.GetName(), o.GetResourceVersion()))
		}
	}
	slices.Sort(out)
	return out
}

// attack is one crafted repository and what its refusal must say.
type attack struct {
	name string
	// craft rewrites the backup and returns the key the refusal must
	// name, relative to the repository.
	craft func(c *crafted) string
	// says is what the refusal must say besides the key.
	says string
}

var attacks = []attack{
	{
		name: "namespace escape: a ConfigMap for kube-system in team-a's pack",
		craft: func(c *crafted) string {
			entry := c.pack("configmaps")
			docs := c.documents(entry)
			docs[0]["metadata"].(map[string]any)["namespace"] = "kube-system"
			c.repack(entry, docs)
			c.saveManifest()
			return entry["key"].(string)
		},
		says: `is in namespace "kube-system", but the pack holds the objects of namespace team-a`,
	},
	{
		name: "a cluster-scoped ClusterRoleBinding in team-a's pack of RoleBindings",
		craft: func(c *crafted) string {
			entry := c.pack("rolebindings.rbac.authorization.k8s.io")
			docs := c.documents(entry)
			crb := docs[0]
			crb["kind"] = "ClusterRoleBinding"
			delete(crb["metadata"].(map[string]any), "namespace")
			crb["roleRef"] = map[string]any{"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "cluster-admin"}
			crb["subjects"] = []any{map[string]any{"apiGroup": "rbac.authorization.k8s.io", "kind": "Group", "name": "system:authenticated"}}
			c.repack(entry, docs)
			c.saveManifest()
			return entry["key"].(string)
		},
		says: "but the pack holds the objects of namespace team-a",
	},
	{
		name:  "an object named ..",
		craft: func(c *crafted) string { return renameObject(c, "..") },
		says:  `object name ".."`,
	},
	{
		name:  "an object name with slashes",
		craft: func(c *crafted) string { return renameObject(c, "..%2f..%2fkube-system/app-config") },
		says:  "may not contain '/'",
	},
	{
		name:  "an object name with a terminal escape",
		craft: func(c *crafted) string { return renameObject(c, "app\x1b]0;pwned\x07config") },
		says:  `"app\x1b]0;pwned\aconfig" holds control characters`,
	},
	{
		name: "a zstd bomb: a few KiB that inflate to 512 MiB",
		craft: func(c *crafted) string {
			entry := c.pack("configmaps")
			var bomb bytes.Buffer
			enc, _ := zstd.NewWriter(&bomb, zstd.WithEncoderLevel(zstd.SpeedFastest))
			zeros := make([]byte, 1<<20)
			for range 512 {
				_, _ = enc.Write(zeros)
			}
			_ = enc.Close()
			c.put(c.layout.Prefix()+entry["key"].(string), bomb.Bytes())
			// Sizes that pass every check of the manifest alone.
			entry["size"], entry["rawSize"] = bomb.Len(), bomb.Len()
			c.saveManifest()
			return entry["key"].(string)
		},
		says: "decompresses to more than the",
	},
	{
		name: "a pack larger than its manifest entry says",
		craft: func(c *crafted) string {
			entry := c.pack("configmaps")
			key := c.layout.Prefix() + entry["key"].(string)
			c.put(key, append(c.get(key), make([]byte, 4<<20)...))
			return entry["key"].(string)
		},
		says: "larger than the",
	},
	{
		name: "a manifest of a newer format",
		craft: func(c *crafted) string {
			c.manifest["formatVersion"] = repo.FormatVersion + 1
			c.saveManifest()
			return c.relativeManifestKey()
		},
		says: fmt.Sprintf("format version %d", repo.FormatVersion+1),
	},
	{
		name: "a truncated manifest",
		craft: func(c *crafted) string {
			data := c.get(c.manifestKey)
			c.put(c.manifestKey, data[:len(data)/2])
			return c.relativeManifestKey()
		},
		says: "not a JSON manifest",
	},
}

// renameObject renames team-a's ConfigMap app-config, in its pack and in
// the manifest, consistently.
func renameObject(c *crafted, name string) string {
	entry := c.pack("configmaps")
	docs := c.documents(entry)
	for _, d := range docs {
		if meta := d["metadata"].(map[string]any); meta["name"] == "app-config" {
			meta["name"] = name
		}
	}
	c.repack(entry, docs)
	c.saveManifest()
	return c.relativeManifestKey()
}

func TestHostileRepositories(t *testing.T) {
	for _, a := range attacks {
		t.Run(a.name, func(t *testing.T) {
			for store, open := range repositories(t) {
				t.Run(store, func(t *testing.T) {
					r := open(t)
					c := backupSource(t, r)
					key := a.craft(c)
					before := snapshot(t)
					restores := [][]string{{"restore", "latest", "--from-cluster", "source", "-n", namespace}}
					if store == "local" {
						// The whole backup too, once: no namespace
						// confines it.
						restores = append(restores, []string{"restore", "latest", "--from-cluster", "source"})
					}
					for _, args := range restores {
						args = append(args, "--context", "target", "--cluster-name", "target", "--yes", "--storage", r.url)
						out, errOut, code := kbackup(t, args...)
						if code == 0 {
							t.Errorf("kubectl-kbackup %s exited 0; want a refusal\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), out, errOut)
						}
						for _, want := range []string{key, a.says} {
							if !strings.Contains(errOut, want) {
								t.Errorf("kubectl-kbackup %s: the refusal does not say %q\nstderr:\n%s", strings.Join(args, " "), want, errOut)
							}
						}
						if after := snapshot(t); !slices.Equal(before, after) {
							t.Errorf("the restore changed the target cluster:\nbefore: %v\nafter:  %v", before, after)
						}
					}
				})
			}
		})
	}
}
