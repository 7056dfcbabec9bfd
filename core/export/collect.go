package export

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/kbackup/kbackup/core/catalog"
	"github.com/kbackup/kbackup/core/clean"
	"github.com/kbackup/kbackup/core/repo"
	"github.com/kbackup/kbackup/core/selection"
)

// object is one exported object, cleaned and encoded.
type object struct {
	resource  string // resource.group
	group     string
	kind      string
	namespace string
	name      string
	// custom says the type is not built into Kubernetes (its group has a
	// dot and is not a k8s.io group).
	custom bool
	// workload is "Deployment" or "StatefulSet" for the objects the
	// replica patch applies to.
	data []byte
}

// systemNamespaces are filled by Kubernetes itself; an export leaves them
// out unless they are named in IncludeNamespaces.
var systemNamespaces = []string{"kube-system", "kube-public", "kube-node-lease"}

var (
	grNamespaces          = selection.NamespacesResource
	grClusterRoleBindings = schema.GroupResource{Group: "rbac.authorization.k8s.io", Resource: "clusterrolebindings"}
	grPVs                 = schema.GroupResource{Resource: "persistentvolumes"}
	grServices            = schema.GroupResource{Resource: "services"}
	grEndpoints           = schema.GroupResource{Resource: "endpoints"}
	grSecrets             = schema.GroupResource{Resource: "secrets"}
	grServiceAccounts     = schema.GroupResource{Resource: "serviceaccounts"}
)

// collector gathers the exported objects as packs are read, from several
// goroutines.
type collector struct {
	opts   Options
	sel    *selection.Matcher
	res    *Result
	mu     sync.Mutex
	objs   []object
	used   map[string]bool
	needs  *selection.RelatedNeeds
	tokens map[string]bool
	// services with a selector, "namespace/name": their Endpoints are the
	// endpoints controller's.
	selectorServices map[string]bool
	endpoints        []object
}

// collect reads the selected objects of m: the namespaced ones, then the
// Namespace objects of the namespaces that have any, then the
// cluster-scoped objects those namespaces need (or all of the types the
// selection names).
func collect(ctx context.Context, r *repo.Repository, m *repo.Manifest, sel *selection.Matcher, opts Options, res *Result) ([]object, error) {
	c := &collector{opts: opts, sel: sel, res: res, used: map[string]bool{}, needs: selection.NewRelatedNeeds(),
		tokens: map[string]bool{}, selectorServices: map[string]bool{}}
	var namespaced, namespaces, bindings, cluster []repo.PackEntry
	for _, p := range catalog.Select(m, sel, true) {
		gr := schema.ParseGroupResource(p.Resource)
		switch {
		case gr == grNamespaces:
			namespaces = append(namespaces, p)
		case p.Namespaced:
			if slices.Contains(systemNamespaces, p.Namespace) && !slices.Contains(opts.IncludeNamespaces, p.Namespace) {
				continue
			}
			namespaced = append(namespaced, p)
		case gr == grClusterRoleBindings:
			bindings = append(bindings, p)
		default:
			cluster = append(cluster, p)
		}
	}
	// Room for every namespaced object: appended under the lock, a
	// growing slice was copied a dozen times while the readers waited.
	size := 0
	for _, p := range namespaced {
		size += len(p.Objects)
	}
	c.objs = make([]object, 0, size)
	read := func(packs []repo.PackEntry, fn func(repo.PackEntry, *unstructured.Unstructured)) error {
		return catalog.Read(ctx, r, packs, opts.Concurrency, func(p repo.PackEntry, objs []*unstructured.Unstructured) error {
			for _, o := range objs {
				fn(p, o)
			}
			return nil
		})
	}
	if err := read(namespaced, c.namespaced); err != nil {
		return nil, fmt.Errorf("reading backup %s: %w", m.ID, err)
	}
	for _, e := range c.endpoints {
		if c.selectorServices[e.namespace+"/"+e.name] {
			c.leave(e.resource, e.namespace, e.name, "the endpoints controller makes the Endpoints of a Service with a selector")
			continue
		}
		c.objs = append(c.objs, e)
	}
	if err := read(namespaces, c.namespace); err != nil {
		return nil, fmt.Errorf("reading backup %s: %w", m.ID, err)
	}
	for _, group := range [][]repo.PackEntry{bindings, cluster} {
		if err := read(group, c.clusterScoped); err != nil {
			return nil, fmt.Errorf("reading backup %s: %w", m.ID, err)
		}
	}
	for ns := range c.used {
		res.Namespaces = append(res.Namespaces, ns)
	}
	slices.Sort(res.Namespaces)
	slices.SortFunc(c.objs, func(a, b object) int {
		return cmp.Or(strings.Compare(a.namespace, b.namespace), strings.Compare(a.resource, b.resource), strings.Compare(a.name, b.name))
	})
	slices.SortFunc(res.Left, func(a, b LeftOut) int {
		return cmp.Or(strings.Compare(a.Namespace, b.Namespace), strings.Compare(a.Resource, b.Resource), strings.Compare(a.Name, b.Name))
	})
	slices.SortFunc(res.Secrets, func(a, b SecretRef) int {
		return cmp.Or(strings.Compare(a.Namespace, b.Namespace), strings.Compare(a.Name, b.Name))
	})
	for _, o := range c.objs {
		res.Objects++
		if o.namespace == "" {
			res.ClusterObjects++
		}
	}
	return c.objs, nil
}

