package selection

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utilerrors "k8s.io/apimachinery/pkg/util/errors"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

func fieldErrors(t *testing.T, err error) field.ErrorList {
	t.Helper()
	var agg utilerrors.Aggregate
	if !errors.As(err, &agg) {
		t.Fatalf("want field errors, got %v", err)
	}
	var out field.ErrorList
	for _, e := range agg.Errors() {
		fe, ok := e.(*field.Error)
		if !ok {
			t.Fatalf("want only field errors, got %T %v", e, e)
		}
		out = append(out, fe)
	}
	return out
}

func TestValidateNamesEveryField(t *testing.T) {
	s := Selection{
		IncludeNamespaces: []string{"shop", "[bad"},
		ExcludeNamespaces: []string{"ok", "also[bad"},
		IncludeResources:  []string{"deploy", " "},
		LabelSelector:     "a in (b",
		ClusterResources:  "sometimes",
	}
	errs := s.Validate(field.NewPath("spec"))
	var got []string
	for _, e := range errs {
		got = append(got, e.Field)
	}
	want := []string{"spec.include_namespaces[1]", "spec.exclude_namespaces[1]", "spec.include_resources[1]", "spec.label_selector", "spec.cluster_resources"}
	if !slices.Equal(got, want) {
		t.Errorf("fields = %v, want %v", got, want)
	}
	for _, e := range errs {
		switch e.Field {
		case "spec.include_namespaces[1]":
			if !strings.Contains(e.Error(), "team-*") {
				t.Errorf("a bad pattern: say what is accepted: %v", e)
			}
		case "spec.label_selector":
			if !strings.Contains(e.Error(), "key=value") {
				t.Errorf("a bad selector: say what is accepted: %v", e)
			}
		case "spec.cluster_resources":
			if e.Type != field.ErrorTypeNotSupported || !strings.Contains(e.Error(), `"auto", "on", "off"`) {
				t.Errorf("cluster resources: %v", e)
			}
		}
	}
	if errs := (Selection{}).Validate(nil); len(errs) != 0 {
		t.Errorf("the empty selection selects everything: %v", errs)
	}
}

// resolver reads types as a cluster would: a few short names.
func resolver(in string) (string, error) {
	names := map[string]string{"deploy": "deployments.apps", "cm": "configmaps", "crb": "clusterrolebindings.rbac.authorization.k8s.io",
		"sc": "storageclasses.storage.k8s.io", "clusterissuers": "clusterissuers.cert-manager.io"}
	if r, ok := names[in]; ok {
		return r, nil
	}
	return "", fmt.Errorf("no resource type %q", in)
}

func TestCompileResolvesTypesAndNamesTheFailures(t *testing.T) {
	_, err := Selection{IncludeResources: []string{"deploy", "gadgets"}, ExcludeResources: []string{"cm", "widgets"}}.Compile(nil, resolver)
	errs := fieldErrors(t, err)
	if len(errs) != 2 || errs[0].Field != "include_resources[1]" || errs[1].Field != "exclude_resources[1]" ||
		!strings.Contains(errs[0].Error(), `no resource type "gadgets"`) {
		t.Errorf("errors = %v", errs)
	}
	m, err := Selection{IncludeResources: []string{"deploy"}, ExcludeResources: []string{"cm"}}.Compile(nil, resolver)
	if err != nil {
		t.Fatal(err)
	}
	if !m.TypeSelected("deployments.apps") || m.TypeSelected("configmaps") || m.TypeSelected("secrets") {
		t.Error("include and exclude resolve to resource.group names")
	}
	if m.Spec().ClusterResources != ClusterResourcesAuto {
		t.Errorf("ClusterResources defaults to auto, got %q", m.Spec().ClusterResources)
	}
}

