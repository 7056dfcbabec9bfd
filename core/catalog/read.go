// Package catalog is the one reader of committed backups: it resolves a
// backup (a cluster and an ID, or latest), says which packs hold which
// objects (from the manifest alone), selects them with a
// selection.Matcher, resolves the resource types users name, and reads the
// objects themselves with their hashes checked. describe, get, restore,
// diff, verify, export and the fleet read backups through it, and no other
// package walks a manifest's pack list.
package catalog

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"iter"
	"slices"
	"strings"
	"sync"

	"golang.org/x/sync/errgroup"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/kbackup/kbackup/core/pack"
	"github.com/kbackup/kbackup/core/repo"
	"github.com/kbackup/kbackup/core/selection"
	"github.com/kbackup/kbackup/core/storage"
)

// Select returns the packs of m whose objects sel can take, in manifest
// order. related says whether the caller narrows cluster-scoped objects
// down to those the selected namespaces need (selection.Related), so that
// the packs of selection.RelatedTypes are read for it. A nil sel selects
// every pack.
func Select(m *repo.Manifest, sel *selection.Matcher, related bool) []repo.PackEntry {
	var out []repo.PackEntry
	for _, p := range m.Packs {
		if sel == nil || sel.TakesPart(p.Resource, p.Namespace, p.Namespaced, related) {
			out = append(out, p)
		}
	}
	return out
}

// AbsentNamespaces returns the namespaces sel names plainly (not by a
// pattern) of which m holds neither an object nor the Namespace itself,
// and the namespaces m does hold, sorted: a restore or an export of a
// namespace the backup does not have would otherwise do nothing and say
// it completed.
func AbsentNamespaces(m *repo.Manifest, sel *selection.Matcher) (absent, held []string) {
	if sel == nil {
		return nil, nil
	}
	named := sel.Namespaces().Named()
	if len(named) == 0 {
		return nil, nil
	}
	holds := map[string]bool{}
	for _, p := range m.Packs {
		switch {
		case p.Namespaced:
			holds[p.Namespace] = true
		case schema.ParseGroupResource(p.Resource) == selection.NamespacesResource:
			for _, name := range p.Objects {
				holds[name] = true
			}
		}
	}
	for _, name := range named {
		if !holds[name] {
			absent = append(absent, name)
		}
	}
	for name := range holds {
		held = append(held, name)
	}
	slices.Sort(held)
	return absent, held
}

// CheckNamespaces fails when sel names a namespace that m does not hold
// (AbsentNamespaces), naming the ones it holds.
func CheckNamespaces(m *repo.Manifest, sel *selection.Matcher) error {
	absent, held := AbsentNamespaces(m, sel)
	if len(absent) == 0 {
		return nil
	}
	return &NamespacesNotInBackupError{Backup: m.ID, Cluster: m.Cluster.Name, Absent: absent, Held: held}
}

// NamespacesNotInBackupError says which named namespaces a backup lacks.
type NamespacesNotInBackupError struct {
	Backup, Cluster string
	Absent, Held    []string
}

func (e *NamespacesNotInBackupError) Error() string {
	noun := "namespace"
	if len(e.Absent) > 1 {
		noun = "namespaces"
	}
	holds := "no namespaced object"
	if len(e.Held) > 0 {
		shown := e.Held
		more := ""
		if len(shown) > 20 {
			shown, more = shown[:20], fmt.Sprintf(" and %d more", len(e.Held)-20)
		}
		holds = "namespaces " + strings.Join(shown, ", ") + more
	}
	return fmt.Sprintf("backup %s of cluster %s holds no %s %s; it holds %s: name one of those, or a backup that holds %s",
		e.Backup, e.Cluster, noun, strings.Join(e.Absent, ", "), holds, strings.Join(e.Absent, ", "))
}

// Types returns the resource types (resource.group) of m that sel can take,
// whatever the namespace, with whether they are namespaced. A live side
// compared with the backup lists these.
func Types(m *repo.Manifest, sel *selection.Matcher) map[string]bool {
	out := map[string]bool{}
	for _, p := range m.Packs {
		if sel == nil || sel.TakesType(p.Resource, p.Namespaced, false) {
			out[p.Resource] = p.Namespaced
		}
	}
	return out
}