// leave records an object left out. Callers hold c.mu.
func (c *collector) leave(resource, namespace, name, reason string, owner ...string) {
	l := LeftOut{Resource: resource, Namespace: namespace, Name: name, Reason: reason}
	if len(owner) > 0 {
		l.Owner = owner[0]
	}
	c.res.Left = append(c.res.Left, l)
}

// controller returns the controller owner reference of obj, if any.
func controller(obj *unstructured.Unstructured) (kind, name string, ok bool) {
	for _, ref := range obj.GetOwnerReferences() {
		if ref.Controller != nil && *ref.Controller {
			return ref.Kind, ref.Name, true
		}
	}
	return "", "", false
}

// encode cleans obj as declared and encodes it.
func (c *collector) encode(p repo.PackEntry, obj *unstructured.Unstructured) (object, error) {
	clean.Declared(obj, clean.Options{PreserveNodePorts: c.opts.PreserveNodePorts, TokenSecrets: c.tokens})
	data, err := encodeObject(obj.Object)
	if err != nil {
		return object{}, fmt.Errorf("encoding %s %s/%s: %w", p.Resource, obj.GetNamespace(), obj.GetName(), err)
	}
	return object{resource: p.Resource, group: p.Group, kind: p.Kind, namespace: obj.GetNamespace(), name: obj.GetName(),
		custom: isCustom(p.Group), data: data}, nil
}

// isCustom says whether a group is not one of Kubernetes' own.
func isCustom(group string) bool {
	return strings.Contains(group, ".") && !strings.HasSuffix(group, ".k8s.io")
}

func (c *collector) namespaced(p repo.PackEntry, obj *unstructured.Unstructured) {
	gr := schema.ParseGroupResource(p.Resource)
	if !c.sel.TakesObject(p.Resource, p.Namespace, obj) || !c.take(p, gr, obj) {
		return
	}
	// Cleaning and encoding, the export's work per object, run outside the
	// lock: catalog.Read calls from several goroutines.
	o, err := c.encode(p, obj)
	c.mu.Lock()
	defer c.mu.Unlock()
	if err != nil {
		c.res.Warnings = append(c.res.Warnings, err.Error())
		return
	}
	c.used[o.namespace] = true
	if gr == grEndpoints {
		c.endpoints = append(c.endpoints, o)
		return
	}
	c.objs = append(c.objs, o)
}

