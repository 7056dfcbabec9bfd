package e2e

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
	"sigs.k8s.io/yaml"

	"github.com/kbackup/kbackup/core/testenv"
)

// -o json and -o yaml parse wherever a list or an object is shown; tables
// written to a pipe or file have no escape sequences; on a terminal they are
// styled, unless NO_COLOR is set.
func TestOutputFormats(t *testing.T) {
	storage := []string{"--storage", env.S3.RepositoryURL(env.S3.NewBucket(t))}
	with := func(args ...string) []string { return append(args, storage...) }
	mustRun(t, 0, invocation{}, with("backup", "create", "--context", "prod-eu", "-n", "kube-system", "my-first-backup", "--labels", "team=platform")...)

	for _, args := range [][]string{
		with("backup", "create", "--context", "prod-eu", "-n", "kube-system"),
		with("backup", "list", "--context", "prod-eu"),
		with("backup", "list", "--all-clusters"),
		with("backup", "describe", "my-first-backup"),
		with("backup", "get", "my-first-backup", "namespaces/kube-system"),
		with("backup", "delete", "my-first-backup", "--dry-run"),
		{"detect", "--context", "dr-us"},
		{"config", "view"},
		{"version"},
	} {
		jsonOut := mustRun(t, 0, invocation{}, append(args, "-o", "json")...)
		yamlOut := mustRun(t, 0, invocation{}, append(args, "-o", "yaml")...)
		// backup create makes a new backup each time: its two outputs
		// differ in values (ID, times), not in fields.
		sameAsJSON(t, jsonOut, yamlOut, args[0] == "backup" && args[1] == "create")
	}
	// The first backup, then the two the loop above made.
	list := mustRun(t, 0, invocation{}, with("backup", "list", "--context", "prod-eu", "-o", "json")...)
	var parsed struct {
		Items []struct {
			ID     string            `json:"id"`
			Labels map[string]string `json:"labels"`
		} `json:"items"`
	}
	if err := json.Unmarshal([]byte(list.stdout), &parsed); err != nil || len(parsed.Items) != 3 || parsed.Items[0].ID != "my-first-backup" || parsed.Items[0].Labels["team"] != "platform" {
		t.Errorf("backup list -o json: %+v (%v)\n%s", parsed, err, list)
	}

	for _, args := range [][]string{
		with("backup", "list", "--context", "prod-eu"),
		with("backup", "describe", "latest", "--context", "prod-eu"),
		{"config", "view"},
		{"detect", "--context", "prod-eu"},
	} {
		res := mustRun(t, 0, invocation{env: []string{"TERM=xterm-256color"}}, args...)
		if strings.Contains(res.stdout, "\x1b") {
			t.Errorf("output to a pipe has escape sequences:\n%q", res.stdout)
		}
	}
	plain := mustRun(t, 0, invocation{}, with("backup", "list", "--context", "prod-eu")...)
	if fields := strings.Fields(strings.SplitN(plain.stdout, "\n", 2)[0]); strings.Join(fields, " ") != "ID CLUSTER PHASE OBJECTS TYPES STORED UPLOADED AGE DURATION" {
		t.Errorf("the plain table's header is %q", fields)
	}

	onTerminal := ptyRun(t, nil, with("backup", "list", "--context", "prod-eu")...)
	if !strings.Contains(onTerminal, "\x1b[") || !strings.Contains(onTerminal, "my-first-backup") {
		t.Errorf("a table on a terminal should be styled:\n%q", onTerminal)
	}
	// Styling must not ask the terminal anything (such as its background
	// colour): a terminal that does not answer would make every command wait.
	if strings.Contains(onTerminal, "\x1b]11;?") || strings.Contains(onTerminal, "\x1b[6n") {
		t.Errorf("the output queries the terminal:\n%q", onTerminal)
	}
	noColor := ptyRun(t, []string{"NO_COLOR=1"}, with("backup", "list", "--context", "prod-eu")...)
	if strings.Contains(noColor, "\x1b") || !strings.Contains(noColor, "my-first-backup") {
		t.Errorf("with NO_COLOR a table on a terminal should be plain:\n%q", noColor)
	}
}

// The binary is a kubectl plugin: on PATH, `kubectl kbackup` runs it.
func TestRunsAsKubectlPlugin(t *testing.T) {
	kubectl, err := testenv.BinaryPath(testenv.BinKubectl)
	if err != nil {
		t.Fatal(err)
	}
	pathDir := t.TempDir()
	if err := os.Symlink(binary, filepath.Join(pathDir, "kubectl-kbackup")); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(kubectl, "kbackup", "version")
	cmd.Env = append(baseEnv(t), "PATH="+pathDir+":/usr/bin:/bin")
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.HasPrefix(string(out), "kubectl-kbackup ") {
		t.Fatalf("kubectl kbackup version: %v\n%s", err, out)
	}
	cmd = exec.Command(kubectl, "plugin", "list")
	cmd.Env = append(baseEnv(t), "PATH="+pathDir+":/usr/bin:/bin")
	out, _ = cmd.CombinedOutput()
	if !strings.Contains(string(out), filepath.Join(pathDir, "kubectl-kbackup")) {
		t.Errorf("kubectl plugin list does not show the plugin:\n%s", out)
	}
	// Help names the command as kubectl users type it.
	cmd = exec.Command(kubectl, "kbackup", "backup", "create", "--help")
	cmd.Env = append(baseEnv(t), "PATH="+pathDir+":/usr/bin:/bin")
	out, err = cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "kubectl kbackup backup create [NAME]") {
		t.Errorf("kubectl kbackup backup create --help: %v\n%s", err, out)
	}
}

