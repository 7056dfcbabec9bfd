package diff

import "k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

// Masks of Secret values, as kubectl diff writes them: a diff says which
// keys of a Secret differ, never what they hold.
const (
	masked       = "***"
	maskedBefore = "*** (before)"
	maskedAfter  = "*** (after)"
)

// secretFields are the fields of a Secret that hold its values.
var secretFields = []string{"data", "stringData"}

// isSecret reports whether obj is a core Secret.
func isSecret(obj *unstructured.Unstructured) bool {
	return obj != nil && obj.GetKind() == "Secret" && obj.GetAPIVersion() == "v1"
}

// maskSecrets returns copies of a and b whose Secret values are masked: a
// value the other side holds too, unchanged, becomes ***, and a value that
// differs becomes *** (before) and *** (after), so that the diff still shows
// which keys changed, were added or removed. Objects that are not Secrets
// are returned as they are.
func maskSecrets(a, b *unstructured.Unstructured) (*unstructured.Unstructured, *unstructured.Unstructured) {
	if !isSecret(a) && !isSecret(b) {
		return a, b
	}
	if a != nil {
		a = a.DeepCopy()
	}
	if b != nil {
		b = b.DeepCopy()
	}
	for _, f := range secretFields {
		va, vb := values(a, f), values(b, f)
		for k, v := range va {
			if other, ok := vb[k]; ok && other == v {
				va[k], vb[k] = masked, masked
				continue
			}
			va[k] = maskedBefore
		}
		for k, v := range vb {
			if v != masked {
				vb[k] = maskedAfter
			}
		}
	}
	return a, b
}

// values returns the map at field f of obj, which the caller may change in
// place, or nil.
func values(obj *unstructured.Unstructured, f string) map[string]any {
	if obj == nil {
		return nil
	}
	m, _ := obj.Object[f].(map[string]any)
	return m
}
