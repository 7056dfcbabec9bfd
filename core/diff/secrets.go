package diff

import "k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

// lastApplied is kubectl's annotation holding the object as last applied:
// for a Secret applied with kubectl, its values again.
const lastApplied = "kubectl.kubernetes.io/last-applied-configuration"

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
	maskAnnotation(a, b)
	return a, b
}

// maskAnnotation masks the last-applied-configuration annotation of a
// and b (Secrets, copies), as maskSecrets masks their values.
func maskAnnotation(a, b *unstructured.Unstructured) {
	annotations := func(obj *unstructured.Unstructured) map[string]any {
		if obj == nil {
			return nil
		}
		meta, _ := obj.Object["metadata"].(map[string]any)
		m, _ := meta["annotations"].(map[string]any)
		return m
	}
	va, vb := annotations(a), annotations(b)
	x, inA := va[lastApplied]
	y, inB := vb[lastApplied]
	switch {
	case inA && inB && x == y:
		va[lastApplied], vb[lastApplied] = masked, masked
	default:
		if inA {
			va[lastApplied] = maskedBefore
		}
		if inB {
			vb[lastApplied] = maskedAfter
		}
	}
}

// MaskSecret returns a copy of obj with the values of a Secret masked
// (***), as a diff masks them, for showing one object; any other object is
// returned as it is.
func MaskSecret(obj *unstructured.Unstructured) *unstructured.Unstructured {
	masked, _ := maskSecrets(obj, obj)
	return masked
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
