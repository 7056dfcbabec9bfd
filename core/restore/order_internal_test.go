package restore

import (
	"errors"
	"os"
	"slices"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	utilerrors "k8s.io/apimachinery/pkg/util/errors"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/kbackup/kbackup/core/selection"
)

func TestStageOf(t *testing.T) {
	tests := []struct {
		gr                  schema.GroupResource
		builtin, namespaced bool
		want                Stage
	}{
		{schema.GroupResource{Group: "apiextensions.k8s.io", Resource: "customresourcedefinitions"}, true, false, StageCRDs},
		{schema.GroupResource{Resource: "namespaces"}, true, false, StageNamespaces},
		{schema.GroupResource{Group: "storage.k8s.io", Resource: "storageclasses"}, true, false, StageClusterConfig},
		{schema.GroupResource{Group: "rbac.authorization.k8s.io", Resource: "clusterroles"}, true, false, StageClusterConfig},
		{schema.GroupResource{Resource: "serviceaccounts"}, true, true, StageServiceAccounts},
		{schema.GroupResource{Resource: "secrets"}, true, true, StageConfig},
		{schema.GroupResource{Group: "rbac.authorization.k8s.io", Resource: "clusterrolebindings"}, true, false, StageRBAC},
		{schema.GroupResource{Resource: "persistentvolumes"}, true, false, StageStorage},
		{schema.GroupResource{Resource: "services"}, true, true, StageNetwork},
		{schema.GroupResource{Group: "apps", Resource: "deployments"}, true, true, StageWorkloads},
		{schema.GroupResource{Group: "networking.k8s.io", Resource: "ingresses"}, true, true, StageWorkloadDependents},
		{schema.GroupResource{Group: "apps", Resource: "controllerrevisions"}, true, true, StageOther},
		{schema.GroupResource{Group: "example.com", Resource: "widgets"}, false, true, StageCustomResources},
		{schema.GroupResource{Group: "example.com", Resource: "clusterwidgets"}, false, false, StageCustomResources},
		{schema.GroupResource{Group: "admissionregistration.k8s.io", Resource: "validatingwebhookconfigurations"}, true, false, StageAdmissionAggregation},
		{schema.GroupResource{Group: "apiregistration.k8s.io", Resource: "apiservices"}, true, false, StageAdmissionAggregation},
	}
	for _, tt := range tests {
		if got := StageOf(tt.gr, tt.builtin, tt.namespaced); got != tt.want {
			t.Errorf("StageOf(%s) = %s, want %s", tt.gr, got, tt.want)
		}
	}
	// Every stage is documented, once, and the map names no unknown stage.
	seen := map[Stage]bool{}
	for _, info := range StageInfos {
		if seen[info.Stage] || info.Holds == "" || info.Why == "" {
			t.Errorf("stage %s documented twice or without a reason", info.Stage)
		}
		seen[info.Stage] = true
	}
	for gr, s := range stageOfType {
		if !seen[s] {
			t.Errorf("%s is in stage %s, which StageInfos does not list", gr, s)
		}
	}
	// The order the issue asks for.
	want := []Stage{StageCRDs, StageNamespaces, StageClusterConfig, StageServiceAccounts, StageConfig, StageRBAC, StageStorage, StageWorkloads, StageCustomResources}
	for i := 1; i < len(want); i++ {
		if stageIndex(want[i-1]) >= stageIndex(want[i]) {
			t.Errorf("%s does not come before %s", want[i-1], want[i])
		}
	}
}

func item(stage Stage, resource, ns, name, uid string, owners ...string) *Item {
	it := &Item{Stage: stage, Resource: resource, Namespace: ns, Name: name, sourceUID: types.UID(uid),
		sends: true}
	for _, o := range owners {
		it.more().owners = append(it.more().owners, ownerLink{uid: types.UID(o)})
	}
	return it
}