// ptyRun runs the binary with its stdout and stderr on a pseudo-terminal and
// returns what it wrote there.
func ptyRun(t *testing.T, extraEnv []string, args ...string) string {
	t.Helper()
	out, code := ptyRunInput(t, extraEnv, "", args...)
	if code != 0 {
		t.Fatalf("%v: exit code %d\n%s", args, code, out)
	}
	return out
}

// ptyRunInput runs the binary on a pseudo-terminal as ptyRun does, typing
// input once it runs, and returns its output and exit code.
func ptyRunInput(t *testing.T, extraEnv []string, input string, args ...string) (string, int) {
	t.Helper()
	master, slave, err := openPTY()
	if err != nil {
		t.Fatal(err)
	}
	defer master.Close()
	cmd := exec.Command(binary, args...)
	cmd.Env = append(append(baseEnv(t), "TERM=xterm-256color", "COLORTERM=truecolor"), extraEnv...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = slave, slave, slave
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	slave.Close() // the child holds it; EOF (EIO) comes when it exits
	if input != "" {
		if _, err := master.Write([]byte(input)); err != nil {
			t.Fatal(err)
		}
	}
	var out bytes.Buffer
	_, err = io.Copy(&out, master)
	if err != nil && !errors.Is(err, syscall.EIO) {
		t.Fatal(err)
	}
	err = cmd.Wait()
	if exit, ok := err.(*exec.ExitError); ok {
		return out.String(), exit.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return out.String(), 0
}

// openPTY opens a pseudo-terminal pair.
func openPTY() (master, slave *os.File, err error) {
	master, err = os.OpenFile("/dev/ptmx", os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		return nil, nil, err
	}
	fd := int(master.Fd())
	if err := unix.IoctlSetPointerInt(fd, unix.TIOCSPTLCK, 0); err != nil {
		master.Close()
		return nil, nil, fmt.Errorf("unlocking the pty: %w", err)
	}
	n, err := unix.IoctlGetInt(fd, unix.TIOCGPTN)
	if err != nil {
		master.Close()
		return nil, nil, fmt.Errorf("finding the pty's number: %w", err)
	}
	slave, err = os.OpenFile(fmt.Sprintf("/dev/pts/%d", n), os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		master.Close()
		return nil, nil, err
	}
	// 200 columns, so that tables are not wrapped.
	_ = unix.IoctlSetWinsize(int(slave.Fd()), unix.TIOCSWINSZ, &unix.Winsize{Row: 40, Col: 200})
	return master, slave, nil
}

// sameAsJSON fails the test unless -o yaml printed the same object as -o
// json: YAML that parses into exactly the JSON's value, or, when each run
// makes something new (onlyFields), the same fields with the same types.
func sameAsJSON(t *testing.T, jsonOut, yamlOut result, onlyFields bool) {
	t.Helper()
	var fromJSON, fromYAML any
	if err := json.Unmarshal([]byte(jsonOut.stdout), &fromJSON); err != nil || fromJSON == nil {
		t.Errorf("-o json does not parse (%v):\n%s", err, jsonOut)
		return
	}
	// sigs.k8s.io/yaml turns YAML into JSON first: numbers and strings are
	// typed as in JSON, and YAML that is not one object or list fails.
	converted, err := yaml.YAMLToJSON([]byte(yamlOut.stdout))
	if err == nil {
		err = json.Unmarshal(converted, &fromYAML)
	}
	if err != nil || fromYAML == nil {
		t.Errorf("-o yaml does not parse (%v):\n%s", err, yamlOut)
		return
	}
	if _, isObject := fromYAML.(map[string]any); !isObject {
		t.Errorf("-o yaml is not an object:\n%s", yamlOut)
	}
	if onlyFields {
		fromJSON, fromYAML = fieldShape(fromJSON), fieldShape(fromYAML)
	} else {
		fromJSON, fromYAML = unmeasured(fromJSON), unmeasured(fromYAML)
	}
	if !reflect.DeepEqual(fromJSON, fromYAML) {
		t.Errorf("-o yaml and -o json print different objects:\njson: %v\nyaml: %v\n%s\n%s", fromJSON, fromYAML, jsonOut, yamlOut)
	}
}

// measuredFields hold what each run measures anew (verify's duration).
var measuredFields = map[string]bool{"durationNanos": true}

// unmeasured replaces the values of measuredFields by their JSON type.
func unmeasured(v any) any {
	switch v := v.(type) {
	case map[string]any:
		out := map[string]any{}
		for k, e := range v {
			if measuredFields[k] {
				out[k] = fieldShape(e)
			} else {
				out[k] = unmeasured(e)
			}
		}
		return out
	case []any:
		out := make([]any, len(v))
		for i, e := range v {
			out[i] = unmeasured(e)
		}
		return out
	}
	return v
}

// fieldShape replaces every value by its JSON type, keeping the fields of
// objects and of a list's first element.
func fieldShape(v any) any {
	switch v := v.(type) {
	case map[string]any:
		out := map[string]any{}
		for k, e := range v {
			out[k] = fieldShape(e)
		}
		return out
	case []any:
		if len(v) == 0 {
			return "list"
		}
		return []any{fieldShape(v[0])}
	case nil:
		return "null"
	}
	return fmt.Sprintf("%T", v)
}
