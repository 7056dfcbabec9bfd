// Package image checks the rules of the kubectl-kbackup container image by
// parsing its Dockerfile with BuildKit's own parser: a machine without a
// container builder still checks them.
package image

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/moby/buildkit/frontend/dockerfile/parser"
)

// instruction is one line of the Dockerfile, in the stage it belongs to.
type instruction struct {
	stage int
	cmd   string // lower case: from, run, user, entrypoint, ...
	args  []string
	json  bool // exec form: ["a", "b"]
	line  int
}

func parseDockerfile(t *testing.T) []instruction {
	t.Helper()
	f, err := os.Open(filepath.Join("..", "..", "..", "Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	res, err := parser.Parse(f)
	if err != nil {
		t.Fatalf("parsing the Dockerfile: %v", err)
	}
	var out []instruction
	stage := -1
	for _, n := range res.AST.Children {
		cmd := strings.ToLower(n.Value)
		if cmd == "from" {
			stage++
		}
		var args []string
		for a := n.Next; a != nil; a = a.Next {
			args = append(args, a.Value)
		}
		out = append(out, instruction{stage: stage, cmd: cmd, args: args, json: n.Attributes["json"], line: n.StartLine})
	}
	return out
}

func TestDockerfileRules(t *testing.T) {
	ins := parseDockerfile(t)
	final := ins[len(ins)-1].stage
	var from, user, entrypoint *instruction
	for i := range ins {
		in := &ins[i]
		if in.stage != final {
			if in.cmd == "run" && strings.Contains(strings.Join(in.args, " "), "go build") &&
				!strings.Contains(strings.Join(in.args, " "), "CGO_ENABLED=0") {
				t.Errorf("line %d: the binary is built without CGO_ENABLED=0; the final image has no libc for it", in.line)
			}
			continue
		}
		switch in.cmd {
		case "from":
			from = in
		case "user":
			user = in
		case "entrypoint":
			entrypoint = in
		case "run", "shell", "cmd":
			// A RUN or a shell-form command needs /bin/sh, which the image
			// must not need.
			if in.cmd != "cmd" || !in.json {
				t.Errorf("line %d: %s in the final stage needs a shell; the image has none", in.line, strings.ToUpper(in.cmd))
			}
		case "add":
			t.Errorf("line %d: ADD in the final stage; copy files from the build stage with COPY --from", in.line)
		}
	}
	if from == nil || len(from.args) == 0 {
		t.Fatal("no final FROM")
	}
	if base := from.args[0]; base != "scratch" && !strings.HasPrefix(base, "gcr.io/distroless/static") {
		t.Errorf("final stage FROM %s: want scratch or gcr.io/distroless/static (no shell, no package manager)", base)
	}
	if user == nil {
		t.Error("the final stage sets no USER: the container would run as root")
	} else {
		uid, _, _ := strings.Cut(user.args[0], ":")
		if uid == "0" || uid == "root" || strings.Trim(uid, "0123456789") != "" {
			t.Errorf("line %d: USER %s: want a numeric non-root user (65532:65532), which runAsNonRoot can check", user.line, user.args[0])
		}
	}
	if entrypoint == nil {
		t.Fatal("the final stage has no ENTRYPOINT")
	}
	if !entrypoint.json || len(entrypoint.args) != 1 || filepath.Base(entrypoint.args[0]) != "kubectl-kbackup" {
		t.Errorf(`line %d: ENTRYPOINT %v: want the exec form ["/kubectl-kbackup"], which needs no shell`, entrypoint.line, entrypoint.args)
	}
}
