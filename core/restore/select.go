package restore

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/kbackup/kbackup/core/repo"
	"github.com/kbackup/kbackup/core/selection"
	"github.com/kbackup/kbackup/core/snapshot"
	"github.com/kbackup/kbackup/core/storage"
)

// candidate is an object of the backup that the selection took.
type candidate struct {
	pack repo.PackEntry
	obj  *unstructured.Unstructured
}

var (
	grNamespaces          = schema.GroupResource{Resource: "namespaces"}
	grCRDs                = schema.GroupResource{Group: "apiextensions.k8s.io", Resource: "customresourcedefinitions"}
	grPVs                 = schema.GroupResource{Resource: "persistentvolumes"}
	grPVCs                = schema.GroupResource{Resource: "persistentvolumeclaims"}
	grClusterRoles        = schema.GroupResource{Group: "rbac.authorization.k8s.io", Resource: "clusterroles"}
	grClusterRoleBindings = schema.GroupResource{Group: "rbac.authorization.k8s.io", Resource: "clusterrolebindings"}
	grRoleBindings        = schema.GroupResource{Group: "rbac.authorization.k8s.io", Resource: "rolebindings"}
	grPriorityClasses     = schema.GroupResource{Group: "scheduling.k8s.io", Resource: "priorityclasses"}
	grStorageClasses      = schema.GroupResource{Group: "storage.k8s.io", Resource: "storageclasses"}
	grIngressClasses      = schema.GroupResource{Group: "networking.k8s.io", Resource: "ingressclasses"}
	grRuntimeClasses      = schema.GroupResource{Group: "node.k8s.io", Resource: "runtimeclasses"}
)

// relatedClusterTypes are the cluster-scoped types that ClusterResourcesAuto
// takes, for a namespace restore, when selected namespaces need them.
var relatedClusterTypes = []schema.GroupResource{grCRDs, grPVs, grClusterRoles, grClusterRoleBindings,
	grPriorityClasses, grStorageClasses, grIngressClasses, grRuntimeClasses}

// podSpecPaths are where pod specs sit in the workload kinds.
var podSpecPaths = map[string][]string{
	"Pod":                   {"spec"},
	"Deployment":            {"spec", "template", "spec"},
	"ReplicaSet":            {"spec", "template", "spec"},
	"StatefulSet":           {"spec", "template", "spec"},
	"DaemonSet":             {"spec", "template", "spec"},
	"Job":                   {"spec", "template", "spec"},
	"ReplicationController": {"spec", "template", "spec"},
	"CronJob":               {"spec", "jobTemplate", "spec", "template", "spec"},
}

// classNames collects the cluster-scoped classes an object names: the
// priority and runtime classes of its pods, the storage classes of its
// claims, the ingress class of an Ingress.
func classNames(obj *unstructured.Unstructured, names map[schema.GroupResource]map[string]bool) {
	add := func(gr schema.GroupResource, fields ...string) {
		if name, _, _ := unstructured.NestedString(obj.Object, fields...); name != "" {
			if names[gr] == nil {
				names[gr] = map[string]bool{}
			}
			names[gr][name] = true
		}
	}
	if spec, ok := podSpecPaths[obj.GetKind()]; ok {
		add(grPriorityClasses, append(slices.Clone(spec), "priorityClassName")...)
		add(grRuntimeClasses, append(slices.Clone(spec), "runtimeClassName")...)
	}
	switch obj.GetKind() {
	case "PersistentVolumeClaim":
		add(grStorageClasses, "spec", "storageClassName")
	case "StatefulSet":
		templates, _, _ := unstructured.NestedSlice(obj.Object, "spec", "volumeClaimTemplates")
		for _, t := range templates {
			tmpl, _ := t.(map[string]any)
			if name, _, _ := unstructured.NestedString(tmpl, "spec", "storageClassName"); name != "" {
				if names[grStorageClasses] == nil {
					names[grStorageClasses] = map[string]bool{}
				}
				names[grStorageClasses][name] = true
			}
		}
	case "Ingress":
		add(grIngressClasses, "spec", "ingressClassName")
	}
}