// take decides whether a namespaced object is exported, and records what
// the decision learns: why it is left out, a Secret's name and keys, a
// Service's selector, what the object needs among cluster-scoped objects.
func (c *collector) take(p repo.PackEntry, gr schema.GroupResource, obj *unstructured.Unstructured) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if reason := clean.ExcludedObject(gr, obj); reason != "" {
		c.leave(p.Resource, obj.GetNamespace(), obj.GetName(), reason)
		return false
	}
	if kind, name, ok := controller(obj); ok {
		c.leave(p.Resource, obj.GetNamespace(), obj.GetName(), fmt.Sprintf("controlled by its %s, which makes it", kind), kind+" "+name)
		return false
	}
	switch gr {
	case grServices:
		if sel, _, _ := unstructured.NestedMap(obj.Object, "spec", "selector"); len(sel) > 0 {
			c.selectorServices[obj.GetNamespace()+"/"+obj.GetName()] = true
		}
	case grServiceAccounts:
		if obj.GetName() == "default" && isBareDefaultServiceAccount(obj) {
			c.leave(p.Resource, obj.GetNamespace(), obj.GetName(), "the service account controller makes a default ServiceAccount in every namespace")
			return false
		}
	case grSecrets:
		ref := SecretRef{Namespace: obj.GetNamespace(), Name: obj.GetName()}
		ref.Type, _, _ = unstructured.NestedString(obj.Object, "type")
		for _, f := range []string{"data", "stringData"} {
			m, _, _ := unstructured.NestedMap(obj.Object, f)
			for k := range m {
				ref.Keys = append(ref.Keys, k)
			}
		}
		slices.Sort(ref.Keys)
		ref.Keys = slices.Compact(ref.Keys)
		c.res.Secrets = append(c.res.Secrets, ref)
		if c.opts.Secrets != SecretsInclude {
			return false
		}
	}
	c.needs.Add(selection.Object{Resource: p.Resource, Object: obj})
	return true
}

// isBareDefaultServiceAccount says whether a ServiceAccount holds nothing
// but what the controller gives it.
func isBareDefaultServiceAccount(obj *unstructured.Unstructured) bool {
	probe := clean.Declared(obj.DeepCopy(), clean.Options{})
	for k := range probe.Object {
		if k != "apiVersion" && k != "kind" && k != "metadata" && k != "secrets" {
			return false
		}
	}
	meta, _ := probe.Object["metadata"].(map[string]any)
	for k := range meta {
		if k != "name" && k != "namespace" {
			return false
		}
	}
	return true
}

func (c *collector) namespace(p repo.PackEntry, obj *unstructured.Unstructured) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.used[obj.GetName()] {
		return
	}
	o, err := c.encode(p, obj)
	if err != nil {
		c.res.Warnings = append(c.res.Warnings, err.Error())
		return
	}
	o.namespace = obj.GetName() // kept with its namespace's objects
	o.kind = "Namespace"
	c.objs = append(c.objs, o)
}

func (c *collector) clusterScoped(p repo.PackEntry, obj *unstructured.Unstructured) {
	gr := schema.ParseGroupResource(p.Resource)
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.sel.MatchesLabels(obj) {
		return
	}
	explicit := c.sel.Spec().ClusterResources == selection.ClusterResourcesOn || (c.sel.HasIncludedTypes() && c.sel.TypeSelected(p.Resource))
	if !explicit && !c.needs.Take(selection.Object{Resource: p.Resource, Object: obj}, c.used) {
		return
	}
	if reason := clean.ExcludedObject(gr, obj); reason != "" {
		c.leave(p.Resource, "", obj.GetName(), reason)
		return
	}
	if kind, name, ok := controller(obj); ok {
		c.leave(p.Resource, "", obj.GetName(), fmt.Sprintf("controlled by its %s, which makes it", kind), kind+" "+name)
		return
	}
	if gr == grPVs {
		if by := obj.GetAnnotations()["pv.kubernetes.io/provisioned-by"]; by != "" {
			c.leave(p.Resource, "", obj.GetName(), "provisioned by "+by+" for its claim; the target's provisioner makes its own")
			return
		}
	}
	o, err := c.encode(p, obj)
	if err != nil {
		c.res.Warnings = append(c.res.Warnings, err.Error())
		return
	}
	o.namespace = ""
	c.objs = append(c.objs, o)
}
