package selection

import (
	"slices"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// ClusterResources says which cluster-scoped objects a selection takes.
// Namespace objects are not governed by it: they go with the namespaces
// they describe.
type ClusterResources string

const (
	// ClusterResourcesAuto takes every cluster-scoped object when every
	// namespace is selected. A selection of some namespaces takes the
	// cluster-scoped types named in IncludeResources and, where the
	// selected objects can be read first (restore, export), the
	// cluster-scoped objects those namespaces need (see Related).
	ClusterResourcesAuto ClusterResources = "auto"
	// ClusterResourcesOn takes every cluster-scoped object the other
	// fields select.
	ClusterResourcesOn ClusterResources = "on"
	// ClusterResourcesOff takes no cluster-scoped object but the Namespace
	// objects of the selected namespaces.
	ClusterResourcesOff ClusterResources = "off"
)

// Selection is what a backup, restore, diff or export takes: one type for
// every front end and every operation, so that a namespace pattern, a type
// name or a label selector means the same thing everywhere. Empty fields
// select everything.
type Selection struct {
	// IncludeNamespaces and ExcludeNamespaces are names or shell patterns
	// (team-*).
	IncludeNamespaces []string `json:"includeNamespaces,omitempty"`
	ExcludeNamespaces []string `json:"excludeNamespaces,omitempty"`
	// IncludeResources and ExcludeResources are resource types in any form
	// users write them: resource.group, plural, singular, kind, short name.
	IncludeResources []string `json:"includeResources,omitempty"`
	ExcludeResources []string `json:"excludeResources,omitempty"`
	// LabelSelector selects objects by label. Namespace objects of the
	// namespaces whose objects are selected come along.
	LabelSelector string `json:"labelSelector,omitempty"`
	// ClusterResources is auto (the default), on or off.
	ClusterResources ClusterResources `json:"clusterResources,omitempty"`
}

// Field names of Selection in error paths, as kbackup.yaml, a schedule's
// spec and the Terraform provider spell them.
const (
	FieldIncludeNamespaces = "include_namespaces"
	FieldExcludeNamespaces = "exclude_namespaces"
	FieldIncludeResources  = "include_resources"
	FieldExcludeResources  = "exclude_resources"
	FieldLabelSelector     = "label_selector"
	FieldClusterResources  = "cluster_resources"
)

// Validate checks what can be checked without a cluster or a backup. Paths
// are under path (nil for top level).
func (s Selection) Validate(path *field.Path) field.ErrorList {
	var errs field.ErrorList
	for _, list := range s.namespaceLists() {
		for i, p := range list.values {
			if _, err := NewNamespaces([]string{p}, nil); err != nil || p == "" || strings.Trim(p, namespacePatternChars) != "" {
				errs = append(errs, field.Invalid(path.Child(list.field).Index(i), p,
					"not a namespace name or pattern; want lower-case letters, digits and '-', with * ? [ ] as wildcards, like payments or team-*"))
			}
		}
	}
	for _, list := range s.typeLists() {
		for i, t := range list.values {
			switch {
			case t == "":
				errs = append(errs, field.Invalid(path.Child(list.field).Index(i), t, "empty; want a resource type like deployments.apps, deploy or Deployment"))
			case t == "*" && list.field == FieldIncludeResources:
			case strings.Trim(t, resourceNameChars) != "":
				errs = append(errs, field.Invalid(path.Child(list.field).Index(i), t, "not a resource type; want one like deployments.apps, configmaps, deploy or Deployment"))
			}
		}
	}
	if _, err := labels.Parse(s.LabelSelector); err != nil {
		errs = append(errs, field.Invalid(path.Child(FieldLabelSelector), s.LabelSelector, "not a label selector; want "+labelSelectorHint))
	}
	switch s.ClusterResources {
	case "", ClusterResourcesAuto, ClusterResourcesOn, ClusterResourcesOff:
	default:
		errs = append(errs, field.NotSupported(path.Child(FieldClusterResources), s.ClusterResources,
			[]ClusterResources{ClusterResourcesAuto, ClusterResourcesOn, ClusterResourcesOff}))
	}
	return errs
}

// The characters of namespace patterns (DNS-1123 labels and the wildcards
// of path.Match), and of resource types in any form users write them.
const (
	namespacePatternChars = "abcdefghijklmnopqrstuvwxyz0123456789-*?[]^!"
	resourceNameChars     = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-."
)

// namedList is one list field of a Selection with its name in paths.
type namedList struct {
	field  string
	values []string
}

func (s Selection) namespaceLists() []namedList {
	return []namedList{{FieldIncludeNamespaces, s.IncludeNamespaces}, {FieldExcludeNamespaces, s.ExcludeNamespaces}}
}

func (s Selection) typeLists() []namedList {
	return []namedList{{FieldIncludeResources, s.IncludeResources}, {FieldExcludeResources, s.ExcludeResources}}
}

// TypeResolver reads a resource type as a user wrote it and returns its
// resource.group name, or an error saying what it could have been.
type TypeResolver func(input string) (string, error)

// Matcher is a Selection with its types resolved and its patterns parsed.
type Matcher struct {
	spec       Selection
	namespaces Namespaces
	labels     labels.Selector
	include    map[string]bool
	exclude    map[string]bool
}

// Compile checks the selection and resolves its types with resolve (nil
// when types are given as resource.group already). Errors name the field
// under path.
func (s Selection) Compile(path *field.Path, resolve TypeResolver) (*Matcher, error) {
	if errs := s.Validate(path); len(errs) > 0 {
		return nil, errs.ToAggregate()
	}
	if resolve == nil {
		resolve = func(in string) (string, error) { return in, nil }
	}
	m := &Matcher{spec: s, include: map[string]bool{}, exclude: map[string]bool{}}
	m.namespaces = Namespaces{include: s.IncludeNamespaces, exclude: s.ExcludeNamespaces}
	m.labels, _ = ParseLabelSelector(s.LabelSelector)
	if m.spec.ClusterResources == "" {
		m.spec.ClusterResources = ClusterResourcesAuto
	}
	var errs field.ErrorList
	for _, list := range s.typeLists() {
		into := m.include
		if list.field == FieldExcludeResources {
			into = m.exclude
		}
		for i, in := range list.values {
			if in == "*" {
				// Every type: the same as naming none.
				continue
			}
			r, err := resolve(in)
			if err != nil {
				errs = append(errs, field.Invalid(path.Child(list.field).Index(i), in, err.Error()))
				continue
			}
			into[r] = true
		}
	}
	if len(errs) > 0 {
		return nil, errs.ToAggregate()
	}
	if slices.Contains(s.IncludeResources, "*") {
		clear(m.include)
	}
	return m, nil
}

// Spec returns the selection the matcher was compiled from, with
// ClusterResources defaulted.
func (m *Matcher) Spec() Selection { return m.spec }

// Namespaces returns the namespace part of the selection.
func (m *Matcher) Namespaces() Namespaces { return m.namespaces }

// WholeCluster reports whether every namespace is selected (some may still
// be excluded).
func (m *Matcher) WholeCluster() bool { return m.namespaces.All() }

// HasIncludedTypes reports whether IncludeResources named any type.
func (m *Matcher) HasIncludedTypes() bool { return len(m.include) > 0 }

// TypeSelected applies IncludeResources and ExcludeResources to a type,
// and nothing else.
func (m *Matcher) TypeSelected(resource string) bool {
	if m.exclude[resource] {
		return false
	}
	return len(m.include) == 0 || m.include[resource]
}

// TakesType reports whether objects of a type can be selected at all.
// related says whether the caller can take the related cluster-scoped
// objects of a namespace selection (RelatedTypes), which it then narrows
// down with Related.
func (m *Matcher) TakesType(resource string, namespaced, related bool) bool {
	if !m.TypeSelected(resource) {
		return false
	}
	if namespaced || schema.ParseGroupResource(resource) == NamespacesResource {
		return true
	}
	switch m.spec.ClusterResources {
	case ClusterResourcesOn:
		return true
	case ClusterResourcesOff:
		return false
	}
	if m.WholeCluster() || m.include[resource] {
		return true
	}
	return related && slices.Contains(RelatedTypes, schema.ParseGroupResource(resource))
}

// TakesPart reports whether a part of a backup (the objects of one type in
// one namespace, "" for cluster-scoped) can hold selected objects.
func (m *Matcher) TakesPart(resource, namespace string, namespaced, related bool) bool {
	if !m.TakesType(resource, namespaced, related) {
		return false
	}
	return !namespaced || m.namespaces.Match(namespace)
}

// NeedsRelated reports whether cluster-scoped objects of type resource are
// taken only where the selected namespaces need them (Related), rather
// than all of them.
func (m *Matcher) NeedsRelated(resource string) bool {
	return m.spec.ClusterResources == ClusterResourcesAuto && !m.WholeCluster() && !m.include[resource] &&
		slices.Contains(RelatedTypes, schema.ParseGroupResource(resource))
}

// TakesNamespace reports whether a namespace is selected.
func (m *Matcher) TakesNamespace(namespace string) bool { return m.namespaces.Match(namespace) }

// MatchesLabels applies the label selector.
func (m *Matcher) MatchesLabels(obj *unstructured.Unstructured) bool {
	return m.labels.Matches(labels.Set(obj.GetLabels()))
}

// TakesObject reports whether an object of a selected type is selected,
// its namespace given as the selection names it (before any mapping). A
// Namespace object is taken when its namespace is selected and it matches
// the labels; Namespace objects needed by selected objects are the
// caller's to add.
func (m *Matcher) TakesObject(resource, namespace string, obj *unstructured.Unstructured) bool {
	if schema.ParseGroupResource(resource) == NamespacesResource {
		return m.namespaces.Match(obj.GetName()) && m.MatchesLabels(obj)
	}
	if namespace != "" && !m.namespaces.Match(namespace) {
		return false
	}
	return m.MatchesLabels(obj)
}

// NamespacesResource is the Namespace type.
var NamespacesResource = schema.GroupResource{Resource: "namespaces"}
