package diff

import (
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

func secret(data map[string]any, stringData map[string]any) *unstructured.Unstructured {
	obj := map[string]any{"apiVersion": "v1", "kind": "Secret", "metadata": map[string]any{"name": "db", "namespace": "shop"}, "type": "Opaque"}
	if data != nil {
		obj["data"] = data
	}
	if stringData != nil {
		obj["stringData"] = stringData
	}
	return &unstructured.Unstructured{Object: obj}
}

// A diff of Secrets says which keys differ and never shows a value, on
// either side, whether the key changed, was added, removed or kept.
func TestObjectsMasksSecretValues(t *testing.T) {
	before := secret(map[string]any{"password": "b2xkLXNlY3JldA==", "user": "YWRtaW4=", "gone": "Z29uZQ=="}, map[string]any{"token": "plain-old"})
	after := secret(map[string]any{"password": "bmV3LXNlY3JldA==", "user": "YWRtaW4=", "added": "YWRkZWQ="}, map[string]any{"token": "plain-new"})
	text, differs, err := Objects(before, after, "backup", "live", 3)
	if err != nil || !differs {
		t.Fatalf("differs = %v, %v", differs, err)
	}
	for _, value := range []string{"b2xkLXNlY3JldA==", "bmV3LXNlY3JldA==", "YWRtaW4=", "Z29uZQ==", "YWRkZWQ=", "plain-old", "plain-new"} {
		if strings.Contains(text, value) {
			t.Errorf("the diff shows the value %s:\n%s", value, text)
		}
	}
	for _, line := range []string{
		"-  password: '*** (before)'", "+  password: '*** (after)'",
		"   user: '***'",
		"-  gone: '*** (before)'", "+  added: '*** (after)'",
		"-  token: '*** (before)'", "+  token: '*** (after)'",
	} {
		if !strings.Contains(text, line) {
			t.Errorf("the diff lacks %q:\n%s", line, text)
		}
	}
	// The objects given are not changed.
	if before.Object["data"].(map[string]any)["password"] != "b2xkLXNlY3JldA==" {
		t.Error("Objects changed its argument")
	}

	// Equal Secrets do not differ; a Secret added or removed shows no value.
	if _, differs, _ := Objects(before, before.DeepCopy(), "a", "b", 3); differs {
		t.Error("equal Secrets differ")
	}
	text, _, _ = Objects(nil, after, "a", "b", 3)
	if strings.Contains(text, "bmV3LXNlY3JldA==") || !strings.Contains(text, "+  password: '*** (after)'") {
		t.Errorf("an added Secret:\n%s", text)
	}

	// Other kinds keep their values.
	cm := &unstructured.Unstructured{Object: map[string]any{"apiVersion": "v1", "kind": "ConfigMap", "metadata": map[string]any{"name": "c"}, "data": map[string]any{"k": "v1"}}}
	cm2 := cm.DeepCopy()
	cm2.Object["data"] = map[string]any{"k": "v2"}
	if text, _, _ := Objects(cm, cm2, "a", "b", 3); !strings.Contains(text, "-  k: v1") || !strings.Contains(text, "+  k: v2") {
		t.Errorf("a ConfigMap's values are shown:\n%s", text)
	}
}

func TestMaskSecretHidesValuesAndLastApplied(t *testing.T) {
	secret := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "v1", "kind": "Secret",
		"metadata": map[string]any{"name": "db", "namespace": "shop", "annotations": map[string]any{
			lastApplied: `{"apiVersion":"v1","kind":"Secret","stringData":{"password":"hunter2-applied"}}`,
			"team":      "payments",
		}},
		"data":       map[string]any{"password": "aHVudGVyMg=="},
		"stringData": map[string]any{"token": "plain-token"},
	}}
	got, err := YAML(MaskSecret(secret))
	if err != nil {
		t.Fatal(err)
	}
	for _, value := range []string{"aHVudGVyMg==", "plain-token", "hunter2-applied"} {
		if strings.Contains(got, value) {
			t.Errorf("the masked Secret shows %q:\n%s", value, got)
		}
	}
	for _, kept := range []string{"password: '***'", "token: '***'", "team: payments", "name: db"} {
		if !strings.Contains(got, kept) {
			t.Errorf("the masked Secret lacks %q:\n%s", kept, got)
		}
	}
	if secret.Object["data"].(map[string]any)["password"] != "aHVudGVyMg==" {
		t.Error("MaskSecret changed its input")
	}
	cm := &unstructured.Unstructured{Object: map[string]any{"apiVersion": "v1", "kind": "ConfigMap", "data": map[string]any{"k": "v"}}}
	if MaskSecret(cm) != cm {
		t.Error("a ConfigMap should be returned as it is")
	}
}
