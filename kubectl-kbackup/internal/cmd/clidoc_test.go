package cmd

import (
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"
)

// cliReference is the command reference that `make docs-check` holds to the
// command tree.
const cliReference = "../../../docs/cli.md"

var (
	// A command's section: ## `backup get ID|latest TYPE/NAME` (…).
	sectionHeading = regexp.MustCompile("(?m)^## `([^`]+)`")
	// A long flag named in the text: --name, --name=value, --name|…
	longFlag = regexp.MustCompile("(?:^|[\\s`(,/|])--([a-z][a-z0-9-]*)")
	// A shorthand at the start of a code span: `-n NAMESPACE`, `-A`.
	shortFlag = regexp.MustCompile("`-([a-zA-Z])[\\s`,=/]")
)

// docSection is the text of one command's section of docs/cli.md.
type docSection struct {
	path, text string
}

// TestCLIReferenceMatchesCommandTree fails when docs/cli.md lacks a section
// for a command of the tree, or a command's section does not name one of its
// own flags, or when the document names a command or flag the tree lacks.
// kubectl's connection flags (--kubeconfig, --context, …) are documented as
// kubectl's, by reference; the ones it names must still exist.
func TestCLIReferenceMatchesCommandTree(t *testing.T) {
	data, err := os.ReadFile(cliReference)
	if err != nil {
		t.Fatal(err)
	}
	doc := string(data)
	streams, _, _, _ := genericiooptions.NewTestIOStreams()
	root := NewCmdKbackup(streams)
	sections := commandSections(doc)

	kubectlFlags := pflag.NewFlagSet("kubectl", pflag.ContinueOnError)
	genericclioptions.NewConfigFlags(true).AddFlags(kubectlFlags)

	// Every command has a section naming each of its own flags.
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		for _, sub := range c.Commands() {
			if sub.IsAvailableCommand() {
				walk(sub)
			}
		}
		if !c.HasParent() {
			return
		}
		if c.Name() == "completion" || c.HasParent() && c.Parent().Name() == "completion" {
			return // cobra's: its paragraph and the generated reference document it
		}
		path := c.Name()
		for p := c.Parent(); p.HasParent(); p = p.Parent() {
			path = p.Name() + " " + path
		}
		own := c.LocalNonPersistentFlags()
		if c.HasAvailableSubCommands() && !own.HasAvailableFlags() {
			return // a group: its commands have the sections
		}
		s, ok := sections[path]
		if !ok {
			t.Errorf("docs/cli.md has no section for the command %q", path)
			return
		}
		own.VisitAll(func(f *pflag.Flag) {
			if f.Hidden || f.Name == "help" {
				return
			}
			if !namesFlag(s.text, f) {
				t.Errorf("docs/cli.md's section of %q does not name its flag --%s", path, f.Name)
			}
		})
	}
	walk(root)

	// The global section names every global flag of kbackup's own.
	global := globalSection(doc)
	root.PersistentFlags().VisitAll(func(f *pflag.Flag) {
		if kubectlFlags.Lookup(f.Name) == nil && !namesFlag(global, f) {
			t.Errorf("docs/cli.md's global flags do not name --%s", f.Name)
		}
	})

	// Every command named has a section's command, and every flag named in
	// a section exists on its command; elsewhere, on some command.
	for path, s := range sections {
		c, args, err := root.Find(strings.Fields(path))
		if err != nil || len(args) > 0 || c == root {
			t.Errorf("docs/cli.md has a section for %q, which is not a command", path)
			continue
		}
		for _, name := range flagsNamed(s.text) {
			if c.Flags().Lookup(name) == nil && c.InheritedFlags().Lookup(name) == nil && (len(name) != 1 || c.Flags().ShorthandLookup(name) == nil && c.InheritedFlags().ShorthandLookup(name) == nil) {
				t.Errorf("docs/cli.md's section of %q names a flag %s that the command lacks", path, flagText(name))
			}
		}
	}
	all := map[string]bool{}
	var collect func(c *cobra.Command)
	collect = func(c *cobra.Command) {
		c.Flags().VisitAll(func(f *pflag.Flag) { all[f.Name], all[f.Shorthand] = true, true })
		c.InheritedFlags().VisitAll(func(f *pflag.Flag) { all[f.Name], all[f.Shorthand] = true, true })
		for _, sub := range c.Commands() {
			collect(sub)
		}
	}
	collect(root)
	kubectlFlags.VisitAll(func(f *pflag.Flag) { all[f.Name], all[f.Shorthand] = true, true })
	all["help"] = true // cobra's, on every command
	for _, name := range flagsNamed(doc) {
		if !all[name] {
			t.Errorf("docs/cli.md names a flag %s that no command has", flagText(name))
		}
	}
}

// commandSections maps each command path of a heading ("backup get") to its
// section: the words of the heading before its first argument.
func commandSections(doc string) map[string]docSection {
	out := map[string]docSection{}
	locs := sectionHeading.FindAllStringSubmatchIndex(doc, -1)
	for i, loc := range locs {
		end := len(doc)
		if i+1 < len(locs) {
			end = locs[i+1][0]
		} else if next := strings.Index(doc[loc[1]:], "\n## "); next >= 0 {
			end = loc[1] + next
		}
		var words []string
		for _, w := range strings.Fields(doc[loc[2]:loc[3]]) {
			if w != strings.ToLower(w) || strings.ContainsAny(w, "[(|") {
				break
			}
			words = append(words, w)
		}
		path := strings.Join(words, " ")
		out[path] = docSection{path: path, text: doc[loc[0]:end]}
	}
	return out
}

// globalSection is the text of "## Global flags".
func globalSection(doc string) string {
	start := strings.Index(doc, "\n## Global flags")
	if start < 0 {
		return ""
	}
	end := strings.Index(doc[start+1:], "\n## ")
	if end < 0 {
		return doc[start:]
	}
	return doc[start : start+1+end]
}

// namesFlag says whether text names f, by its name or its shorthand.
func namesFlag(text string, f *pflag.Flag) bool {
	named := flagsNamed(text)
	return slices.Contains(named, f.Name) || f.Shorthand != "" && slices.Contains(named, f.Shorthand)
}

// flagsNamed lists the long flags and shorthands named in text.
func flagsNamed(text string) []string {
	var names []string
	for _, m := range longFlag.FindAllStringSubmatch(text, -1) {
		names = append(names, m[1])
	}
	for _, m := range shortFlag.FindAllStringSubmatch(text, -1) {
		names = append(names, m[1])
	}
	slices.Sort(names)
	return slices.Compact(names)
}

func flagText(name string) string {
	if len(name) == 1 {
		return "-" + name
	}
	return "--" + name
}
