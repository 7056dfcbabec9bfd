// Package guides follows the guides of docs/ as a reader does: every shell
// command of docs/getting-started.md, docs/disaster-recovery.md and
// docs/export.md runs, in the page's order, through bash, with the built
// kubectl-kbackup and a real kubectl on PATH, against real test clusters
// (named as the pages name their contexts) and a real S3 server; where the
// page shows a command's output, the output must be the page's, but for
// what varies from run to run (compare_test.go says what and how). So the
// guides cannot rot: a flag renamed, an output changed or a step that no
// longer works fails here, naming the page and line.
//
// How a page is read is in page_test.go; the few commands run differently
// or not at all are listed, with their reasons, in each guide's test.
package guides

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"

	"testing"

	"github.com/kbackup/kbackup/core/testenv"
)

var (
	// binary is the built kubectl-kbackup; demo and devEnv are the programs
	// make demo and make dev-env run (core/testenv/cmd).
	binary, demo, devEnv string
	// toolDir holds kubectl, and pluginDir the plugin, for PATH.
	toolDir, pluginDir string
	// docsDir is the project's docs/.
	docsDir string
	// makeEnv is what the Makefile exports to the programs it runs: where
	// the test environment's binaries are cached.
	makeEnv []string
)

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	dir, err := os.MkdirTemp("", "kbackup-guides-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	root, err := filepath.Abs(filepath.Join("..", "..", ".."))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	docsDir = filepath.Join(root, "docs")

	pluginDir, toolDir = filepath.Join(dir, "plugin"), filepath.Join(dir, "tools")
	binary = filepath.Join(pluginDir, "kubectl-kbackup")
	demo, devEnv = filepath.Join(dir, "demo"), filepath.Join(dir, "dev-env")
	for _, b := range []struct{ module, pkg, out string }{
		{"kubectl-kbackup", ".", binary},
		{"core", "./testenv/cmd/demo", demo},
		{"core", "./testenv/cmd/dev-env", devEnv},
	} {
		build := exec.Command("go", "build", "-o", b.out, b.pkg)
		build.Dir = filepath.Join(root, b.module)
		build.Stdout, build.Stderr = os.Stdout, os.Stderr
		if err := build.Run(); err != nil {
			fmt.Fprintf(os.Stderr, "building %s of %s: %v\n", b.pkg, b.module, err)
			return 1
		}
	}
	kubectl, err := testenv.BinaryPath(testenv.BinKubectl)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	// The pages' other tools, which make testenv-packages installs.
	for _, tool := range []string{"bash", "zstd", "jq"} {
		if _, err := exec.LookPath(tool); err != nil {
			fmt.Fprintf(os.Stderr, "the guides use %s, which is not on PATH: run `make testenv` (make testenv-packages installs it)\n", tool)
			return 1
		}
	}
	cache, err := testenv.CacheDir()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	makeEnv = []string{"KBACKUP_TESTENV_CACHE=" + cache}
	if err := os.MkdirAll(toolDir, 0o755); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	if err := os.Symlink(kubectl, filepath.Join(toolDir, "kubectl")); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return m.Run()
}
