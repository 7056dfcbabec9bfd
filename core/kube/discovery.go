package kube

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/kubernetes/scheme"
)

// ErrUnknownResource: user input names no listable resource of the cluster.
var ErrUnknownResource = errors.New("unknown resource type")

// Resource is one listable resource type of a cluster, in one version.
type Resource struct {
	Group    string
	Version  string
	Resource string // plural, lower case: "deployments"
	Kind     string
	// SingularName, ShortNames and Categories are what users may type for
	// it, as the server declares them.
	SingularName string
	ShortNames   []string
	Categories   []string
	Namespaced   bool
	Verbs        []string
	// Builtin says client-go's scheme knows the kind: it can be read and
	// written as protobuf (Client.ProtobufConfig) and with typed clients.
	Builtin bool
}

// GroupResource is the resource without its version.
func (r Resource) GroupResource() schema.GroupResource {
	return schema.GroupResource{Group: r.Group, Resource: r.Resource}
}

// GroupVersionResource is what the dynamic client asks for.
func (r Resource) GroupVersionResource() schema.GroupVersionResource {
	return schema.GroupVersionResource{Group: r.Group, Version: r.Version, Resource: r.Resource}
}

// GroupVersionKind is the type of the resource's objects.
func (r Resource) GroupVersionKind() schema.GroupVersionKind {
	return schema.GroupVersionKind{Group: r.Group, Version: r.Version, Kind: r.Kind}
}

// String is "deployments.apps", or "configmaps" for the core group: the
// name of the resource type in the repository's layout.
func (r Resource) String() string {
	return r.GroupResource().String()
}

// HasVerb reports whether the server allows verb on the resource.
func (r Resource) HasVerb(verb string) bool {
	return slices.Contains(r.Verbs, verb)
}

// Resources is what Discover found: every resource type that can be listed
// and read, each once.
type Resources struct {
	// Items holds the core group first, then the other groups in the
	// server's priority order, each group's resources sorted by name.
	Items []Resource
	// PreferredVersions maps each group that was discovered to the version
	// the server prefers ("" is the core group).
	PreferredVersions map[string]string
	// Failed holds the group versions whose discovery failed, usually an
	// aggregated API whose backing service is down. Their resources are
	// missing from Items.
	Failed map[schema.GroupVersion]error

	byGR   map[schema.GroupResource]int
	byKind map[schema.GroupKind]int
}

// Discover lists the resource types of the cluster that support list and get
// (no subresources), custom resources included. Each resource is returned in
// its group's preferred version, or, for a resource the preferred version
// does not serve, in the first version that does (the server orders versions
// newest first). A group version whose discovery fails does not fail the
// call: it is reported in Resources.Failed.
func (c *Client) Discover(ctx context.Context) (*Resources, error) {
	d := discovery.ToDiscoveryInterfaceWithContext(c.Discovery)
	groups, lists, err := d.ServerGroupsAndResourcesWithContext(ctx)
	failed, partial := discovery.GroupDiscoveryFailedErrorGroups(err)
	if err != nil && !partial {
		return nil, fmt.Errorf("discovering the API resources of %s: %w", c.describe(), err)
	}
	return newResources(groups, lists, failed), nil
}

