// Package snapshot reads what a committed backup holds: which packs hold
// which objects (from the manifest alone), and the objects themselves, read
// from the repository with their hashes checked. describe, get, restore,
// diff and export all read backups through it.
package snapshot

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"

	"golang.org/x/sync/errgroup"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/kbackup/kbackup/core/kube"
	"github.com/kbackup/kbackup/core/pack"
	"github.com/kbackup/kbackup/core/repo"
	"github.com/kbackup/kbackup/core/storage"
)

// Filter selects packs of a backup. Empty fields select everything.
type Filter struct {
	// Namespaces are names; "" selects cluster-scoped packs.
	Namespaces []string
	// ClusterScoped selects cluster-scoped packs along with Namespaces.
	ClusterScoped bool
	// Resources are resource.group names as the manifest records them.
	Resources []string
}

func (f Filter) matches(p repo.PackEntry) bool {
	if len(f.Resources) > 0 && !slices.Contains(f.Resources, p.Resource) {
		return false
	}
	if len(f.Namespaces) == 0 {
		return true
	}
	if p.Namespace == "" {
		return f.ClusterScoped
	}
	return slices.Contains(f.Namespaces, p.Namespace)
}

// Select returns the packs of m that f selects, in manifest order.
func Select(m *repo.Manifest, f Filter) []repo.PackEntry {
	var out []repo.PackEntry
	for _, p := range m.Packs {
		if f.matches(p) {
			out = append(out, p)
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
	content, err := r.ReadPack(ctx, p.PackRef)
	if err != nil {
		return nil, err
	}
	objs, err := pack.Decode(content)
	if err != nil {
		return nil, fmt.Errorf("pack %s: %w: %w", p.Key, repo.ErrCorrupt, err)
	}
	if len(objs) != len(p.Objects) {
		return nil, fmt.Errorf("pack %s holds %d objects, its manifest entry names %d: %w", p.Key, len(objs), len(p.Objects), repo.ErrCorrupt)
	}
	return objs, nil
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

// ResolveUserResource finds the resource type a user means among those the
// backup holds, reading the input as kubectl does when a cluster's
// discovery is at hand (found, which may be nil): first through discovery,
// which knows short names ("cm", "deploy") and prefers the core group for a
// name two groups share; then, when there is no discovery or what it names
// is not in the backup, through the manifest alone (ResolveResource), which
// also finds custom resources whose definition the cluster does not serve.
func ResolveUserResource(m *repo.Manifest, found *kube.Resources, input string) (string, error) {
	discovered := ""
	if found != nil {
		if res, err := found.ResolveUserInput(input); err == nil {
			discovered = res.String()
			if Holds(m, discovered) {
				return discovered, nil
			}
		}
	}
	resource, err := ResolveResource(m, input)
	if err != nil && discovered != "" && discovered != strings.ToLower(strings.TrimSpace(input)) {
		return "", fmt.Errorf("%w (the cluster reads %q as %s)", err, input, discovered)
	}
	return resource, err
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