// Object is one object of a backup with the pack it came from.
type Object struct {
	Pack   repo.PackEntry
	Object *unstructured.Unstructured
}

// Read reads and decodes the packs, up to concurrency at a time, and calls
// fn for each pack's objects in pack order. fn may be called from several
// goroutines at once. The first error (a missing or corrupt pack names its
// key) stops the read.
func Read(ctx context.Context, r *repo.Repository, packs []repo.PackEntry, concurrency int, fn func(repo.PackEntry, []*unstructured.Unstructured) error) error {
	g, ctx := errgroup.WithContext(ctx)
	g.SetLimit(max(concurrency, 1))
	for _, p := range packs {
		g.Go(func() error {
			objs, err := ReadPack(ctx, r, p)
			if err != nil {
				return err
			}
			return fn(p, objs)
		})
	}
	return g.Wait()
}

// ReadPack reads one pack and checks it against its manifest entry.
func ReadPack(ctx context.Context, r *repo.Repository, p repo.PackEntry) ([]*unstructured.Unstructured, error) {
	objs := make([]*unstructured.Unstructured, 0, len(p.Objects))
	err := EachObject(ctx, r, p, func(_ int, o *unstructured.Unstructured) error {
		objs = append(objs, o)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return objs, nil
}

// EachObject reads one pack, checks its hash and that it holds as many
// documents as its manifest entry names, then decodes its objects one at a
// time, checks that each is where the manifest says, and calls fn with its
// position in the pack. Only one decoded object is held at a time, so that
// a caller that keeps few holds about the pack's content and fn's share.
func EachObject(ctx context.Context, r *repo.Repository, p repo.PackEntry, fn func(int, *unstructured.Unstructured) error) error {
	return EachSizedObject(ctx, r, p, func(i int, o *unstructured.Unstructured, _ int) error { return fn(i, o) })
}

// EachSizedObject is EachObject, and says the size of each object's
// document in the pack too: a reader that holds several objects at once
// (a restore's requests in flight) can bound their bytes.
func EachSizedObject(ctx context.Context, r *repo.Repository, p repo.PackEntry, fn func(pos int, obj *unstructured.Unstructured, size int) error) error {
	if p.RawSize > streamPacksAbove {
		return eachObjectStreamed(ctx, r, p, fn)
	}
	content, err := r.ReadPack(ctx, p.PackRef)
	if err != nil {
		return err
	}
	return eachObject(p, func(yield func([]byte, error) bool) {
		for doc, err := range pack.Documents(content) {
			if !yield(doc, err) {
				return
			}
		}
	}, fn)
}

// streamPacksAbove is repo.StreamPacksAbove; tests lower it.
var streamPacksAbove int64 = repo.StreamPacksAbove

// eachObjectStreamed is EachObject for a large pack: it is checked whole
// first (repo.OpenPack), then its documents are counted and decoded from
// the checked bytes as a stream, so that a pack of large objects costs
// about its largest object, not its content.
func eachObjectStreamed(ctx context.Context, r *repo.Repository, p repo.PackEntry, fn func(int, *unstructured.Unstructured, int) error) error {
	s, err := r.OpenPack(ctx, p.PackRef)
	if err != nil {
		return err
	}
	defer s.Close()
	var content io.ReadCloser
	defer func() {
		if content != nil {
			content.Close()
		}
	}()
	docs := func(yield func([]byte, error) bool) {
		if content != nil {
			content.Close()
		}
		var err error
		if content, err = s.Content(); err != nil {
			yield(nil, err)
			return
		}
		for doc, err := range pack.ReadDocuments(content) {
			if !yield(doc, err) {
				return
			}
		}
	}
	return eachObject(p, docs, fn)
}

// eachObject counts the documents docs yields against the manifest entry
// of p, then goes through them again, decoding and checking each object
// and calling fn with it. docs yields the same documents each time.
func eachObject(p repo.PackEntry, docs iter.Seq2[[]byte, error], fn func(int, *unstructured.Unstructured, int) error) error {
	corrupt := func(err error) error {
		if errors.Is(err, repo.ErrCorrupt) { // the repository named the pack
			return err
		}
		return fmt.Errorf("pack %s: %w: %w", p.Key, repo.ErrCorrupt, err)
	}
	n := 0
	for _, err := range docs {
		if err != nil {
			return corrupt(err)
		}
		n++
	}
	if n != len(p.Objects) {
		return fmt.Errorf("pack %s holds %d objects, its manifest entry names %d: %w", p.Key, n, len(p.Objects), repo.ErrCorrupt)
	}
	i := 0
	for doc, err := range docs {
		if err != nil {
			return corrupt(err)
		}
		o, err := pack.DecodeDocument(doc)
		if err != nil {
			return fmt.Errorf("pack %s: %w: document %d: %w", p.Key, repo.ErrCorrupt, i+1, err)
		}
		if err := belongs(p, i, o); err != nil {
			return fmt.Errorf("pack %s: %w: %w", p.Key, repo.ErrCorrupt, err)
		}
		if err := fn(i, o, len(doc)); err != nil {
			return err
		}
		i++
	}
	if i != n {
		return fmt.Errorf("pack %s holds %d objects, its manifest entry names %d: %w", p.Key, i, len(p.Objects), repo.ErrCorrupt)
	}
	return nil
}

// belongs checks that the i-th object of pack p is where the manifest says
// it is. A repository is untrusted input: whoever can write the bucket
// could otherwise put an object for kube-system into a pack of team-a, and
// a restore of team-a would send it there, since every object goes to its
// own metadata.namespace.
func belongs(p repo.PackEntry, i int, o *unstructured.Unstructured) error {
	gv, err := schema.ParseGroupVersion(o.GetAPIVersion())
	switch {
	case err != nil:
		return fmt.Errorf("object %d has apiVersion %q: %w", i+1, o.GetAPIVersion(), err)
	case o.GetName() != p.Objects[i]:
		return fmt.Errorf("object %d is named %q, the manifest names %q there", i+1, o.GetName(), p.Objects[i])
	case o.GetNamespace() != p.Namespace:
		return fmt.Errorf("object %s is in namespace %q, but the pack holds the objects of %s", o.GetName(), o.GetNamespace(), where(p.Namespace))
	case gv.Group != p.Group || gv.Version != p.Version || o.GetKind() != p.Kind:
		return fmt.Errorf("object %s is a %s %s, but the pack holds %s %s", o.GetName(), o.GetAPIVersion(), o.GetKind(),
			schema.GroupVersion{Group: p.Group, Version: p.Version}, p.Kind)
	}
	return nil
}

func where(namespace string) string {
	if namespace == "" {
		return "no namespace (cluster-scoped)"
	}
	return "namespace " + namespace
}

// ReadAll reads every selected object, sorted by resource, namespace and
// name. It holds them all: use Read for large backups.
func ReadAll(ctx context.Context, r *repo.Repository, packs []repo.PackEntry, concurrency int) ([]Object, error) {
	var mu sync.Mutex
	var out []Object
	err := Read(ctx, r, packs, concurrency, func(p repo.PackEntry, objs []*unstructured.Unstructured) error {
		mu.Lock()
		defer mu.Unlock()
		for _, o := range objs {
			out = append(out, Object{Pack: p, Object: o})
		}
		return nil
	})
	slices.SortFunc(out, func(a, b Object) int {
		return cmp.Or(
			strings.Compare(a.Pack.Resource, b.Pack.Resource),
			strings.Compare(a.Pack.Namespace, b.Pack.Namespace),
			strings.Compare(a.Object.GetName(), b.Object.GetName()),
		)
	})
	return out, err
}

// ResolveResource finds the resource type a user means among those the
// backup holds: resource.group ("deployments.apps"), the plural
// ("deployments"), the kind ("Deployment", any case) or the singular
// ("deployment"). A plural or kind held in two groups is ambiguous, and the
// error lists both.
func ResolveResource(m *repo.Manifest, input string) (string, error) {
	in := strings.ToLower(strings.TrimSpace(input))
	var matches []string
	for _, p := range m.Packs {
		plural, _, _ := strings.Cut(p.Resource, ".")
		kind := strings.ToLower(p.Kind)
		switch in {
		case p.Resource, plural, kind, plural + "." + p.Group:
			if !slices.Contains(matches, p.Resource) {
				matches = append(matches, p.Resource)
			}
		}
	}
	switch len(matches) {
	case 1:
		return matches[0], nil
	case 0:
		return "", fmt.Errorf("backup %s holds no resource type %q; it holds: %s", m.ID, input, strings.Join(Resources(m), ", "))
	}
	slices.Sort(matches)
	return "", fmt.Errorf("resource type %q is ambiguous in backup %s: say which of %s", input, m.ID, strings.Join(matches, ", "))
}

// Holds reports whether input is exactly the name of a resource type the
// backup holds (resource.group), which no discovery could read otherwise.
func Holds(m *repo.Manifest, input string) bool {
	return slices.ContainsFunc(m.Packs, func(p repo.PackEntry) bool { return p.Resource == input })
}

// Resources lists the resource types a backup holds, sorted.
func Resources(m *repo.Manifest) []string {
	var rs []string
	for _, p := range m.Packs {
		rs = append(rs, p.Resource)
	}
	slices.Sort(rs)
	return slices.Compact(rs)
}

// Find returns one object of a backup. namespace is "" for cluster-scoped
// types.
func Find(ctx context.Context, r *repo.Repository, m *repo.Manifest, resource, namespace, name string) (*unstructured.Unstructured, error) {
	for _, p := range m.Packs {
		if p.Resource != resource || p.Namespace != namespace {
			continue
		}
		if _, found := slices.BinarySearch(p.Objects, name); !found {
			break
		}
		objs, err := ReadPack(ctx, r, p)
		if err != nil {
			return nil, err
		}
		for _, o := range objs {
			if o.GetName() == name {
				return o, nil
			}
		}
	}
	where := "in namespace " + namespace
	if namespace == "" {
		where = "among cluster-scoped objects"
	}
	return nil, fmt.Errorf("backup %s holds no %s named %q %s: %w", m.ID, resource, name, where, storage.ErrNotFound)
}

// Count is how many objects of one type one namespace holds.
type Count struct {
	Namespace string `json:"namespace,omitempty"`
	Resource  string `json:"resource"`
	Objects   int    `json:"objects"`
	Bytes     int64  `json:"bytes"`
}

// Counts lists the objects of a backup per namespace and type, from the
// manifest alone, sorted by namespace (cluster-scoped first) and type.
func Counts(m *repo.Manifest) []Count {
	counts := make([]Count, 0, len(m.Packs))
	for _, p := range m.Packs {
		counts = append(counts, Count{Namespace: p.Namespace, Resource: p.Resource, Objects: len(p.Objects), Bytes: p.Size})
	}
	slices.SortFunc(counts, func(a, b Count) int {
		return cmp.Or(strings.Compare(a.Namespace, b.Namespace), strings.Compare(a.Resource, b.Resource))
	})
	return counts
}

// Packs returns every pack of m, in manifest order.
func Packs(m *repo.Manifest) []repo.PackEntry { return slices.Clone(m.Packs) }

// Namespaced says whether a backup's objects of resource live in
// namespaces, from the manifest; a type it does not hold counts as
// namespaced.
func Namespaced(m *repo.Manifest, resource string) bool {
	for _, p := range m.Packs {
		if p.Resource == resource {
			return p.Namespaced
		}
	}
	return true
}

// PackContent is what one pack of a backup holds, read and checked, or why
// it could not be read.
type PackContent struct {
	Pack repo.PackEntry
	// Objects are the names of the objects read.
	Objects []string
	Err     error
}

// ReadEveryPack reads every pack of m, which checks each against its hash,
// and returns them in manifest order, with the error of each pack that
// failed: one bad pack does not hide the others.
func ReadEveryPack(ctx context.Context, r *repo.Repository, m *repo.Manifest) []PackContent {
	out := make([]PackContent, len(m.Packs))
	for i, p := range m.Packs {
		out[i].Pack = p
		objs, err := ReadPack(ctx, r, p)
		if err != nil {
			out[i].Err = err
			continue
		}
		for _, o := range objs {
			out[i].Objects = append(out[i].Objects, o.GetName())
		}
	}
	return out
}