// newResources selects and indexes the listable resources of a discovery
// answer.
func newResources(groups []*metav1.APIGroup, lists []*metav1.APIResourceList, failed map[schema.GroupVersion]error) *Resources {
	byGV := map[schema.GroupVersion]*metav1.APIResourceList{}
	for _, l := range lists {
		if l == nil {
			continue
		}
		gv, err := schema.ParseGroupVersion(l.GroupVersion)
		if err != nil {
			continue
		}
		byGV[gv] = l
	}
	rs := &Resources{
		PreferredVersions: map[string]string{},
		Failed:            map[schema.GroupVersion]error{},
		byGR:              map[schema.GroupResource]int{},
		byKind:            map[schema.GroupKind]int{},
	}
	for gv, err := range failed {
		rs.Failed[gv] = err
	}
	for _, g := range groups {
		if g == nil {
			continue
		}
		preferred := g.PreferredVersion.Version
		if preferred == "" && len(g.Versions) > 0 {
			preferred = g.Versions[0].Version
		}
		rs.PreferredVersions[g.Name] = preferred
		versions := []string{preferred}
		for _, v := range g.Versions {
			if v.Version != preferred {
				versions = append(versions, v.Version)
			}
		}
		var inGroup []Resource
		seen := map[string]bool{}
		for _, v := range versions {
			gv := schema.GroupVersion{Group: g.Name, Version: v}
			list := byGV[gv]
			if list == nil {
				continue
			}
			for _, ar := range list.APIResources {
				if strings.Contains(ar.Name, "/") || seen[ar.Name] {
					continue
				}
				if !slices.Contains(ar.Verbs, "list") || !slices.Contains(ar.Verbs, "get") {
					continue
				}
				seen[ar.Name] = true
				inGroup = append(inGroup, newResource(gv, ar))
			}
		}
		slices.SortFunc(inGroup, func(a, b Resource) int { return strings.Compare(a.Resource, b.Resource) })
		rs.Items = append(rs.Items, inGroup...)
	}
	for i, r := range rs.Items {
		rs.byGR[r.GroupResource()] = i
		gk := schema.GroupKind{Group: r.Group, Kind: r.Kind}
		if _, dup := rs.byKind[gk]; !dup {
			rs.byKind[gk] = i
		}
	}
	return rs
}

func newResource(gv schema.GroupVersion, ar metav1.APIResource) Resource {
	// Aggregated discovery may leave group and version of a resource empty:
	// they are the list's.
	group, version := gv.Group, gv.Version
	if ar.Group != "" || ar.Version != "" {
		group, version = ar.Group, ar.Version
	}
	singular := ar.SingularName
	if singular == "" {
		singular = strings.ToLower(ar.Kind)
	}
	r := Resource{
		Group:        group,
		Version:      version,
		Resource:     ar.Name,
		Kind:         ar.Kind,
		SingularName: singular,
		ShortNames:   slices.Clone(ar.ShortNames),
		Categories:   slices.Clone(ar.Categories),
		Namespaced:   ar.Namespaced,
		Verbs:        slices.Clone([]string(ar.Verbs)),
	}
	r.Builtin = scheme.Scheme.Recognizes(r.GroupVersionKind())
	return r
}

// Lookup returns the resource of a group and resource name.
func (rs *Resources) Lookup(gr schema.GroupResource) (Resource, bool) {
	i, ok := rs.byGR[gr]
	if !ok {
		return Resource{}, false
	}
	return rs.Items[i], true
}

// LookupKind returns the resource whose objects are of the group and kind,
// as when restoring an object by its apiVersion and kind.
func (rs *Resources) LookupKind(gk schema.GroupKind) (Resource, bool) {
	i, ok := rs.byKind[gk]
	if !ok {
		return Resource{}, false
	}
	return rs.Items[i], true
}

// ResolveUserInput finds the resource a user means, as kubectl does: a plural
// ("deployments"), singular ("deployment"), short name ("deploy") or kind
// ("Deployment"), each optionally qualified by group ("deployments.apps") or
// by version and group ("deployments.v1.apps"); case does not matter. When
// several groups have the name, the one the server lists first wins (the core
// group before all others, as for "events"). An unknown name gives an error
// that wraps ErrUnknownResource and suggests near names.
func (rs *Resources) ResolveUserInput(input string) (Resource, error) {
	name := strings.ToLower(strings.TrimSpace(input))
	if name == "" {
		return Resource{}, markError(ErrUnknownResource, nil, "empty resource type: give a resource such as deployments, deployments.apps, deploy or Deployment")
	}
	for _, q := range qualifiedReadings(name) {
		if r, ok := rs.match(q); ok {
			return r, nil
		}
	}
	return Resource{}, rs.unknown(input, name)
}

