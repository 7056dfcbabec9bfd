// Package krew installs kubectl-kbackup the way users do: with krew, from the
// archive and manifest that `make dist` builds (hack/dist.sh), then runs it
// through a real kubectl, whose plugin discovery is what finds it.
package krew

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/kbackup/kbackup/core/testenv"
)

const version = "v0.0.0-krewtest"

func TestKrewInstallThenBackUpThroughKubectl(t *testing.T) {
	krew, err := testenv.BinaryPath(testenv.BinKrew)
	if err != nil {
		t.Fatal(err)
	}
	kubectl, err := testenv.BinaryPath(testenv.BinKubectl)
	if err != nil {
		t.Fatal(err)
	}
	root, err := filepath.Abs(filepath.Join("..", "..", ".."))
	if err != nil {
		t.Fatal(err)
	}

	// The release archive of this platform, as `make dist` builds it.
	// Built twice, it must give the same bytes.
	platform := runtime.GOOS + "/" + runtime.GOARCH
	var dist string
	var sums []string
	for range 2 {
		dist = t.TempDir()
		build := exec.Command(filepath.Join(root, "hack", "dist.sh"), version, "krewtest", "1764374400", dist, platform)
		build.Env = append(os.Environ(), "KBACKUP_DIST_PLUGIN_ONLY=1")
		if out, err := build.CombinedOutput(); err != nil {
			t.Fatalf("hack/dist.sh: %v\n%s", err, out)
		}
		data, err := os.ReadFile(filepath.Join(dist, "SHA256SUMS"))
		if err != nil {
			t.Fatal(err)
		}
		sums = append(sums, string(data))
	}
	if sums[0] != sums[1] {
		t.Errorf("two builds of the same commit differ:\n%s\n%s", sums[0], sums[1])
	}
	archive := filepath.Join(dist, "kubectl-kbackup_"+version+"_"+runtime.GOOS+"_"+runtime.GOARCH+".tar.gz")

	// A user's machine: krew's root, kubectl on PATH, no other kbackup.
	home := t.TempDir()
	krewRoot := filepath.Join(home, ".krew")
	kubectlDir := t.TempDir()
	if err := os.Symlink(kubectl, filepath.Join(kubectlDir, "kubectl")); err != nil {
		t.Fatal(err)
	}
	userEnv := []string{
		"HOME=" + home, "KREW_ROOT=" + krewRoot, "KREW_NO_UPGRADE_CHECK=1",
		"PATH=" + filepath.Join(krewRoot, "bin") + string(os.PathListSeparator) + kubectlDir + string(os.PathListSeparator) + "/usr/bin:/bin",
	}
	run := func(t *testing.T, extraEnv []string, name string, args ...string) string {
		t.Helper()
		cmd := exec.Command(name, args...)
		cmd.Env = append(append([]string{}, userEnv...), extraEnv...)
		cmd.Dir = home
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("%s %s: %v\n%s", filepath.Base(name), strings.Join(args, " "), err, out)
		}
		return string(out)
	}

	out := run(t, nil, krew, "install", "--manifest="+filepath.Join(dist, "kbackup.yaml"), "--archive="+archive)
	if !strings.Contains(out, "Installed plugin: kbackup") {
		t.Errorf("krew install said:\n%s\nwant \"Installed plugin: kbackup\"", out)
	}
	for _, f := range []string{"kubectl-kbackup", "kubectl_complete-kbackup", "LICENSE"} {
		if _, err := os.Stat(filepath.Join(krewRoot, "store", "kbackup", version, f)); err != nil {
			t.Errorf("krew did not install %s: %v", f, err)
		}
	}

	if out := run(t, nil, "kubectl", "plugin", "list", "--name-only"); !strings.Contains(out, "kubectl-kbackup") {
		t.Errorf("kubectl plugin list does not find the plugin:\n%s", out)
	}
	if out := run(t, nil, "kubectl", "kbackup", "version"); !strings.Contains(out, version) {
		t.Errorf("kubectl kbackup version said:\n%s\nwant %s", out, version)
	}

	// A first backup, through kubectl, of a real cluster into a real S3 server.
	env, err := testenv.New(context.Background(), testenv.Options{ClusterNames: []string{"laptop"}, S3: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(env.Stop)
	kubeconfig := filepath.Join(home, "kubeconfig")
	if err := env.WriteKubeconfig(kubeconfig); err != nil {
		t.Fatal(err)
	}
	bucket := env.S3.NewBucket(t)
	clusterEnv := append([]string{"KUBECONFIG=" + kubeconfig, "KBACKUP_STORAGE=" + env.S3.RepositoryURL(bucket)}, env.S3.Env()...)
	run(t, clusterEnv, "kubectl", "kbackup", "backup", "create", "--include-namespaces", "kube-system")
	var list struct {
		Items []struct {
			Cluster struct {
				Name string `json:"name"`
			} `json:"cluster"`
			Phase string `json:"phase"`
		} `json:"items"`
	}
	listed := run(t, clusterEnv, "kubectl", "kbackup", "backup", "list", "-o", "json")
	if err := json.Unmarshal([]byte(listed), &list); err != nil {
		t.Fatalf("backup list -o json: %v\n%s", err, listed)
	}
	if len(list.Items) != 1 || list.Items[0].Cluster.Name != "laptop" || list.Items[0].Phase != "Completed" {
		t.Errorf("after one backup through kubectl, backup list gives %+v, want one Completed backup of laptop", list.Items)
	}

	// Completion under kubectl, with kubectl_complete-kbackup linked as the
	// manifest's caveats say.
	if err := os.Symlink(filepath.Join(krewRoot, "store", "kbackup", version, "kubectl_complete-kbackup"),
		filepath.Join(krewRoot, "bin", "kubectl_complete-kbackup")); err != nil {
		t.Fatal(err)
	}
	out = run(t, clusterEnv, "kubectl", "__complete", "kbackup", "")
	for _, want := range []string{"backup", "restore", "diff", "verify"} {
		if !strings.Contains(out, "\n"+want+"\t") && !strings.HasPrefix(out, want+"\t") {
			t.Errorf("kubectl __complete kbackup '' does not offer %s:\n%s", want, out)
		}
	}
}
