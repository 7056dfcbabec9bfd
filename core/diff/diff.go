package diff

import (
	"cmp"
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"

	"golang.org/x/sync/errgroup"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/kbackup/kbackup/core/catalog"
	"github.com/kbackup/kbackup/core/clean"
	"github.com/kbackup/kbackup/core/kube"
	"github.com/kbackup/kbackup/core/repo"
	"github.com/kbackup/kbackup/core/selection"
)

// Change is how an object differs between the two sides of a diff, read
// from the first side ("from") to the second ("to").
type Change string

const (
	// Added: the object is on the "to" side only. Backup against live: it
	// was created since the backup. Backup against backup: the later
	// backup has it and the earlier does not.
	Added Change = "Added"
	// Removed: the object is on the "from" side only. Backup against
	// live: it was deleted since the backup.
	Removed Change = "Removed"
	// Changed: both sides have it, and after cleaning they differ.
	Changed Change = "Changed"
)

// Options select what a diff compares. Empty fields select everything the
// backup holds.
type Options struct {
	// Selection selects the objects compared: namespaces as named in the
	// backup, types resolved against the live cluster's discovery and the
	// backups (catalog.TypeNames). A selection of some namespaces leaves
	// out cluster-scoped objects but those of types it names and the
	// Namespace objects.
	selection.Selection
	// NamespaceMapping compares a backup's namespace with a live namespace
	// of another name (after a restore with a mapping): source:target.
	NamespaceMapping clean.NamespaceMapping `json:"namespaceMapping,omitempty"`
	// Clean tunes the cleaning of both sides (KeepStatus compares status
	// too).
	Clean clean.Options `json:"clean"`
	// Context is the number of unchanged lines around changes (default 3).
	Context *int `json:"context,omitempty"`
	// Concurrency bounds reads of packs and LISTs (default 8).
	Concurrency int `json:"concurrency,omitempty"`
}

// Side says what one side of a diff is.
type Side struct {
	// Kind is "backup" or "live".
	Kind    string `json:"kind"`
	Cluster string `json:"cluster"`
	// BackupID is set for a backup.
	BackupID string `json:"backupId,omitempty"`
	// Server is the API server of a live cluster.
	Server string `json:"server,omitempty"`
}

func (s Side) label() string {
	if s.Kind == "live" {
		return "live"
	}
	return "backup/" + s.BackupID
}

// Entry is one object that differs.
type Entry struct {
	Change   Change `json:"change"`
	Resource string `json:"resource"`
	Kind     string `json:"kind"`
	// Namespace is the namespace on the "to" side (after mapping).
	Namespace string `json:"namespace,omitempty"`
	Name      string `json:"name"`
	// Diff is the unified diff from the "from" side to the "to" side.
	Diff string `json:"diff"`
}

// Count sums one namespace and type.
type Count struct {
	Namespace string `json:"namespace,omitempty"`
	Resource  string `json:"resource,omitempty"`
	Added     int    `json:"added"`
	Removed   int    `json:"removed"`
	Changed   int    `json:"changed"`
	Unchanged int    `json:"unchanged"`
}

func (c *Count) add(ch Change) {
	switch ch {
	case Added:
		c.Added++
	case Removed:
		c.Removed++
	case Changed:
		c.Changed++
	default:
		c.Unchanged++
	}
}

// Report is the outcome of a diff.
type Report struct {
	From    Side    `json:"from"`
	To      Side    `json:"to"`
	Options Options `json:"options"`
	// Entries are the objects that differ, sorted by namespace, type and
	// name.
	Entries []Entry `json:"entries"`
	// Counts per namespace and type (unchanged objects included); Totals
	// over everything.
	Counts   []Count  `json:"counts"`
	Totals   Count    `json:"totals"`
	Warnings []string `json:"warnings,omitempty"`
}

// HasChanges reports whether anything was added, removed or changed.
func (r *Report) HasChanges() bool { return len(r.Entries) > 0 }

// object is one side's cleaned object.
type object struct {
	resource string
	obj      *unstructured.Unstructured
}

// sideObjects maps "resource namespace/name" to a cleaned object.
type sideObjects map[string]object

func objectKey(resource, namespace, name string) string {
	return resource + " " + namespace + "/" + name
}

// filter is the selection of Options, resolved.
type filter struct {
	opts Options
	sel  *selection.Matcher
}

// Validate checks the options that need no cluster and no backup; errors
// name the field.
func (o Options) Validate() error {
	errs := o.Selection.Validate(nil)
	if err := o.NamespaceMapping.Validate(); err != nil {
		errs = append(errs, field.Invalid(field.NewPath(FieldNamespaceMapping), o.NamespaceMapping.String(), err.Error()))
	}
	return errs.ToAggregate()
}