// The one rule of cluster-scoped types, for every operation.
func TestTakesTypeClusterScopedRule(t *testing.T) {
	const (
		crb   = "clusterrolebindings.rbac.authorization.k8s.io"
		sc    = "storageclasses.storage.k8s.io"
		ci    = "clusterissuers.cert-manager.io"
		nodes = "nodes"
	)
	compile := func(s Selection) *Matcher {
		m, err := s.Compile(nil, resolver)
		if err != nil {
			t.Fatal(err)
		}
		return m
	}
	for _, tc := range []struct {
		name     string
		sel      Selection
		resource string
		related  bool
		want     bool
	}{
		{"whole cluster takes every cluster-scoped type", Selection{}, nodes, false, true},
		{"excluding namespaces is still a whole cluster", Selection{ExcludeNamespaces: []string{"kube-*"}}, nodes, false, true},
		{"a namespace selection leaves other types out", Selection{IncludeNamespaces: []string{"shop"}}, nodes, true, false},
		{"... but takes related types when the caller narrows them", Selection{IncludeNamespaces: []string{"shop"}}, sc, true, true},
		{"... and not when it cannot", Selection{IncludeNamespaces: []string{"shop"}}, sc, false, false},
		{"... and types named in include_resources", Selection{IncludeNamespaces: []string{"shop"}, IncludeResources: []string{"clusterissuers", "cm"}}, ci, false, true},
		{"on takes every type", Selection{IncludeNamespaces: []string{"shop"}, ClusterResources: ClusterResourcesOn}, nodes, false, true},
		{"off takes none", Selection{ClusterResources: ClusterResourcesOff}, crb, true, false},
		{"off keeps Namespace objects", Selection{ClusterResources: ClusterResourcesOff}, "namespaces", false, true},
		{"exclude_resources wins", Selection{ExcludeResources: []string{"crb"}}, crb, true, false},
		{"namespaced types are not governed by it", Selection{IncludeNamespaces: []string{"shop"}, ClusterResources: ClusterResourcesOff}, "configmaps", false, true},
	} {
		namespaced := tc.resource == "configmaps"
		if got := compile(tc.sel).TakesType(tc.resource, namespaced, tc.related); got != tc.want {
			t.Errorf("%s: TakesType(%s) = %v, want %v", tc.name, tc.resource, got, tc.want)
		}
	}
	m := compile(Selection{IncludeNamespaces: []string{"shop"}, IncludeResources: []string{"crb", "sc", "cm"}})
	if m.NeedsRelated(crb) || !compile(Selection{IncludeNamespaces: []string{"shop"}}).NeedsRelated(crb) {
		t.Error("a related type named in include_resources is taken whole; otherwise it is narrowed to what the namespaces need")
	}
	if !m.TakesPart("configmaps", "shop", true, false) || m.TakesPart("configmaps", "other", true, false) {
		t.Error("TakesPart applies the namespaces to namespaced parts")
	}
}

func TestTakesObject(t *testing.T) {
	m, err := Selection{IncludeNamespaces: []string{"team-*"}, LabelSelector: "app=web"}.Compile(nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	obj := func(name string, labels map[string]string) *unstructured.Unstructured {
		o := &unstructured.Unstructured{Object: map[string]any{}}
		o.SetName(name)
		o.SetLabels(labels)
		return o
	}
	web := map[string]string{"app": "web"}
	for _, tc := range []struct {
		resource, namespace string
		obj                 *unstructured.Unstructured
		want                bool
	}{
		{"configmaps", "team-a", obj("x", web), true},
		{"configmaps", "team-a", obj("x", nil), false},
		{"configmaps", "other", obj("x", web), false},
		{"namespaces", "", obj("team-b", web), true},
		{"namespaces", "", obj("other", web), false},
		{"nodes", "", obj("n1", web), true},
	} {
		if got := m.TakesObject(tc.resource, tc.namespace, tc.obj); got != tc.want {
			t.Errorf("TakesObject(%s, %s/%s) = %v, want %v", tc.resource, tc.namespace, tc.obj.GetName(), got, tc.want)
		}
	}
}
