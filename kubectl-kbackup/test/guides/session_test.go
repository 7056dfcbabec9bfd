package guides

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/creack/pty"

	"github.com/kbackup/kbackup/core/testenv"
)

// A session is a reader following one guide in one shell: what a command
// exports, aliases or cds into stays for the next, as in a terminal.
type session struct {
	t    *testing.T
	page string
	// home is the reader's HOME; work, the directory the commands start in
	// (a checkout of kbackup, $HOME/kbackup, with the built plugin in bin/).
	home, work string
	state      string // the shell's exports, aliases and directory, carried between commands

	// replaced are commands the test runs differently, with the reason:
	// each is what the page's command does, done by the test (see
	// replacement).
	replaced map[string]replacement
	// notRun are commands the test does not run, with the reason.
	notRun map[string]string
	// answers are typed, a line each, on the terminal of a command that asks
	// (restore without --yes, backup delete); such a command runs on a
	// terminal, as it would for the reader.
	answers map[string][]string
	// placeholders are the page's stand-ins for what only the reader knows
	// (credentials, their S3 endpoint), and what the test puts there.
	placeholders map[string]string

	// secrets are credentials no output may hold.
	secrets []string
	// ids maps an example ID of the page to the real ID it stood for in the
	// output that showed it.
	ids map[string]string
	// ran counts the commands run, for the log.
	ran int
}

// replacement is how the test runs a command it cannot run as written.
type replacement struct {
	why string
	run func(s *session)
}

func newSession(t *testing.T, page string) *session {
	home := t.TempDir()
	s := &session{
		t: t, page: page, home: home, work: filepath.Join(home, "kbackup"),
		state:        filepath.Join(t.TempDir(), "state.sh"),
		replaced:     map[string]replacement{},
		notRun:       map[string]string{},
		answers:      map[string][]string{},
		placeholders: map[string]string{},
		ids:          map[string]string{},
	}
	for _, d := range []string{filepath.Join(s.work, "bin"), filepath.Join(home, ".local", "bin"), filepath.Join(home, ".kube")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	// The checkout's bin/, as make build leaves it.
	if err := os.Link(binary, filepath.Join(s.work, "bin", "kubectl-kbackup")); err != nil {
		copyFile(t, binary, filepath.Join(s.work, "bin", "kubectl-kbackup"))
	}
	// A clean user: nothing of the developer's kbackup, AWS or kube
	// settings; kubectl on PATH, and ~/.local/bin where a plugin is
	// installed.
	s.setState(map[string]string{
		"HOME":    home,
		"USER":    "you",
		"LANG":    "C.UTF-8",
		"TERM":    "xterm",
		"PATH":    strings.Join([]string{filepath.Join(home, ".local", "bin"), toolDir, "/usr/local/bin", "/usr/bin", "/bin"}, ":"),
		"GOFLAGS": os.Getenv("GOFLAGS"),
	})
	return s
}

func copyFile(t *testing.T, from, to string) {
	data, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, data, 0o755); err != nil {
		t.Fatal(err)
	}
}

// setState starts the shell's state afresh with these variables, in work.
func (s *session) setState(vars map[string]string) {
	var b strings.Builder
	for k, v := range vars {
		fmt.Fprintf(&b, "export %s=%s\n", k, shellQuote(v))
	}
	fmt.Fprintf(&b, "cd %s\n", shellQuote(s.work))
	if err := os.WriteFile(s.state, []byte(b.String()), 0o600); err != nil {
		s.t.Fatal(err)
	}
}

// export adds variables to the shell's state, as the reader's profile or
// an earlier shell would have.
func (s *session) export(vars map[string]string) {
	f, err := os.OpenFile(s.state, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		s.t.Fatal(err)
	}
	defer f.Close()
	for k, v := range vars {
		fmt.Fprintf(f, "export %s=%s\n", k, shellQuote(v))
	}
}

func shellQuote(v string) string { return "'" + strings.ReplaceAll(v, "'", `'\''`) + "'" }

