package restore

import (
	"context"
	"fmt"
	"slices"
	"sync"

	"golang.org/x/sync/errgroup"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/kbackup/kbackup/core/catalog"
	"github.com/kbackup/kbackup/core/clean"
	"github.com/kbackup/kbackup/core/repo"
	"github.com/kbackup/kbackup/core/selection"
	"github.com/kbackup/kbackup/core/storage"
)

var (
	grNamespaces          = selection.NamespacesResource
	grCRDs                = schema.GroupResource{Group: "apiextensions.k8s.io", Resource: "customresourcedefinitions"}
	grPVCs                = schema.GroupResource{Resource: "persistentvolumeclaims"}
	grPVs                 = schema.GroupResource{Resource: "persistentvolumes"}
	grClusterRoleBindings = schema.GroupResource{Group: "rbac.authorization.k8s.io", Resource: "clusterrolebindings"}
	grRoleBindings        = schema.GroupResource{Group: "rbac.authorization.k8s.io", Resource: "rolebindings"}
)

// packReads bounds the packs read and decoded at once while planning: each
// is held whole while it is read, so memory grows with it, and planning
// spends its time decoding, which two cores do no faster sixteen at a time.
const packReads = 4

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
		if err := catalog.CheckNamespaces(pl.manifest, pl.sel); err != nil {
			return nil, err
		}
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

// survey is what a first read of the selected packs learns, so that the
// second read can decide each object on its own, a pack at a time: which
// namespaces and related cluster-scoped objects are taken, and the few
// facts about other objects that cleaning and ordering need. It holds names
// and UIDs, not objects.
type survey struct {
	sel    *selection.Matcher
	object *ObjectRef

	// namespaces are the source namespaces whose Namespace objects are
	// taken: those with selected objects, and those the selection takes by
	// their labels.
	namespaces map[string]bool
	// related are the names of the cluster-scoped objects, by type, that a
	// namespace selection takes because its namespaces need them.
	related map[string]map[string]bool
	// restored are the objects the restore brings (not excluded by a
	// rule), by source UID: an object whose controller is among them is
	// left for that controller.
	restored map[types.UID]struct{}
	// tokenSecrets are the ServiceAccount token Secrets, "namespace/name".
	tokenSecrets map[string]bool
	// crdOf names the restored CustomResourceDefinition of each custom
	// resource type (resource.group).
	crdOf map[string]string
	// restoredPVs are the PersistentVolumes the restore brings.
	restoredPVs map[string]bool
	// owners are the UIDs that objects of the backup name as their
	// owners: the plan keeps the source UID of only these objects.
	owners map[types.UID]struct{}
	// found counts the objects an Object restore found.
	found int
}

// noteOwners records the UIDs obj names as its owners.
func (s *survey) noteOwners(obj *unstructured.Unstructured) {
	refs, _, _ := unstructured.NestedSlice(obj.Object, "metadata", "ownerReferences")
	for _, ref := range refs {
		if m, ok := ref.(map[string]any); ok {
			if uid, ok := m["uid"].(string); ok && uid != "" {
				s.owners[types.UID(uid)] = struct{}{}
			}
		}
	}
}

// takes reports whether the restore takes an object of pack p. It holds
// once the survey is done.
func (s *survey) takes(p repo.PackEntry, obj *unstructured.Unstructured) bool {
	gr := schema.ParseGroupResource(p.Resource)
	switch o := s.object; {
	case o != nil && gr == grNamespaces && p.Resource != o.Resource:
		return s.namespaces[obj.GetName()]
	case o != nil:
		return obj.GetName() == o.Name
	case gr == grNamespaces:
		return s.namespaces[obj.GetName()]
	case !s.sel.MatchesLabels(obj):
		return false
	case !p.Namespaced && s.sel.NeedsRelated(p.Resource):
		return s.related[p.Resource][obj.GetName()]
	}
	return true
}

// note records what the survey keeps of an object the restore takes.
func (s *survey) note(p repo.PackEntry, obj *unstructured.Unstructured) {
	gr := schema.ParseGroupResource(p.Resource)
	if clean.ExcludedObject(gr, obj) == "" && obj.GetUID() != "" {
		s.restored[obj.GetUID()] = struct{}{}
	}
	switch gr {
	case grCRDs:
		group, _, _ := unstructured.NestedString(obj.Object, "spec", "group")
		plural, _, _ := unstructured.NestedString(obj.Object, "spec", "names", "plural")
		s.crdOf[plural+"."+group] = obj.GetName()
	case grPVs:
		if clean.ExcludedObject(gr, obj) == "" {
			s.restoredPVs[obj.GetName()] = true
		}
	}
	if p.Resource == "secrets" && obj.Object["type"] == clean.SecretTypeSAToken {
		s.tokenSecrets[obj.GetNamespace()+"/"+obj.GetName()] = true
	}
	if p.Namespaced {
		s.found++
	} else if gr != grNamespaces {
		s.found++
	}
}