func newFilter(opts Options, types catalog.TypeNames) (*filter, error) {
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	sel, err := opts.Selection.Compile(nil, types.Resolver())
	if err != nil {
		return nil, err
	}
	return &filter{opts: opts, sel: sel}, nil
}

// namespaces is the Namespace type as packs name it.
var namespaces = selection.NamespacesResource.String()

// FieldNamespaceMapping names Options.NamespaceMapping in error paths.
const FieldNamespaceMapping = "namespace_mapping"

// readBackup reads the selected objects of a backup, cleaned, and mapped
// when mapped is set.
func readBackup(ctx context.Context, r *repo.Repository, m *repo.Manifest, f *filter, mapped bool) (sideObjects, error) {
	packs := catalog.Select(m, f.sel, false)
	out := sideObjects{}
	var mu sync.Mutex
	err := catalog.Read(ctx, r, packs, concurrency(f.opts), func(p repo.PackEntry, objs []*unstructured.Unstructured) error {
		mu.Lock()
		defer mu.Unlock()
		for _, o := range objs {
			if !f.sel.TakesObject(p.Resource, o.GetNamespace(), o) {
				continue
			}
			c := clean.Object(o, f.opts.Clean)
			if mapped {
				f.opts.NamespaceMapping.Apply(c)
			}
			out[objectKey(p.Resource, c.GetNamespace(), c.GetName())] = object{resource: p.Resource, obj: c}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("reading backup %s of cluster %s: %w", m.ID, m.Cluster.Name, err)
	}
	return out, nil
}

func concurrency(o Options) int {
	if o.Concurrency <= 0 {
		return 8
	}
	return o.Concurrency
}

// BackupToLive compares a backup (from) with the live cluster (to). The live
// side is read as the backup would read it now: the types the backup holds
// (one LIST each), within the backup's own namespace and label selection
// and the options' selection. A type the backup holds no object of is not
// listed, so objects of such a type are not reported as added.
func BackupToLive(ctx context.Context, r *repo.Repository, m *repo.Manifest, live *kube.Client, opts Options) (*Report, error) {
	// A failed LIST stops the others in flight; the error says so once.
	ctx = kube.QuietCancellations(ctx)
	found, err := live.Discover(ctx)
	if err != nil {
		return nil, err
	}
	f, err := newFilter(opts, catalog.TypeNames{Discovery: found, Backups: []*repo.Manifest{m}})
	if err != nil {
		return nil, err
	}
	from, err := readBackup(ctx, r, m, f, true)
	if err != nil {
		return nil, err
	}
	rep := &Report{
		From:    Side{Kind: "backup", Cluster: m.Cluster.Name, BackupID: m.ID},
		To:      Side{Kind: "live", Server: live.Server, Cluster: live.ContextName},
		Options: opts,
	}
	to, warnings, err := readLive(ctx, live, found, m, f)
	if err != nil {
		return nil, err
	}
	rep.Warnings = warnings
	return compare(rep, from, to, opts)
}

// readLive lists the live objects of the types the backup holds.
func readLive(ctx context.Context, c *kube.Client, found *kube.Resources, m *repo.Manifest, f *filter) (sideObjects, []string, error) {
	// Every type the backup holds, in any namespace: a namespace the
	// backup does not have may hold objects added since.
	types := catalog.Types(m, f.sel)
	reverse := map[string]string{}
	for src, dst := range f.opts.NamespaceMapping {
		reverse[dst] = src
	}
	// What the backup selected, so that the live side is compared with
	// the same selection. The manifest's options were checked when the
	// backup was taken.
	backupSel, err := selection.ParseLabelSelector(m.Options.LabelSelector)
	if err != nil {
		backupSel = labels.Everything()
	}
	backupNamespaces, err := selection.NewNamespaces(m.Options.IncludeNamespaces, m.Options.ExcludeNamespaces)
	if err != nil {
		return nil, nil, fmt.Errorf("backup %s: %w", m.ID, err)
	}
	out := sideObjects{}
	var warnings []string
	var mu sync.Mutex
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(concurrency(f.opts))
	for _, resource := range slices.Sorted(maps.Keys(types)) {
		res, ok := found.Lookup(schema.ParseGroupResource(resource))
		if !ok {
			warnings = append(warnings, fmt.Sprintf("the live cluster serves no %s; its objects in the backup show as removed", resource))
			continue
		}
		g.Go(func() error {
			return c.ListObjects(gctx, res.GroupVersionResource(), "", "", func(page []unstructured.Unstructured) error {
				mu.Lock()
				defer mu.Unlock()
				for i := range page {
					o := &page[i]
					// A live namespace that a mapping maps away from is not
					// the backup's namespace here (its target is): after a
					// restore beside the original, the original is not
					// compared.
					raw := o.GetNamespace()
					if resource == namespaces {
						raw = o.GetName()
					}
					if _, source := f.opts.NamespaceMapping[raw]; source {
						if _, target := reverse[raw]; !target {
							continue
						}
					}
					// The namespace as the backup names it.
					ns := o.GetNamespace()
					if src, ok := reverse[ns]; ok {
						ns = src
					}
					if resource == namespaces {
						ns = o.GetName()
						if src, ok := reverse[ns]; ok {
							ns = src
						}
					}
					if ns != "" && !backupNamespaces.Match(ns) {
						continue
					}
					if resource != namespaces && !backupSel.Matches(labels.Set(o.GetLabels())) {
						continue
					}
					if resource == namespaces {
						if !f.sel.TakesNamespace(ns) || !f.sel.MatchesLabels(o) {
							continue
						}
					} else if !f.sel.TakesObject(resource, ns, o) {
						continue
					}
					cleaned := clean.Copy(o, f.opts.Clean)
					out[objectKey(resource, cleaned.GetNamespace(), cleaned.GetName())] = object{resource: resource, obj: cleaned}
				}
				return nil
			})
		})
	}
	if err := g.Wait(); err != nil {
		return nil, nil, fmt.Errorf("listing the live cluster %s: %w", c.Server, err)
	}
	return out, warnings, nil
}

// BackupToBackup compares two backups: from (usually the earlier) and to.
// They may be of different clusters.
func BackupToBackup(ctx context.Context, r *repo.Repository, from, to *repo.Manifest, opts Options) (*Report, error) {
	f, err := newFilter(opts, catalog.TypeNames{Backups: []*repo.Manifest{from, to}})
	if err != nil {
		return nil, err
	}
	a, err := readBackup(ctx, r, from, f, false)
	if err != nil {
		return nil, err
	}
	b, err := readBackup(ctx, r, to, f, false)
	if err != nil {
		return nil, err
	}
	rep := &Report{
		From:    Side{Kind: "backup", Cluster: from.Cluster.Name, BackupID: from.ID},
		To:      Side{Kind: "backup", Cluster: to.Cluster.Name, BackupID: to.ID},
		Options: opts,
	}
	return compare(rep, a, b, opts)
}

// compare fills the report from the two sides.
func compare(rep *Report, from, to sideObjects, opts Options) (*Report, error) {
	context := DefaultContext
	if opts.Context != nil {
		context = *opts.Context
	}
	counts := map[[2]string]*Count{}
	count := func(ns, resource string, ch Change) {
		k := [2]string{ns, resource}
		if counts[k] == nil {
			counts[k] = &Count{Namespace: ns, Resource: resource}
		}
		counts[k].add(ch)
		rep.Totals.add(ch)
	}
	keys := slices.Collect(maps.Keys(from))
	for k := range to {
		if _, ok := from[k]; !ok {
			keys = append(keys, k)
		}
	}
	for _, k := range keys {
		a, inFrom := from[k]
		b, inTo := to[k]
		o := cmp.Or(b, a)
		label := o.resource + " " + o.obj.GetNamespace() + "/" + o.obj.GetName()
		if o.obj.GetNamespace() == "" {
			label = o.resource + " " + o.obj.GetName()
		}
		text, differs, err := Objects(a.obj, b.obj, rep.From.label()+"/"+label, rep.To.label()+"/"+label, context)
		if err != nil {
			return nil, err
		}
		var ch Change
		switch {
		case !inTo:
			ch = Removed
		case !inFrom:
			ch = Added
		case differs:
			ch = Changed
		}
		count(o.obj.GetNamespace(), o.resource, ch)
		if ch != "" {
			rep.Entries = append(rep.Entries, Entry{Change: ch, Resource: o.resource, Kind: o.obj.GetKind(),
				Namespace: o.obj.GetNamespace(), Name: o.obj.GetName(), Diff: text})
		}
	}
	slices.SortFunc(rep.Entries, func(x, y Entry) int {
		return cmp.Or(strings.Compare(x.Namespace, y.Namespace), strings.Compare(x.Resource, y.Resource), strings.Compare(x.Name, y.Name))
	})
	for _, c := range counts {
		rep.Counts = append(rep.Counts, *c)
	}
	slices.SortFunc(rep.Counts, func(x, y Count) int {
		return cmp.Or(strings.Compare(x.Namespace, y.Namespace), strings.Compare(x.Resource, y.Resource))
	})
	slices.Sort(rep.Warnings)
	return rep, nil
}
