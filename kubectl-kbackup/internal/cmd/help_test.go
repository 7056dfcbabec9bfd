package cmd

import (
	"bytes"
	"strings"
	"testing"

	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericiooptions"
)

// TestEveryCommandTeaches fails on a command of the tree, as `kubectl
// kbackup` shows it (the completion commands included), without a short
// description, a long one or examples, or whose examples are not written as
// kubectl writes them (each group of lines led by a "# comment", every
// command indented by two spaces and starting with `kubectl kbackup`), or
// name a command or flag that does not exist: each example line is parsed
// by a fresh tree as the shell would split it.
func TestEveryCommandTeaches(t *testing.T) {
	streams, _, _, _ := genericiooptions.NewTestIOStreams()
	root := NewCmdKbackup(streams)
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		path := c.CommandPath()
		if c.Short == "" {
			t.Errorf("%s has no Short description", path)
		}
		if c.Long == "" {
			t.Errorf("%s has no Long description", path)
		}
		if c.Example == "" {
			t.Errorf("%s has no Example", path)
		}
		checkExamples(t, c)
		for _, sub := range c.Commands() {
			if sub.IsAvailableCommand() {
				walk(sub)
			}
		}
	}
	walk(root)
}

// checkExamples checks the form of c's examples, and that each command line
// of them finds c or one of its subcommands and parses its flags.
func checkExamples(t *testing.T, c *cobra.Command) {
	t.Helper()
	path := c.CommandPath()
	lines := strings.Split(c.Example, "\n")
	leadsGroup := true // the first line, and the first after a blank one
	for i, line := range lines {
		if strings.TrimSpace(line) == "" {
			leadsGroup = true
			continue
		}
		if !strings.HasPrefix(line, "  ") || strings.HasPrefix(line, "   ") {
			t.Errorf("%s: example line %d is not indented by two spaces: %q", path, i+1, line)
			continue
		}
		text := strings.TrimPrefix(line, "  ")
		if strings.HasPrefix(text, "#") {
			leadsGroup = false
			continue
		}
		if leadsGroup {
			t.Errorf("%s: example line %d is not led by a \"# comment\" saying what it does: %q", path, i+1, line)
		}
		leadsGroup = false
		if !strings.HasPrefix(text, "kubectl kbackup ") && text != "kubectl kbackup" {
			t.Errorf("%s: example line %d does not start with `kubectl kbackup`: %q", path, i+1, line)
			continue
		}
		if !strings.HasPrefix(text+" ", path+" ") {
			t.Errorf("%s: example line %d runs another command: %q", path, i+1, line)
		}
		words, err := shellWords(strings.TrimPrefix(text, "kubectl kbackup"))
		if err != nil {
			t.Errorf("%s: example line %d: %v", path, i+1, err)
			continue
		}
		// A fresh tree for each line: parsing sets the flags' values.
		fresh := NewCmdKbackup(genericiooptions.IOStreams{In: &bytes.Buffer{}, Out: &bytes.Buffer{}, ErrOut: &bytes.Buffer{}})
		fresh.InitDefaultHelpCmd()
		found, rest, err := fresh.Find(words)
		if err != nil {
			t.Errorf("%s: example line %d names no command: %v", path, i+1, err)
			continue
		}
		if err := found.ParseFlags(rest); err != nil {
			t.Errorf("%s: example line %d: %v", path, i+1, err)
			continue
		}
		if err := found.ValidateArgs(found.Flags().Args()); err != nil && found.Runnable() {
			t.Errorf("%s: example line %d: %v", path, i+1, err)
		}
	}
}

// shellWords splits an example's command line as a POSIX shell would, with
// single and double quotes, and stops at what ends the command (a pipe, a
// redirection, a list operator or a comment).
func shellWords(line string) ([]string, error) {
	var (
		words  []string
		word   strings.Builder
		inWord bool
		quote  rune
	)
	for _, r := range line {
		switch {
		case quote != 0:
			if r == quote {
				quote = 0
			} else {
				word.WriteRune(r)
			}
		case r == '\'' || r == '"':
			quote, inWord = r, true
		case r == ' ' || r == '\t':
			if inWord {
				words, inWord = append(words, word.String()), false
				word.Reset()
			}
		case strings.ContainsRune("|><;&#", r) && !inWord:
			return words, nil
		default:
			word.WriteRune(r)
			inWord = true
		}
	}
	if quote != 0 {
		return nil, errUnclosedQuote
	}
	if inWord {
		words = append(words, word.String())
	}
	return words, nil
}

var errUnclosedQuote = errorString("an example has an unclosed quote")

type errorString string

func (e errorString) Error() string { return string(e) }

// TestShellWords checks the splitter the examples are read with.
func TestShellWords(t *testing.T) {
	for line, want := range map[string]string{
		` backup create -n shop`:                      "backup|create|-n|shop",
		` export --selector 'app in (web, api)' -n a`: "export|--selector|app in (web, api)|-n|a",
		` backup list -o json | jq '.items[].id'`:     "backup|list|-o|json",
		` completion bash > /etc/bash_completion.d/x`: "completion|bash",
		` diff -n "my shop" # a comment`:              "diff|-n|my shop",
	} {
		words, err := shellWords(line)
		if err != nil {
			t.Fatal(err)
		}
		if got := strings.Join(words, "|"); got != want {
			t.Errorf("shellWords(%q) = %q, want %q", line, got, want)
		}
	}
	if _, err := shellWords(` restore -n 'shop`); err == nil {
		t.Error("an unclosed quote is accepted")
	}
}

// TestRootShowsWorkflows runs `kubectl kbackup` alone: it shows the common
// workflows, each as a command to copy, and exits 0.
func TestRootShowsWorkflows(t *testing.T) {
	streams, _, out, _ := genericiooptions.NewTestIOStreams()
	root := NewCmdKbackup(streams)
	root.SetArgs(nil)
	if err := root.Execute(); err != nil {
		t.Fatal(err)
	}
	for _, workflow := range []string{
		"kubectl kbackup backup create\n",
		"kubectl kbackup backup list\n",
		"kubectl kbackup restore latest --from-cluster prod-eu -n shop --dry-run\n",
		"kubectl kbackup diff -n shop\n",
		"kubectl kbackup verify --all\n",
		"kubectl kbackup backup create --fleet\n",
		"kubectl kbackup clusters\n",
		"kubectl kbackup export --output ./gitops",
		"kubectl kbackup serve --scheduler\n",
	} {
		if !strings.Contains(out.String(), workflow) {
			t.Errorf("kubectl kbackup alone does not show %q; it shows:\n%s", strings.TrimSpace(workflow), out)
		}
	}
}