// env is the shell's environment now, for what the test starts itself.
func (s *session) env() []string {
	out, err := exec.Command("env", "-i", "bash", "-c", "source "+shellQuote(s.state)+" >/dev/null && env -0").Output()
	if err != nil {
		s.t.Fatalf("reading the session's environment: %v", err)
	}
	var vars []string
	for _, kv := range strings.Split(string(out), "\x00") {
		if kv != "" {
			vars = append(vars, kv)
		}
	}
	return vars
}

// cwd is the shell's directory now.
func (s *session) cwd() string {
	out, err := exec.Command("env", "-i", "bash", "-c", "source "+shellQuote(s.state)+" >/dev/null && pwd").Output()
	if err != nil {
		s.t.Fatalf("reading the session's directory: %v", err)
	}
	return strings.TrimSpace(string(out))
}

// key is a command as the tables name it: its text without a trailing
// comment.
func key(command string) string {
	if !strings.Contains(command, "\n") {
		if i := strings.Index(command, " #"); i >= 0 {
			command = command[:i]
		}
	}
	return strings.TrimSpace(command)
}

// follow runs every command of the page in order.
func (s *session) follow() {
	s.t.Helper()
	text, err := os.ReadFile(filepath.Join(docsDir, s.page))
	if err != nil {
		s.t.Fatal(err)
	}
	steps, err := parsePage(string(text))
	if err != nil {
		s.t.Fatalf("%s: %v", s.page, err)
	}
	used := map[string]bool{}
	started := time.Now()
	for _, st := range steps {
		k := key(st.command)
		if why, ok := s.notRun[k]; ok {
			used[k] = true
			s.t.Logf("%s:%d: not run: %s (%s)", s.page, st.line, k, why)
			continue
		}
		if r, ok := s.replaced[k]; ok {
			used[k] = true
			s.t.Logf("%s:%d: %s: %s", s.page, st.line, k, r.why)
			r.run(s)
			continue
		}
		if _, ok := s.answers[k]; ok {
			used[k] = true
		}
		if !s.run(st) {
			// Later commands build on this one.
			s.t.FailNow()
		}
	}
	// A table entry that names no command of the page is stale: the page
	// changed, and the test would not notice what it no longer covers.
	for _, table := range []map[string]bool{keys(s.notRun), keys(s.replaced), keys(s.answers)} {
		for k := range table {
			if !used[k] {
				s.t.Errorf("%s has no command %q, which the test names: update the test", s.page, k)
			}
		}
	}
	s.t.Logf("%s: %d commands run in %s", s.page, s.ran, time.Since(started).Round(time.Second))
}

func keys[V any](m map[string]V) map[string]bool {
	out := map[string]bool{}
	for k := range m {
		out[k] = true
	}
	return out
}

// script wraps a command so that the shell's state comes in from, and
// goes back to, the state file.
func (s *session) script(command string) string {
	return fmt.Sprintf(`shopt -s expand_aliases
source %[1]s
trap 'rc=$?; { export -p | grep -v "^declare -x \(OLDPWD\|PWD\|SHLVL\|_\)="; alias -p; echo "cd $(printf %%q "$PWD")"; } > %[1]s.new && mv %[1]s.new %[1]s; exit $rc' EXIT
%[2]s
`, shellQuote(s.state), command)
}

