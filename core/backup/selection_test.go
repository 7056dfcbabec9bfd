package backup

import (
	"os"
	"strings"
	"testing"
)

// docs/backup.md lists every default exclusion with its reason, so users
// can find out why a type is missing from their backup.
func TestDefaultExclusionsAreDocumented(t *testing.T) {
	doc, err := os.ReadFile("../../docs/backup.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range DefaultExclusions {
		row := "| `" + e.GroupResource.String() + "` | "
		if !strings.Contains(string(doc), row) {
			t.Errorf("docs/backup.md has no row for %s", e.GroupResource)
		}
		if e.Reason == "" {
			t.Errorf("%s is excluded without a reason", e.GroupResource)
		}
	}
}

func TestNamespaceFilter(t *testing.T) {
	f, err := newNamespaceFilter([]string{"team-*", "payments"}, []string{"team-scratch"})
	if err != nil {
		t.Fatal(err)
	}
	for ns, want := range map[string]bool{"team-a": true, "payments": true, "team-scratch": false, "kube-system": false} {
		if got := f.matches(ns); got != want {
			t.Errorf("matches(%q) = %v, want %v", ns, got, want)
		}
	}
	if f.allNamespaces() {
		t.Error("an include list does not select every namespace")
	}
	if _, ok := f.exactNamespaces(10); ok {
		t.Error("a pattern is not an exact namespace list")
	}
	exact, _ := newNamespaceFilter([]string{"b", "a", "a"}, []string{"b"})
	if names, ok := exact.exactNamespaces(10); !ok || strings.Join(names, ",") != "a" {
		t.Errorf("exactNamespaces = %v, %v; want [a]", names, ok)
	}
	all, _ := newNamespaceFilter(nil, []string{"kube-*"})
	if !all.allNamespaces() || all.matches("kube-system") || !all.matches("default") {
		t.Error("no include list selects every namespace but the excluded ones")
	}
	if _, err := newNamespaceFilter([]string{"[bad"}, nil); err == nil {
		t.Error("a malformed pattern is an error")
	}
}