// resolveTypes turns user input into resource.group names: first against
// the target's discovery, then against the types the backup holds (for a
// custom resource whose definition the target does not have yet).
func (pl *planner) resolveTypes(flag string, inputs []string) (map[string]bool, error) {
	out := map[string]bool{}
	var errs []error
	for _, in := range inputs {
		if r, err := pl.resources.ResolveUserInput(in); err == nil {
			out[r.String()] = true
			continue
		}
		r, err := snapshot.ResolveResource(pl.manifest, in)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: the target cluster serves no resource type %q, and %w", flag, in, err))
			continue
		}
		out[r] = true
	}
	return out, errors.Join(errs...)
}

// selectPacks picks the packs to read.
func (pl *planner) selectPacks() ([]repo.PackEntry, error) {
	o := pl.opts
	include, err := pl.resolveTypes("include resources", o.IncludeResources)
	if err != nil {
		return nil, err
	}
	exclude, err := pl.resolveTypes("exclude resources", o.ExcludeResources)
	if err != nil {
		return nil, err
	}
	var single string
	if o.Object != nil {
		resolved, err := pl.resolveTypes("object", []string{o.Object.Resource})
		if err != nil {
			return nil, err
		}
		for r := range resolved {
			single = r
		}
		o.Object.Resource = single
	}
	var packs []repo.PackEntry
	for _, p := range pl.manifest.Packs {
		gr := schema.ParseGroupResource(p.Resource)
		if o.Object != nil {
			// The object, and the Namespace object of its namespace.
			if (p.Resource == single && p.Namespace == o.Object.Namespace) ||
				(gr == grNamespaces && o.Object.Namespace != "") {
				packs = append(packs, p)
			}
			continue
		}
		if len(include) > 0 && !include[p.Resource] || exclude[p.Resource] {
			continue
		}
		switch {
		case p.Namespaced:
			if !pl.nsFilter.Match(p.Namespace) {
				continue
			}
		case gr == grNamespaces:
		case o.ClusterResources == ClusterResourcesOff:
			continue
		case o.ClusterResources == ClusterResourcesAuto && !pl.nsFilter.All() && !slices.Contains(relatedClusterTypes, gr):
			continue
		}
		packs = append(packs, p)
	}
	if o.Object != nil && !slices.ContainsFunc(packs, func(p repo.PackEntry) bool { return p.Resource == single }) {
		where := "in namespace " + o.Object.Namespace
		if o.Object.Namespace == "" {
			where = "among its cluster-scoped objects"
		}
		return nil, fmt.Errorf("backup %s holds no %s %s: %w", pl.manifest.ID, single, where, storage.ErrNotFound)
	}
	return packs, nil
}