// Items sort by stage, then owners before what they own; an object whose
// owner comes in a later stage moves to the owner's stage.
func TestOrder(t *testing.T) {
	items := []*Item{
		item(StageCustomResources, "certificates.example.com", "a", "cert", "c1"),
		item(StageConfig, "secrets", "a", "cert-tls", "s1", "c1"), // owned by a custom resource
		item(StageConfig, "configmaps", "a", "child", "m2", "m1"), // owned by another ConfigMap
		item(StageConfig, "configmaps", "a", "grandchild", "m3", "m2"),
		item(StageConfig, "configmaps", "a", "parent", "m1"),
		item(StageWorkloads, "deployments.apps", "a", "api", "d1"),
		item(StageNamespaces, "namespaces", "", "a", "n1"),
		item(StageCRDs, "customresourcedefinitions.apiextensions.k8s.io", "", "certificates.example.com", "crd1"),
	}
	order(items)
	var got []string
	for _, it := range items {
		got = append(got, string(it.Stage)+":"+it.Name)
	}
	want := []string{
		"CustomResourceDefinitions:certificates.example.com",
		"Namespaces:a",
		"SecretsAndConfigMaps:parent",
		"SecretsAndConfigMaps:child",
		"SecretsAndConfigMaps:grandchild",
		"Workloads:api",
		"CustomResources:cert",
		"CustomResources:cert-tls",
	}
	if !slices.Equal(got, want) {
		t.Errorf("order:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestOptionsValidate(t *testing.T) {
	good := Options{Selection: selection.Selection{IncludeNamespaces: []string{"team-*"}, LabelSelector: "app in (a,b)",
		ClusterResources: selection.ClusterResourcesOff}, ExistingResourcePolicy: PolicyUpdate, Concurrency: 32, RestoreID: "nightly-1"}
	if err := good.Validate(); err != nil {
		t.Errorf("valid options refused: %v", err)
	}
	// Each error names the field, so that front ends can name their flag
	// or attribute, and says what is accepted.
	for _, tc := range []struct {
		bad        Options
		field, say string
	}{
		{Options{Selection: selection.Selection{IncludeNamespaces: []string{"ok", "[x"}}}, "include_namespaces[1]", "team-*"},
		{Options{Selection: selection.Selection{LabelSelector: "a=(b"}}, "label_selector", "key=value"},
		{Options{ExistingResourcePolicy: "overwrite"}, "existing_resource_policy", `"skip", "update", "fail"`},
		{Options{Selection: selection.Selection{ClusterResources: "some"}}, "cluster_resources", `"auto", "on", "off"`},
		{Options{Concurrency: 1000}, "concurrency", "1 to 256"},
		{Options{RestoreID: "no/slash"}, "restore_id", "restore ID"},
		{Options{RunID: "no/slash"}, "run_id", "letters, digits"},
		{Options{Object: &ObjectRef{Resource: "cm"}}, "object.name", "name of the single object"},
		{Options{NamespaceMapping: map[string]string{"a": "c", "b": "c"}}, "namespace_mapping", "c"},
	} {
		err := tc.bad.Validate()
		if err == nil {
			t.Errorf("Validate accepted %+v", tc.bad)
			continue
		}
		var agg utilerrors.Aggregate
		if !errors.As(err, &agg) || len(agg.Errors()) != 1 {
			t.Errorf("%+v: want one field error, got %v", tc.bad, err)
			continue
		}
		fe, ok := agg.Errors()[0].(*field.Error)
		if !ok || fe.Field != tc.field || !strings.Contains(fe.Error(), tc.say) {
			t.Errorf("%+v: got %v; want an error on field %s saying %q", tc.bad, err, tc.field, tc.say)
		}
	}
}

// docs/restore.md names every stage.
func TestStagesAreDocumented(t *testing.T) {
	doc, err := os.ReadFile("../../docs/restore.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, info := range StageInfos {
		if !strings.Contains(string(doc), "`"+string(info.Stage)+"`") {
			t.Errorf("docs/restore.md does not describe stage %s", info.Stage)
		}
	}
}

// docs/restore.md names every adaptation a restore makes.
func TestAdaptationsAreDocumented(t *testing.T) {
	doc, err := os.ReadFile("../../docs/restore.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range Adaptations {
		if !strings.Contains(string(doc), "`"+a.Name+"`") {
			t.Errorf("docs/restore.md does not describe adaptation %s", a.Name)
		}
	}
}