// run runs one command and checks its exit code and, where the page shows
// it, its output. It returns false when the command did not do what the
// page says it does (an output that differs is an error, but the next
// commands can still run).
func (s *session) run(st step) bool {
	t := s.t
	t.Helper()
	command, err := s.substitute(st.command)
	if err != nil {
		t.Errorf("%s:%d: %s\n%v", s.page, st.line, st.command, err)
		return false
	}
	file := filepath.Join(t.TempDir(), "command.sh")
	if err := os.WriteFile(file, []byte(s.script(command)), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("bash", file)
	cmd.Env = []string{"PATH=/usr/bin:/bin"} // the state file sets the rest
	answers, interactive := s.answers[key(st.command)]
	var out []byte
	started := time.Now()
	if interactive {
		out, err = runOnTerminal(cmd, answers)
	} else {
		var buf bytes.Buffer
		cmd.Stdout, cmd.Stderr = &buf, &buf
		err = cmd.Run()
		out = buf.Bytes()
	}
	s.ran++
	code := 0
	var exit *exec.ExitError
	if errors.As(err, &exit) {
		code = exit.ExitCode()
	} else if err != nil {
		t.Fatalf("%s:%d: running %s: %v", s.page, st.line, st.command, err)
	}
	text := screen(string(out))
	// The page's command is logged, not the one run: that may hold the
	// test server's credentials in place of the page's placeholders.
	t.Logf("%s:%d: $ %s  (exit %d, %s)\n%s", s.page, st.line, st.command, code, time.Since(started).Round(10*time.Millisecond), indent(text))
	for _, secret := range s.secrets {
		if secret != "" && strings.Contains(text, secret) {
			t.Errorf("%s:%d: the output holds a credential of the S3 server", s.page, st.line)
		}
	}
	if code != st.exitCode {
		t.Errorf("%s:%d: %s\nexited %d, the page says it exits %d (say \"# exits N\" in its comment when it should)\n%s", s.page, st.line, st.command, code, st.exitCode, text)
		return false
	}
	if !st.shown {
		return true
	}
	// The reader's HOME is /home/you on the page.
	got := strings.Split(strings.TrimRight(strings.ReplaceAll(text, s.home, "/home/you"), "\n"), "\n")
	if text == "" {
		got = nil
	}
	pairs, err := match(st.want, got)
	if err != nil {
		t.Errorf("%s:%d: %s\n%v", s.page, st.line, st.command, err)
		return true
	}
	for wi, gi := range pairs {
		if err := s.bind(st.want[wi], got[gi]); err != nil {
			t.Errorf("%s:%d: %v", s.page, st.line, err)
		}
	}
	return true
}

// screen is what a terminal shows of a command's output: without colours,
// and of a line that a progress bar rewrote (carriage returns), its last
// state.
func screen(out string) string {
	lines := strings.Split(ansi.ReplaceAllString(strings.ReplaceAll(out, "\r\n", "\n"), ""), "\n")
	for i, l := range lines {
		parts := strings.Split(l, "\r")
		for j := len(parts) - 1; j >= 0; j-- {
			if strings.TrimSpace(parts[j]) != "" {
				lines[i] = parts[j]
				break
			}
		}
	}
	return strings.Join(lines, "\n")
}

var ansi = regexp.MustCompile(`\x1b\[[0-9;?]*[A-Za-z]|\x1b\][^\x07]*\x07`)

func indent(text string) string {
	return "    " + strings.ReplaceAll(strings.TrimRight(text, "\n"), "\n", "\n    ")
}

// bind pairs the IDs of a line of the page with those of the line the
// command printed: from then on the page's example ID stands for the real
// one.
func (s *session) bind(want, got string) error {
	w, g := idRE.FindAllString(want, -1), idRE.FindAllString(got, -1)
	if len(w) != len(g) {
		return fmt.Errorf("the page shows %d IDs where the command printed %d:\n  %s\n  %s", len(w), len(g), want, got)
	}
	for i := range w {
		if real, ok := s.ids[w[i]]; ok && real != g[i] {
			return fmt.Errorf("the page's %s stood for %s, and here for %s: use another example ID", w[i], real, g[i])
		}
		for ex, real := range s.ids {
			if real == g[i] && ex != w[i] {
				return fmt.Errorf("%s is shown as %s here and as %s before: use one example ID", g[i], w[i], ex)
			}
		}
		s.ids[w[i]] = g[i]
	}
	return nil
}

// substitute puts the real IDs and the test's values for the page's
// placeholders into a command.
func (s *session) substitute(command string) (string, error) {
	for from, to := range s.placeholders {
		command = strings.ReplaceAll(command, from, to)
	}
	var missing []string
	command = idRE.ReplaceAllStringFunc(command, func(id string) string {
		real, ok := s.ids[id]
		if !ok {
			missing = append(missing, id)
			return id
		}
		return real
	})
	if len(missing) > 0 {
		return "", fmt.Errorf("names %s, which no output shown before on the page gives: show the output that gives the reader the ID first", strings.Join(missing, ", "))
	}
	return command, nil
}

// runOnTerminal runs a command on a terminal, typing answers a line each,
// and returns everything it wrote (the answers echoed among it).
func runOnTerminal(cmd *exec.Cmd, answers []string) ([]byte, error) {
	tty, err := pty.StartWithSize(cmd, &pty.Winsize{Rows: 50, Cols: 200})
	if err != nil {
		return nil, err
	}
	defer tty.Close()
	var buf testenv.LockedBuffer
	done := make(chan struct{})
	go func() {
		defer close(done)
		chunk := make([]byte, 4096)
		for {
			n, err := tty.Read(chunk)
			_, _ = buf.Write(chunk[:n])
			if err != nil {
				return
			}
		}
	}()
	// Each answer is typed when the command has asked (its output ends in
	// "]: ", as "[y/N]: " does), as a person reads the question first.
	exited := make(chan struct{})
	var waitErr error
	go func() { waitErr = cmd.Wait(); close(exited) }()
	for _, a := range answers {
		asked := false
		for !asked {
			select {
			case <-exited:
				asked = true
			case <-time.After(50 * time.Millisecond):
				asked = strings.HasSuffix(screen(buf.String()), "]: ")
			}
		}
		if _, err := io.WriteString(tty, a+"\n"); err != nil {
			break
		}
		// The next question comes after this answer's echo.
		echoed := len(buf.String())
		for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
			if out := buf.String(); len(out) > echoed && strings.Contains(out[echoed:], "\n") {
				break
			}
		}
	}
	<-exited
	err = waitErr
	_ = tty.Close()
	<-done
	return []byte(buf.String()), err
}

