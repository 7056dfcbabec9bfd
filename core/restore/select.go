package restore

import (
	"context"
	"fmt"
	"slices"
	"sync"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/kbackup/kbackup/core/catalog"
	"github.com/kbackup/kbackup/core/repo"
	"github.com/kbackup/kbackup/core/selection"
	"github.com/kbackup/kbackup/core/storage"
)

// candidate is an object of the backup that the selection took.
type candidate struct {
	pack repo.PackEntry
	obj  *unstructured.Unstructured
}

var (
	grNamespaces = selection.NamespacesResource
	grCRDs       = schema.GroupResource{Group: "apiextensions.k8s.io", Resource: "customresourcedefinitions"}
	grPVCs       = schema.GroupResource{Resource: "persistentvolumeclaims"}
)

// compileSelection resolves the selection's types: through the target's
// discovery, then through the backup (for a custom resource whose
// definition the target does not have yet).
func (pl *planner) compileSelection() error {
	types := catalog.TypeNames{Discovery: pl.resources, Backups: []*repo.Manifest{pl.manifest}}
	m, err := pl.opts.Selection.Compile(nil, types.Resolver())
	if err != nil {
		return err
	}
	pl.sel = m
	if o := pl.opts.Object; o != nil {
		r, err := types.Resolve(o.Resource)
		if err != nil {
			return field.Invalid(field.NewPath(FieldObject, "resource"), o.Resource, err.Error())
		}
		o.Resource = r
	}
	return nil
}

// selectPacks picks the packs to read.
func (pl *planner) selectPacks() ([]repo.PackEntry, error) {
	o := pl.opts
	if o.Object == nil {
		return catalog.Select(pl.manifest, pl.sel, true), nil
	}
	// The object, and the Namespace object of its namespace.
	var packs []repo.PackEntry
	for _, p := range catalog.Packs(pl.manifest) {
		if (p.Resource == o.Object.Resource && p.Namespace == o.Object.Namespace) ||
			(schema.ParseGroupResource(p.Resource) == grNamespaces && o.Object.Namespace != "") {
			packs = append(packs, p)
		}
	}
	if !slices.ContainsFunc(packs, func(p repo.PackEntry) bool { return p.Resource == o.Object.Resource }) {
		where := "in namespace " + o.Object.Namespace
		if o.Object.Namespace == "" {
			where = "among its cluster-scoped objects"
		}
		return nil, fmt.Errorf("backup %s holds no %s %s: %w", pl.manifest.ID, o.Object.Resource, where, storage.ErrNotFound)
	}
	return packs, nil
}

// readCandidates reads the selected packs and keeps the objects the
// selection takes.
func (pl *planner) readCandidates(ctx context.Context, packs []repo.PackEntry) ([]candidate, error) {
	o := pl.opts
	var (
		mu         sync.Mutex
		namespaced []candidate
		namespaces []candidate
		cluster    []candidate
	)
	err := catalog.Read(ctx, pl.repo, packs, o.Concurrency, func(p repo.PackEntry, objs []*unstructured.Unstructured) error {
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
				if pl.sel.TakesNamespace(obj.GetName()) {
					namespaces = append(namespaces, c)
				}
			case !pl.sel.MatchesLabels(obj):
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
		if used[c.obj.GetName()] || o.Object == nil && pl.sel.MatchesLabels(c.obj) {
			out = append(out, c)
			used[c.obj.GetName()] = true
		}
	}
	if o.Object == nil {
		cluster = pl.related(cluster, namespaced, used)
	}
	return append(out, cluster...), nil
}

// related keeps, of the cluster-scoped types the selection takes only where
// the selected namespaces need them, the objects they need.
func (pl *planner) related(cluster, namespaced []candidate, namespaces map[string]bool) []candidate {
	var kept, narrowed []candidate
	for _, c := range cluster {
		if pl.sel.NeedsRelated(c.pack.Resource) {
			narrowed = append(narrowed, c)
		} else {
			kept = append(kept, c)
		}
	}
	if len(narrowed) == 0 {
		return kept
	}
	objects := func(cs []candidate) []selection.Object {
		out := make([]selection.Object, len(cs))
		for i, c := range cs {
			out[i] = selection.Object{Resource: c.pack.Resource, Object: c.obj}
		}
		return out
	}
	for _, i := range selection.Related(objects(narrowed), objects(namespaced), namespaces) {
		kept = append(kept, narrowed[i])
	}
	return kept
}