// readCandidates reads the selected packs and keeps the objects the
// selection takes.
func (pl *planner) readCandidates(ctx context.Context, packs []repo.PackEntry) ([]candidate, error) {
	o := pl.opts
	selector, err := selection.ParseLabelSelector(o.LabelSelector)
	if err != nil {
		return nil, err
	}
	var (
		mu         sync.Mutex
		namespaced []candidate
		namespaces []candidate
		cluster    []candidate
	)
	err = snapshot.Read(ctx, pl.repo, packs, o.Concurrency, func(p repo.PackEntry, objs []*unstructured.Unstructured) error {
		gr := schema.ParseGroupResource(p.Resource)
		mu.Lock()
		defer mu.Unlock()
		for _, obj := range objs {
			c := candidate{pack: p, obj: obj}
			switch {
			case o.Object != nil && gr == grNamespaces && p.Resource != o.Object.Resource:
				if obj.GetName() == o.Object.Namespace {
					namespaces = append(namespaces, c)
				}
			case o.Object != nil:
				if obj.GetName() == o.Object.Name {
					if p.Namespaced {
						namespaced = append(namespaced, c)
					} else {
						cluster = append(cluster, c)
					}
				}
			case gr == grNamespaces:
				if pl.nsFilter.Match(obj.GetName()) {
					namespaces = append(namespaces, c)
				}
			case !selector.Matches(labels.Set(obj.GetLabels())):
			case p.Namespaced:
				namespaced = append(namespaced, c)
			default:
				cluster = append(cluster, c)
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("reading backup %s: %w", pl.manifest.ID, err)
	}
	if o.Object != nil && len(namespaced)+len(cluster) == 0 {
		return nil, fmt.Errorf("backup %s holds no %s named %q in namespace %q: %w", pl.manifest.ID, o.Object.Resource, o.Object.Name, o.Object.Namespace, storage.ErrNotFound)
	}

	// Namespaces with selected objects come along whatever the label
	// selector says: their objects need them.
	used := map[string]bool{}
	for _, c := range namespaced {
		used[c.obj.GetNamespace()] = true
	}
	out := namespaced
	for _, c := range namespaces {
		if used[c.obj.GetName()] || o.Object == nil && selector.Matches(labels.Set(c.obj.GetLabels())) {
			out = append(out, c)
			used[c.obj.GetName()] = true
		}
	}
	if o.Object == nil && o.ClusterResources == ClusterResourcesAuto && !pl.nsFilter.All() {
		cluster = related(cluster, namespaced, used)
	}
	return append(out, cluster...), nil
}

// related keeps the cluster-scoped objects that the selected namespaces
// need (see ClusterResourcesAuto).
func related(cluster, namespaced []candidate, namespaces map[string]bool) []candidate {
	types := map[string]bool{}
	claims := map[string]bool{}
	clusterRoles := map[string]bool{}
	classes := map[schema.GroupResource]map[string]bool{}
	for _, c := range namespaced {
		types[c.pack.Resource] = true
		classNames(c.obj, classes)
		gr := schema.ParseGroupResource(c.pack.Resource)
		switch gr {
		case grPVCs:
			claims[c.obj.GetNamespace()+"/"+c.obj.GetName()] = true
		case grRoleBindings:
			if kind, _, _ := unstructured.NestedString(c.obj.Object, "roleRef", "kind"); kind == "ClusterRole" {
				name, _, _ := unstructured.NestedString(c.obj.Object, "roleRef", "name")
				clusterRoles[name] = true
			}
		}
	}
	var out []candidate
	// Bindings first: they decide which ClusterRoles come.
	for _, c := range cluster {
		if schema.ParseGroupResource(c.pack.Resource) != grClusterRoleBindings {
			continue
		}
		subjects, _, _ := unstructured.NestedSlice(c.obj.Object, "subjects")
		for _, s := range subjects {
			subject, _ := s.(map[string]any)
			if ns, _ := subject["namespace"].(string); ns != "" && namespaces[ns] {
				out = append(out, c)
				if kind, _, _ := unstructured.NestedString(c.obj.Object, "roleRef", "kind"); kind == "ClusterRole" {
					name, _, _ := unstructured.NestedString(c.obj.Object, "roleRef", "name")
					clusterRoles[name] = true
				}
				break
			}
		}
	}
	for _, c := range cluster {
		gr := schema.ParseGroupResource(c.pack.Resource)
		switch gr {
		case grPriorityClasses, grStorageClasses, grIngressClasses, grRuntimeClasses:
			if classes[gr][c.obj.GetName()] {
				out = append(out, c)
			}
		case grCRDs:
			group, _, _ := unstructured.NestedString(c.obj.Object, "spec", "group")
			plural, _, _ := unstructured.NestedString(c.obj.Object, "spec", "names", "plural")
			if types[plural+"."+group] {
				out = append(out, c)
			}
		case grPVs:
			ns, _, _ := unstructured.NestedString(c.obj.Object, "spec", "claimRef", "namespace")
			name, _, _ := unstructured.NestedString(c.obj.Object, "spec", "claimRef", "name")
			if claims[ns+"/"+name] {
				out = append(out, c)
			}
		case grClusterRoles:
			if clusterRoles[c.obj.GetName()] {
				out = append(out, c)
			}
		}
	}
	return out
}
