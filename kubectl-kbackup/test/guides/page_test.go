package guides

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

// A step is one shell command of a guide, with the output the page shows
// for it, if any.
type step struct {
	// line is where the command starts in the page (1-based).
	line int
	// command is the command as the page writes it: continuation lines and
	// here-documents included, comments of its own line kept.
	command string
	// exitCode is what the command must exit with: 0 unless the page says
	// "exits N" in the command's comment (or a comment line just above it).
	exitCode int
	// want is the output the page shows for the command; shown says
	// whether it shows any (a console block always does, even none).
	want  []string
	shown bool
}

func (s step) String() string { return fmt.Sprintf("line %d: %s", s.line, s.command) }

var (
	fence    = regexp.MustCompile("^(\\s*)```([A-Za-z]*)\\s*$")
	heredoc  = regexp.MustCompile(`<<-?\s*['"]?([A-Za-z_]+)['"]?`)
	exitsRE  = regexp.MustCompile(`\bexits (\d)\b`)
	shellish = map[string]bool{"sh": true, "shell": true, "bash": true}
)

// parsePage reads the fenced blocks of a Markdown page, in order:
//
//   - ```sh, ```shell and ```bash blocks hold commands: one a line, a
//     trailing backslash continues it, a here-document runs to its
//     terminator; blank lines and comment lines are not commands;
//   - ```console blocks hold "$ command" lines, each followed by its output
//     (what follows up to the next "$ " line or the end of the block);
//   - a block with no language right after a shell block (nothing but blank
//     lines between) is the output of that block's last command.
//
// Other blocks (yaml, go, a tree) are not commands.
func parsePage(text string) ([]step, error) {
	lines := strings.Split(text, "\n")
	var steps []step
	lastShellEnd := -2 // line index of the closing fence of the last shell block
	lastShellStep := -1
	for i := 0; i < len(lines); i++ {
		m := fence.FindStringSubmatch(lines[i])
		if m == nil {
			continue
		}
		indent, lang := m[1], m[2]
		start := i
		var body []string
		for i++; i < len(lines) && strings.TrimSpace(lines[i]) != "```"; i++ {
			body = append(body, strings.TrimPrefix(lines[i], indent))
		}
		if i == len(lines) {
			return nil, fmt.Errorf("line %d: a fenced block that does not end", start+1)
		}
		switch {
		case shellish[lang]:
			cmds, err := shellCommands(body, start+2)
			if err != nil {
				return nil, err
			}
			steps = append(steps, cmds...)
			lastShellEnd, lastShellStep = i, len(steps)-1
		case lang == "console":
			cmds, err := consoleCommands(body, start+2)
			if err != nil {
				return nil, err
			}
			steps = append(steps, cmds...)
		case lang == "" && lastShellStep >= 0 && onlyBlank(lines[lastShellEnd+1:start]):
			if steps[lastShellStep].shown {
				return nil, fmt.Errorf("line %d: a second output block for the command of line %d", start+1, steps[lastShellStep].line)
			}
			steps[lastShellStep].want, steps[lastShellStep].shown = body, true
		}
	}
	return steps, nil
}

func onlyBlank(lines []string) bool {
	for _, l := range lines {
		if strings.TrimSpace(l) != "" {
			return false
		}
	}
	return true
}

// shellCommands splits a shell block into commands; first is the page's
// line number of body[0].
func shellCommands(body []string, first int) ([]step, error) {
	var steps []step
	var comments []string // comment lines just above the next command
	for j := 0; j < len(body); j++ {
		line := body[j]
		trimmed := strings.TrimSpace(line)
		switch {
		case trimmed == "":
			comments = nil
			continue
		case strings.HasPrefix(trimmed, "#"):
			comments = append(comments, trimmed)
			continue
		}
		s := step{line: first + j}
		cmd := []string{line}
		for strings.HasSuffix(strings.TrimRight(cmd[len(cmd)-1], " "), "\\") && j+1 < len(body) {
			j++
			cmd = append(cmd, body[j])
		}
		if h := heredoc.FindStringSubmatch(line); h != nil {
			for j++; j < len(body) && strings.TrimSpace(body[j]) != h[1]; j++ {
				cmd = append(cmd, body[j])
			}
			if j == len(body) {
				return nil, fmt.Errorf("line %d: here-document %s does not end in its block", s.line, h[1])
			}
			cmd = append(cmd, body[j])
		}
		s.command = strings.Join(cmd, "\n")
		code, err := exitCode(append(comments, s.command))
		if err != nil {
			return nil, fmt.Errorf("line %d: %w", s.line, err)
		}
		s.exitCode = code
		comments = nil
		steps = append(steps, s)
	}
	return steps, nil
}

// consoleCommands reads "$ command" lines and the output after each.
func consoleCommands(body []string, first int) ([]step, error) {
	var steps []step
	for j := 0; j < len(body); j++ {
		line := body[j]
		if !strings.HasPrefix(line, "$ ") {
			if len(steps) == 0 {
				return nil, fmt.Errorf("line %d: a console block must start with a \"$ \" command line", first+j)
			}
			steps[len(steps)-1].want = append(steps[len(steps)-1].want, line)
			continue
		}
		s := step{line: first + j, shown: true, want: []string{}}
		cmd := []string{strings.TrimPrefix(line, "$ ")}
		for strings.HasSuffix(cmd[len(cmd)-1], "\\") && j+1 < len(body) {
			j++
			cmd = append(cmd, strings.TrimPrefix(body[j], "> "))
		}
		s.command = strings.Join(cmd, "\n")
		code, err := exitCode([]string{s.command})
		if err != nil {
			return nil, fmt.Errorf("line %d: %w", s.line, err)
		}
		s.exitCode = code
		steps = append(steps, s)
	}
	return steps, nil
}

// exitCode reads "exits N" from the comments of a command: the page's way
// of saying that a command ends with a code other than 0 (diff's 3 when
// something differs, a refusal's 1).
func exitCode(texts []string) (int, error) {
	code := 0
	for _, t := range texts {
		_, comment, ok := strings.Cut(t, "#")
		if !ok {
			continue
		}
		if m := exitsRE.FindStringSubmatch(comment); m != nil {
			n, _ := strconv.Atoi(m[1])
			if code != 0 && code != n {
				return 0, fmt.Errorf("two exit codes in the comments: %d and %d", code, n)
			}
			code = n
		}
	}
	return code, nil
}