// surveyPacks reads the selected packs once: first everything but the
// Namespace objects and the related cluster-scoped types, which depend on
// what the namespaces hold; then those, bindings before the roles they
// bind.
func (pl *planner) surveyPacks(ctx context.Context, packs []repo.PackEntry) (*survey, error) {
	s := &survey{sel: pl.sel, object: pl.opts.Object, namespaces: map[string]bool{}, related: map[string]map[string]bool{},
		restored: map[types.UID]struct{}{}, tokenSecrets: map[string]bool{}, crdOf: map[string]string{}, restoredPVs: map[string]bool{}, owners: map[types.UID]struct{}{}}
	type nsCandidate struct {
		p        repo.PackEntry
		obj      *unstructured.Unstructured
		byLabels bool
	}
	var (
		mu           sync.Mutex
		nsCandidates []nsCandidate
		used         = map[string]bool{}
		needs        = selection.NewRelatedNeeds()
		first        []repo.PackEntry
		bindings     []repo.PackEntry
		related      []repo.PackEntry
	)
	for _, p := range packs {
		switch gr := schema.ParseGroupResource(p.Resource); {
		case s.object == nil && !p.Namespaced && pl.sel.NeedsRelated(p.Resource) && gr == grClusterRoleBindings:
			bindings = append(bindings, p)
		case s.object == nil && !p.Namespaced && pl.sel.NeedsRelated(p.Resource):
			related = append(related, p)
		default:
			first = append(first, p)
		}
	}
	err := pl.readPacks(ctx, first, func(p repo.PackEntry, obj *unstructured.Unstructured) {
		gr := schema.ParseGroupResource(p.Resource)
		mu.Lock()
		defer mu.Unlock()
		s.noteOwners(obj)
		switch o := s.object; {
		case gr == grNamespaces && (o == nil || p.Resource != o.Resource):
			if o != nil && obj.GetName() == o.Namespace || o == nil && pl.sel.TakesNamespace(obj.GetName()) {
				// Only the name, the UID and the kind are kept.
				lean := &unstructured.Unstructured{}
				lean.SetKind(obj.GetKind())
				lean.SetName(obj.GetName())
				lean.SetUID(obj.GetUID())
				nsCandidates = append(nsCandidates, nsCandidate{p: p, obj: lean, byLabels: o == nil && pl.sel.MatchesLabels(obj)})
			}
		case !s.takes(p, obj):
		default:
			s.note(p, obj)
			if p.Namespaced {
				used[obj.GetNamespace()] = true
				if s.object == nil {
					needs.Add(selection.Object{Resource: p.Resource, Object: obj})
				}
			}
		}
	})
	if err != nil {
		return nil, fmt.Errorf("reading backup %s: %w", pl.manifest.ID, err)
	}
	if s.object != nil && s.found == 0 {
		o := s.object
		return nil, fmt.Errorf("backup %s holds no %s named %q in namespace %q: %w", pl.manifest.ID, o.Resource, o.Name, o.Namespace, storage.ErrNotFound)
	}
	// Namespaces with selected objects come along whatever the label
	// selector says: their objects need them.
	for _, c := range nsCandidates {
		if used[c.obj.GetName()] || c.byLabels {
			s.namespaces[c.obj.GetName()] = true
			s.note(c.p, c.obj)
		}
	}
	for name := range used {
		s.namespaces[name] = true
	}
	for _, group := range [][]repo.PackEntry{bindings, related} {
		err := pl.readPacks(ctx, group, func(p repo.PackEntry, obj *unstructured.Unstructured) {
			mu.Lock()
			defer mu.Unlock()
			s.noteOwners(obj)
			if !pl.sel.MatchesLabels(obj) || !needs.Take(selection.Object{Resource: p.Resource, Object: obj}, s.namespaces) {
				return
			}
			if s.related[p.Resource] == nil {
				s.related[p.Resource] = map[string]bool{}
			}
			s.related[p.Resource][obj.GetName()] = true
			s.note(p, obj)
		})
		if err != nil {
			return nil, fmt.Errorf("reading backup %s: %w", pl.manifest.ID, err)
		}
	}
	return s, nil
}

// readPacks reads packs, packReads at a time, and calls fn with each
// object as it is decoded, from several goroutines.
func (pl *planner) readPacks(ctx context.Context, packs []repo.PackEntry, fn func(repo.PackEntry, *unstructured.Unstructured)) error {
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(min(packReads, pl.opts.Concurrency))
	for _, p := range packs {
		g.Go(func() error {
			return catalog.EachObject(gctx, pl.repo, p, func(_ int, obj *unstructured.Unstructured) error {
				fn(p, obj)
				return nil
			})
		})
	}
	return g.Wait()
}
