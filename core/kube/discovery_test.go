package kube_test

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/kbackup/kbackup/core/kube"
)

// Discovery of a bare cluster returns the built-in listable resources, each
// once in its preferred version, without subresources or create-only APIs,
// and resolves what users type for --include-resources.
func TestDiscoverBuiltinResources(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	c := newClient(t, plain.Config(), "plain")

	rs, err := c.Discover(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(rs.Failed) != 0 {
		t.Errorf("Failed = %v, want none on a cluster without aggregated APIs", rs.Failed)
	}
	if rs.Items[0].Group != "" {
		t.Errorf("first resource %s is not of the core group", rs.Items[0])
	}

	deploy, ok := rs.Lookup(schema.GroupResource{Group: "apps", Resource: "deployments"})
	if !ok {
		t.Fatal("deployments.apps not discovered")
	}
	want := kube.Resource{Group: "apps", Version: "v1", Resource: "deployments", Kind: "Deployment", Namespaced: true, Builtin: true}
	if deploy.GroupVersionResource() != want.GroupVersionResource() || deploy.Kind != want.Kind ||
		!deploy.Namespaced || !deploy.Builtin || deploy.String() != "deployments.apps" {
		t.Errorf("deployments.apps = %+v", deploy)
	}
	if !slices.Contains(deploy.ShortNames, "deploy") || !deploy.HasVerb("list") || !deploy.HasVerb("get") {
		t.Errorf("deployments.apps short names %v, verbs %v", deploy.ShortNames, deploy.Verbs)
	}
	if ns, ok := rs.Lookup(schema.GroupResource{Resource: "namespaces"}); !ok || ns.Namespaced || ns.String() != "namespaces" {
		t.Errorf("namespaces = %+v, %v; want a cluster-scoped core resource", ns, ok)
	}
	if rs.PreferredVersions["apps"] != "v1" || rs.PreferredVersions[""] != "v1" {
		t.Errorf("PreferredVersions = %v", rs.PreferredVersions)
	}

	seen := map[schema.GroupResource]bool{}
	for _, r := range rs.Items {
		if seen[r.GroupResource()] {
			t.Errorf("%s listed twice", r)
		}
		seen[r.GroupResource()] = true
		if strings.Contains(r.Resource, "/") {
			t.Errorf("subresource %s listed", r)
		}
		if !r.HasVerb("list") || !r.HasVerb("get") {
			t.Errorf("%s listed without list and get: %v", r, r.Verbs)
		}
	}
	for _, absent := range []schema.GroupResource{
		{Resource: "bindings"}, // create only
		{Group: "authentication.k8s.io", Resource: "tokenreviews"}, // create only
		{Resource: "pods/log"},
	} {
		if seen[absent] {
			t.Errorf("%s listed, but it cannot be listed", absent)
		}
	}

	if r, ok := rs.LookupKind(schema.GroupKind{Group: "apps", Kind: "StatefulSet"}); !ok || r.Resource != "statefulsets" {
		t.Errorf("LookupKind(StatefulSet.apps) = %v, %v", r, ok)
	}
	if _, ok := rs.LookupKind(schema.GroupKind{Kind: "Deployment"}); ok {
		t.Error("LookupKind found a Deployment in the core group")
	}

	for input, want := range map[string]string{
		"deploy":                      "deployments.apps",
		"deployments":                 "deployments.apps",
		"deployment":                  "deployments.apps",
		"Deployment":                  "deployments.apps",
		"deployments.apps":            "deployments.apps",
		"deploy.apps":                 "deployments.apps",
		"Deployment.apps":             "deployments.apps",
		"deployments.v1.apps":         "deployments.apps",
		" cm ":                        "configmaps",
		"configmaps":                  "configmaps",
		"ConfigMap":                   "configmaps",
		"ns":                          "namespaces",
		"svc":                         "services",
		"events":                      "events", // the core group before events.k8s.io
		"events.events.k8s.io":        "events.events.k8s.io",
		"ev":                          "events",
		"crd":                         "customresourcedefinitions.apiextensions.k8s.io",
		"clusterrolebindings":         "clusterrolebindings.rbac.authorization.k8s.io",
		"pvc":                         "persistentvolumeclaims",
		"cronjob.batch":               "cronjobs.batch",
		"ingresses.networking.k8s.io": "ingresses.networking.k8s.io",
	} {
		r, err := rs.ResolveUserInput(input)
		if err != nil {
			t.Errorf("ResolveUserInput(%q): %v", input, err)
			continue
		}
		if r.String() != want {
			t.Errorf("ResolveUserInput(%q) = %s, want %s", input, r, want)
		}
	}

	for input, suggestion := range map[string]string{
		"deploymnets":      "deployments.apps",
		"deploymnts.apps":  "deployments.apps",
		"configmap.apps":   "configmaps",
		"secretz":          "secrets",
		"statefulsets.app": "statefulsets.apps",
	} {
		_, err := rs.ResolveUserInput(input)
		if !errors.Is(err, kube.ErrUnknownResource) {
			t.Errorf("ResolveUserInput(%q): want ErrUnknownResource, got %v", input, err)
			continue
		}
		if !strings.Contains(err.Error(), fmt.Sprintf("%q", input)) || !strings.Contains(err.Error(), "did you mean "+suggestion) {
			t.Errorf("ResolveUserInput(%q) error %q should name the input and suggest %s", input, err, suggestion)
		}
	}
	_, err = rs.ResolveUserInput("zzzqqq")
	if !errors.Is(err, kube.ErrUnknownResource) || strings.Contains(err.Error(), "did you mean") ||
		!strings.Contains(err.Error(), "short name or kind") {
		t.Errorf("ResolveUserInput(zzzqqq) = %v; want an error saying what is accepted, without a suggestion", err)
	}

	got, err := rs.ResolveAll([]string{"cm", "deploy", "configmaps", "nope", "secretz"})
	if len(got) != 2 || got[0].String() != "configmaps" || got[1].String() != "deployments.apps" {
		t.Errorf("ResolveAll resources = %v", got)
	}
	if err == nil || !strings.Contains(err.Error(), `"nope"`) || !strings.Contains(err.Error(), `"secretz"`) {
		t.Errorf("ResolveAll error %v should name both unknown inputs", err)
	}
}

// A CRD registered in the cluster is discovered like a built-in resource:
// preferred version, scope, names, and not protobuf-capable.
func TestDiscoverCustomResource(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	apply(t, ctx, plain, `
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: widgets.example.kbackup.io
spec:
  group: example.kbackup.io
  scope: Namespaced
  names:
    plural: widgets
    singular: widget
    kind: Widget
    shortNames: [wdg]
    categories: [all]
  versions:
  - name: v1
    served: true
    storage: true
    schema:
      openAPIV3Schema:
        type: object
        x-kubernetes-preserve-unknown-fields: true
  - name: v1beta1
    served: true
    storage: false
    schema:
      openAPIV3Schema:
        type: object
        x-kubernetes-preserve-unknown-fields: true
`)
	waitEstablished(t, ctx, plain, "widgets.example.kbackup.io")

	c := newClient(t, plain.Config(), "plain")
	var rs *kube.Resources
	eventually(t, ctx, "widgets in discovery", func() error {
		var err error
		rs, err = c.Discover(ctx)
		if err != nil {
			return err
		}
		if _, ok := rs.Lookup(schema.GroupResource{Group: "example.kbackup.io", Resource: "widgets"}); !ok {
			return errors.New("not discovered yet")
		}
		return nil
	})
	w, _ := rs.Lookup(schema.GroupResource{Group: "example.kbackup.io", Resource: "widgets"})
	if w.Version != "v1" || w.Kind != "Widget" || !w.Namespaced || w.Builtin || w.String() != "widgets.example.kbackup.io" {
		t.Errorf("widgets = %+v; want v1, Widget, namespaced, not builtin", w)
	}
	if rs.PreferredVersions["example.kbackup.io"] != "v1" {
		t.Errorf("preferred version of example.kbackup.io = %q, want v1", rs.PreferredVersions["example.kbackup.io"])
	}
	for _, input := range []string{"wdg", "widget", "widgets", "Widget", "widgets.example.kbackup.io", "widgets.v1beta1.example.kbackup.io"} {
		if r, err := rs.ResolveUserInput(input); err != nil || r.GroupResource() != w.GroupResource() {
			t.Errorf("ResolveUserInput(%q) = %v, %v", input, r, err)
		}
	}
	if r, ok := rs.LookupKind(schema.GroupKind{Group: "example.kbackup.io", Kind: "Widget"}); !ok || r.Resource != "widgets" {
		t.Errorf("LookupKind(Widget) = %v, %v", r, ok)
	}
	n := 0
	for _, r := range rs.Items {
		if r.Group == "example.kbackup.io" {
			n++
		}
	}
	if n != 1 {
		t.Errorf("widgets listed %d times, want once across its two versions", n)
	}
}

// An aggregated API whose service does not exist is reported as failed,
// and discovery returns everything else.
func TestDiscoverReportsFailedAggregatedAPI(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	apply(t, ctx, labelled, `
apiVersion: apiregistration.k8s.io/v1
kind: APIService
metadata:
  name: v1alpha1.metrics.broken.kbackup.io
spec:
  group: metrics.broken.kbackup.io
  version: v1alpha1
  service:
    namespace: default
    name: no-such-service
    port: 443
  insecureSkipTLSVerify: true
  groupPriorityMinimum: 1000
  versionPriority: 15
`)
	c := newClient(t, labelled.Config(), "labelled")
	broken := schema.GroupVersion{Group: "metrics.broken.kbackup.io", Version: "v1alpha1"}
	var rs *kube.Resources
	eventually(t, ctx, "the broken API to be reported", func() error {
		var err error
		rs, err = c.Discover(ctx)
		if err != nil {
			return err
		}
		if rs.Failed[broken] == nil {
			return fmt.Errorf("Failed = %v", rs.Failed)
		}
		return nil
	})
	t.Logf("failed: %v", rs.Failed[broken])
	if len(rs.Failed) != 1 {
		t.Errorf("Failed = %v, want only %s", rs.Failed, broken)
	}
	for _, gr := range []schema.GroupResource{{Resource: "configmaps"}, {Group: "apps", Resource: "deployments"}, {Group: "apiregistration.k8s.io", Resource: "apiservices"}} {
		if _, ok := rs.Lookup(gr); !ok {
			t.Errorf("%s missing while only %s failed", gr, broken)
		}
	}
	for _, r := range rs.Items {
		if r.Group == broken.Group {
			t.Errorf("resource %s of the failed group listed", r)
		}
	}
}