// background is a long-running program the page starts in its own
// terminal (make demo KEEP=1, make dev-env); the test stops it with
// Ctrl-C's signal when the page is done.
type background struct {
	cmd *exec.Cmd
	out *testenv.LockedBuffer
}

// start runs a program in the session's environment and directory until
// the test ends, and waits until its output holds ready.
func (s *session) start(ready string, name string, args ...string) *background {
	t := s.t
	cmd := exec.Command(name, args...)
	cmd.Env, cmd.Dir = append(s.env(), makeEnv...), s.cwd()
	out := &testenv.LockedBuffer{}
	cmd.Stdout, cmd.Stderr = out, out
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	var waitErr error
	go func() { waitErr = cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(os.Interrupt)
		select {
		case <-exited:
		case <-time.After(time.Minute):
			_ = cmd.Process.Kill()
			<-exited
		}
	})
	deadline := time.After(5 * time.Minute)
	for !strings.Contains(out.String(), ready) {
		select {
		case <-exited:
			t.Fatalf("%s exited (%v) before it was ready:\n%s", filepath.Base(name), waitErr, out)
		case <-deadline:
			t.Fatalf("%s not ready after 5 minutes:\n%s", filepath.Base(name), out)
		case <-time.After(100 * time.Millisecond):
		}
	}
	return &background{cmd: cmd, out: out}
}

// runProgram runs a program to its end in the session's environment and
// directory; it must succeed.
func (s *session) runProgram(name string, args ...string) string {
	cmd := exec.Command(name, args...)
	cmd.Env, cmd.Dir = append(s.env(), makeEnv...), s.cwd()
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM}
	out, err := cmd.CombinedOutput()
	if err != nil {
		s.t.Fatalf("%s %s: %v\n%s", filepath.Base(name), strings.Join(args, " "), err, out)
	}
	return string(out)
}
