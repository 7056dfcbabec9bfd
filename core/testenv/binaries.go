package testenv

import (
	"bufio"
	_ "embed"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

//go:embed versions.env
var versionsEnv string

// Versions of the real parts, read from versions.env, which the Makefile
// includes too.
var (
	KubernetesVersion = mustVersion("KUBERNETES_VERSION")
	EtcdVersion       = mustVersion("ETCD_VERSION")
	VersityGWVersion  = mustVersion("VERSITYGW_VERSION")
	OpenTofuVersion   = mustVersion("OPENTOFU_VERSION")
	KrewVersion       = mustVersion("KREW_VERSION")
	recipe            = mustVersion("TESTENV_RECIPE")
)

func mustVersion(key string) string {
	sc := bufio.NewScanner(strings.NewReader(versionsEnv))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if k, v, ok := strings.Cut(line, "="); ok && k == key {
			return v
		}
	}
	panic("core/testenv/versions.env has no " + key)
}

// CacheDir is where `make testenv` puts the binaries:
// $KBACKUP_TESTENV_CACHE, else $XDG_CACHE_HOME/kbackup/testenv, else
// ~/.cache/kbackup/testenv. Keep in step with the Makefile.
func CacheDir() (string, error) {
	if dir := os.Getenv("KBACKUP_TESTENV_CACHE"); dir != "" {
		return dir, nil
	}
	base, err := os.UserCacheDir()
	if err != nil {
		return "", fmt.Errorf("finding the test environment cache: %w (set KBACKUP_TESTENV_CACHE)", err)
	}
	return filepath.Join(base, "kbackup", "testenv"), nil
}

// Binary names the test environment knows how to find.
const (
	BinKubeAPIServer = "kube-apiserver"
	BinKubectl       = "kubectl"
	BinEtcd          = "etcd"
	BinVersityGW     = "versitygw"
	BinTofu          = "tofu"
	// BinKrew is kubectl's plugin manager, for the test that installs the
	// plugin from the release archives as a user would.
	BinKrew = "krew"
)

// binaryDir is the cache subdirectory of a binary, keyed by version and recipe.
func binaryDir(name string) string {
	switch name {
	case BinKubeAPIServer, BinKubectl:
		return "kubernetes-" + KubernetesVersion + "-r" + recipe
	case BinEtcd:
		return "etcd-" + EtcdVersion + "-r" + recipe
	case BinVersityGW:
		return "versitygw-" + VersityGWVersion + "-r" + recipe
	case BinTofu:
		return "opentofu-" + OpenTofuVersion + "-r" + recipe
	case BinKrew:
		return "krew-" + KrewVersion + "-r" + recipe
	}
	panic("testenv: unknown binary " + name)
}

// BinaryPath returns the path of a test environment binary, or an error that
// says how to build it.
func BinaryPath(name string) (string, error) {
	cache, err := CacheDir()
	if err != nil {
		return "", err
	}
	path := filepath.Join(cache, binaryDir(name), name)
	if _, err := os.Stat(path); err != nil {
		return "", fmt.Errorf("test environment binary %s not found at %s: run `make testenv` at the top of the checkout to build it", name, path)
	}
	return path, nil
}
