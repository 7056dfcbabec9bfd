package selection

import (
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/labels"
)

func TestNamespaces(t *testing.T) {
	n, err := NewNamespaces([]string{"team-*", "payments"}, []string{"team-scratch"})
	if err != nil {
		t.Fatal(err)
	}
	for ns, want := range map[string]bool{"team-a": true, "payments": true, "team-scratch": false, "kube-system": false} {
		if got := n.Match(ns); got != want {
			t.Errorf("Match(%q) = %v, want %v", ns, got, want)
		}
	}
	if n.All() {
		t.Error("an include list does not select every namespace")
	}
	if _, ok := n.Exact(10); ok {
		t.Error("a pattern is not an exact namespace list")
	}
	exact, _ := NewNamespaces([]string{"b", "a", "a"}, []string{"b"})
	if names, ok := exact.Exact(10); !ok || strings.Join(names, ",") != "a" {
		t.Errorf("Exact = %v, %v; want [a]", names, ok)
	}
	if _, ok := exact.Exact(1); ok {
		t.Error("more names than max: not exact")
	}
	all, _ := NewNamespaces(nil, []string{"kube-*"})
	if !all.All() || all.Match("kube-system") || !all.Match("default") {
		t.Error("no include list selects every namespace but the excluded ones")
	}
	star, _ := NewNamespaces([]string{"*"}, nil)
	if !star.All() {
		t.Error(`"*" selects every namespace`)
	}
	if _, err := NewNamespaces([]string{"[bad"}, nil); err == nil || !strings.Contains(err.Error(), `"[bad"`) || !strings.Contains(err.Error(), "team-*") {
		t.Errorf("a malformed pattern: want an error naming it and what is accepted, got %v", err)
	}
}

func TestParseLabelSelector(t *testing.T) {
	sel, err := ParseLabelSelector("app=web,tier!=cache")
	if err != nil {
		t.Fatal(err)
	}
	if !sel.Matches(labels.Set{"app": "web", "tier": "front"}) || sel.Matches(labels.Set{"app": "web", "tier": "cache"}) {
		t.Errorf("selector %s matches wrongly", sel)
	}
	if all, err := ParseLabelSelector(""); err != nil || !all.Empty() {
		t.Errorf(`"" should select everything: %v, %v`, all, err)
	}
	if _, err := ParseLabelSelector("a in (b"); err == nil || !strings.Contains(err.Error(), "key=value") {
		t.Errorf("bad selector: want an error saying what is accepted, got %v", err)
	}
}