// ResolveAll resolves each input and returns the resources in the order
// given, without duplicates, or an error naming every input not understood.
func (rs *Resources) ResolveAll(inputs []string) ([]Resource, error) {
	var out []Resource
	var errs []error
	seen := map[schema.GroupResource]bool{}
	for _, in := range inputs {
		r, err := rs.ResolveUserInput(in)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if !seen[r.GroupResource()] {
			seen[r.GroupResource()] = true
			out = append(out, r)
		}
	}
	return out, errors.Join(errs...)
}

// query is one reading of user input: a name, maybe with group and version.
type query struct {
	name, version, group string
	qualified            bool
}

// qualifiedReadings lists the ways to read input: "a.b.c" is name a of
// group b.c, or name a of version b of group c; a name without a dot stands
// alone. Resource and kind names never contain dots.
func qualifiedReadings(input string) []query {
	name, rest, ok := strings.Cut(input, ".")
	if !ok {
		return []query{{name: input}}
	}
	qs := []query{{name: name, group: rest, qualified: true}}
	if version, group, ok := strings.Cut(rest, "."); ok {
		qs = append(qs, query{name: name, version: version, group: group, qualified: true})
	}
	return qs
}

// match finds a resource for q, trying plural, singular, short and kind
// names in that order, each over the resources in priority order.
func (rs *Resources) match(q query) (Resource, bool) {
	// A version names the resource whatever version kbackup reads it in,
	// but it must be a version: "a.b.c" is otherwise name a of group b.c.
	if q.version != "" && !versionPattern.MatchString(q.version) {
		return Resource{}, false
	}
	tiers := []func(Resource) bool{
		func(r Resource) bool { return r.Resource == q.name },
		func(r Resource) bool { return r.SingularName == q.name },
		func(r Resource) bool { return slices.Contains(r.ShortNames, q.name) },
		func(r Resource) bool { return strings.ToLower(r.Kind) == q.name },
	}
	for _, tier := range tiers {
		for _, r := range rs.Items {
			if q.qualified && r.Group != q.group {
				continue
			}
			if tier(r) {
				return r, true
			}
		}
	}
	return Resource{}, false
}

// versionPattern matches Kubernetes API versions: v1, v2beta1, v1alpha3.
var versionPattern = regexp.MustCompile(`^v[1-9][0-9]*((alpha|beta)[1-9][0-9]*)?$`)

// unknown builds the error for input that matched nothing: it suggests up to
// three resources with a name near the input (or, for "deploymnts.apps",
// near its first part).
func (rs *Resources) unknown(input, name string) error {
	var candidates []string
	owner := map[string]string{}
	for _, r := range rs.Items {
		for _, alias := range append(aliases(r), r.String()) {
			candidates = append(candidates, alias)
			if _, ok := owner[alias]; !ok {
				owner[alias] = r.String()
			}
		}
	}
	var suggestions []string
	add := func(near []string) {
		for _, c := range near {
			if s := owner[c]; !slices.Contains(suggestions, s) && len(suggestions) < 3 {
				suggestions = append(suggestions, s)
			}
		}
	}
	add(nearest(name, candidates, 10))
	if bare, _, qualified := strings.Cut(name, "."); qualified && len(suggestions) == 0 {
		add(nearest(bare, candidates, 10))
	}
	msg := fmt.Sprintf("unknown resource type %q", input)
	if len(suggestions) > 0 {
		msg += "; did you mean " + strings.Join(suggestions, " or ") + "?"
	}
	msg += " (give a plural, singular, short name or kind of a resource the cluster can list, optionally followed by .group)"
	return markError(ErrUnknownResource, nil, "%s", msg)
}

// aliases are the names a user may type for r, lower case.
func aliases(r Resource) []string {
	out := []string{r.Resource, r.SingularName, strings.ToLower(r.Kind)}
	return append(out, r.ShortNames...)
}
