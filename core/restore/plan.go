package restore

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes/scheme"

	"github.com/kbackup/kbackup/core/catalog"
	"github.com/kbackup/kbackup/core/clean"
	"github.com/kbackup/kbackup/core/kube"
	"github.com/kbackup/kbackup/core/repo"
	"github.com/kbackup/kbackup/core/selection"
)

// Action is what Apply will do with an object.
type Action string

const (
	// ActionCreate: the object is absent from the target; it is created.
	ActionCreate Action = "Create"
	// ActionUpdate: it exists and differs; policy update applies it.
	ActionUpdate Action = "Update"
	// ActionNone: it exists and equals the backup after cleaning; nothing
	// is sent, and it is reported Unchanged.
	ActionNone Action = "None"
	// ActionSkip: it is left alone; Reason says why.
	ActionSkip Action = "Skip"
	// ActionFail: it cannot be restored; Reason says why.
	ActionFail Action = "Fail"
)

// Outcome is the outcome the action leads to when the target does not
// refuse it.
func (a Action) Outcome() Outcome {
	switch a {
	case ActionCreate:
		return Created
	case ActionUpdate:
		return Updated
	case ActionNone:
		return Unchanged
	case ActionSkip:
		return Skipped
	}
	return Failed
}

// LiveState is how the target's object compared with the backup's when the
// plan was made.
type LiveState string

const (
	// LiveAbsent: the target has no such object.
	LiveAbsent LiveState = "Absent"
	// LiveIdentical: it has one, equal to the backup after cleaning.
	LiveIdentical LiveState = "Identical"
	// LiveDiffers: it has one that differs; Item.Diff shows how.
	LiveDiffers LiveState = "Differs"
	// LiveUnknown: not compared (the object is skipped or cannot be
	// restored).
	LiveUnknown LiveState = "Unknown"
)

// Item is one object of the plan.
type Item struct {
	Stage Stage `json:"stage"`
	// Resource is resource.group.
	Resource   string `json:"resource"`
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
	// Namespace is the namespace in the target; SourceNamespace the one in
	// the backup, set when a mapping changes it.
	Namespace       string    `json:"namespace,omitempty"`
	SourceNamespace string    `json:"sourceNamespace,omitempty"`
	Name            string    `json:"name"`
	Action          Action    `json:"action"`
	Live            LiveState `json:"live"`
	Reason          string    `json:"reason,omitempty"`
	// Diff is the unified diff from the backup (cleaned and mapped) to the
	// live object (cleaned), when Live is Differs.
	Diff string `json:"diff,omitempty"`
	// Notes are changes made to fit the target.
	Notes []string `json:"notes,omitempty"`

	// gvr is shared by the items of one pack. A plan holds an Item per
	// object, so what an Item holds is kept small: fields that few objects
	// need are in extra, positions are int32, and sourceUID is kept only
	// for objects that another object names as its owner.
	gvr       *schema.GroupVersionResource
	sourceUID types.UID
	extra     *itemExtra
	// sends: Apply sends the object (or compares it, when it appeared
	// since the plan), prepared from position pos of plan.packs[pack]; or,
	// for a Namespace the plan adds (pack -1), extra.obj.
	pack  int32
	pos   int32
	depth int32
	// at is the item's index in the plan, set by Apply.
	at    int32
	sends bool
}

// itemExtra is what few items need.
type itemExtra struct {
	liveUID types.UID
	owners  []ownerLink
	// pendingCRD is the restored CRD that must define the type first.
	pendingCRD string
	obj        *unstructured.Unstructured
}

// more returns the item's extra fields, made on first use.
func (it *Item) more() *itemExtra {
	if it.extra == nil {
		it.extra = &itemExtra{}
	}
	return it.extra
}

func (it *Item) owners() []ownerLink {
	if it.extra == nil {
		return nil
	}
	return it.extra.owners
}

func (it *Item) liveUID() types.UID {
	if it.extra == nil {
		return ""
	}
	return it.extra.liveUID
}

func (it *Item) pendingCRD() string {
	if it.extra == nil {
		return ""
	}
	return it.extra.pendingCRD
}

// ownerLink is an owner reference as the backup holds it.
type ownerLink struct {
	apiVersion, kind, name string
	uid                    types.UID
	controller, block      *bool
}

func (it *Item) key() string { return it.Resource + " " + it.Namespace + "/" + it.Name }

// Display names the object for messages: "deployments.apps shop/api".
func (it *Item) Display() string {
	if it.Namespace == "" {
		return it.Resource + " " + it.Name
	}
	return it.Resource + " " + it.Namespace + "/" + it.Name
}

// ClusterScoped reports whether the object is cluster-scoped, other than a
// Namespace (which goes with the namespace it describes).
func (it *Item) ClusterScoped() bool {
	return it.Namespace == "" && it.Resource != grNamespaces.String()
}

// Plan is what a restore will do, decided before anything changes. It
// holds what its summary and the restore record need of each object, not
// the objects: Apply reads them again from the backup, a pack at a time.
type Plan struct {
	ID      string    `json:"id"`
	Backup  BackupRef `json:"backup"`
	Target  TargetRef `json:"target"`
	Options Options   `json:"options"`
	// Items lists every selected object in the order Apply takes them:
	// stage by stage, owners before what they own.
	Items     []*Item   `json:"items"`
	Warnings  []string  `json:"warnings,omitempty"`
	PlannedAt time.Time `json:"plannedAt"`

	repo           *repo.Repository
	client         *kube.Client
	identity       *kube.Identity
	resources      *kube.Resources
	liveNamespaces map[string]bool
	packs          []repo.PackEntry
	prep           *preparer
	applied        bool
}

// PlanInput is what NewPlan needs: the backup (the caller resolves its ID,
// "latest" and the cluster it came from), the repository holding it, and
// the target cluster.
type PlanInput struct {
	Repository *repo.Repository
	Manifest   *repo.Manifest
	Target     *kube.Client
	Options    Options
}

// Counts returns the outcomes the plan leads to if the target accepts
// everything: in total, and per namespace and type.
func (p *Plan) Counts() (Counts, []GroupCounts) {
	return groupCounts(func(yield func(ObjectResult) bool) {
		for _, it := range p.Items {
			if !yield(ObjectResult{Namespace: it.Namespace, Resource: it.Resource, Outcome: it.Action.Outcome()}) {
				return
			}
		}
	})
}

// Differing returns the items that exist in the target and differ from the
// backup, whatever the policy does with them.
func (p *Plan) Differing() []*Item {
	var out []*Item
	for _, it := range p.Items {
		if it.Live == LiveDiffers {
			out = append(out, it)
		}
	}
	return out
}

// ClusterScoped returns the cluster-scoped items, other than Namespaces,
// in the order Apply takes them: the plan names each, since a restore of
// some namespaces changes the whole cluster through them.
func (p *Plan) ClusterScoped() []*Item {
	var out []*Item
	for _, it := range p.Items {
		if it.ClusterScoped() {
			out = append(out, it)
		}
	}
	return out
}

// Conflicts returns the items that make Apply refuse under PolicyFail.
func (p *Plan) Conflicts() []*Item {
	if p.Options.ExistingResourcePolicy != PolicyFail {
		return nil
	}
	return p.Differing()
}

// Stages lists the stages that have items, in order.
func (p *Plan) Stages() []Stage {
	var out []Stage
	for _, it := range p.Items {
		if len(out) == 0 || out[len(out)-1] != it.Stage {
			out = append(out, it.Stage)
		}
	}
	return out
}

// planner holds what NewPlan works with.
type planner struct {
	repo      *repo.Repository
	manifest  *repo.Manifest
	client    *kube.Client
	opts      Options
	sel       *selection.Matcher
	resources *kube.Resources
	// versions are the served versions of each API group of the target.
	versions map[string][]string
	survey   *survey
}

// NewPlan reads the selected objects of a backup, cleans them, maps their
// namespaces, orders them by dependency and compares them with the target,
// without changing anything: it only reads the repository and lists the
// target (one LIST per resource type and namespace that exists there).
//
// It reads the backup twice, a pack at a time, and keeps no object: first
// to learn which namespaces and related cluster-scoped objects are taken
// and which objects are owners (names and UIDs), then to plan each object,
// so that its memory grows with the number of objects by what an Item
// holds, not by the objects themselves.
func NewPlan(ctx context.Context, in PlanInput) (*Plan, error) {
	if in.Manifest == nil || in.Target == nil || in.Repository == nil {
		return nil, errors.New("restore.NewPlan: a repository, a backup manifest and a target cluster are needed")
	}
	// A failed read stops the others in flight; the error says so once.
	ctx = kube.QuietCancellations(ctx)
	if err := in.Options.Validate(); err != nil {
		return nil, err
	}
	opts := in.Options.withDefaults()
	if opts.Object != nil {
		obj := *opts.Object
		opts.Object = &obj
	}
	if in.Manifest.Phase == repo.PhaseFailed {
		return nil, fmt.Errorf("backup %s of cluster %s failed (%d errors); restore another backup", in.Manifest.ID, in.Manifest.Cluster.Name, len(in.Manifest.Errors))
	}
	identity, err := kube.DetectIdentity(ctx, in.Target, kube.DetectOptions{Name: opts.TargetClusterName, NameSource: opts.TargetClusterNameSource})
	if err != nil {
		return nil, fmt.Errorf("identifying the target cluster: %w", err)
	}
	resources, err := in.Target.Discover(ctx)
	if err != nil {
		return nil, err
	}
	pl := &planner{
		repo: in.Repository, manifest: in.Manifest, client: in.Target, opts: opts,
		resources: resources,
	}
	if err := pl.compileSelection(); err != nil {
		return nil, err
	}
	if pl.versions, err = servedVersions(in.Target); err != nil {
		return nil, err
	}
	packs, err := pl.selectPacks()
	if err != nil {
		return nil, err
	}
	if pl.survey, err = pl.surveyPacks(ctx, packs); err != nil {
		return nil, err
	}
	id := opts.RestoreID
	if id == "" {
		id = repo.NewID(opts.Now())
	}
	plan := &Plan{
		ID: id,
		Backup: BackupRef{Cluster: in.Manifest.Cluster.Name, ID: in.Manifest.ID, StartedAt: in.Manifest.StartedAt,
			Location: in.Repository.Location().String()},
		Target: TargetRef{Name: identity.Name, UID: identity.UID, Server: identity.Server,
			KubernetesVersion: identity.KubernetesVersion, ContextName: identity.ContextName},
		Options:   opts,
		PlannedAt: opts.Now().UTC(),
		repo:      in.Repository, client: in.Target, identity: identity, resources: resources,
		packs: packs,
	}
	for gv, err := range resources.Failed {
		plan.Warnings = append(plan.Warnings, fmt.Sprintf("API group %s of the target could not be discovered: %v", gv, err))
	}
	if plan.liveNamespaces, err = pl.names(ctx, gvrNamespaces); err != nil {
		return nil, fmt.Errorf("listing the namespaces of the target: %w", err)
	}
	plan.prep = pl.preparer(ctx, plan, identity)
	if err := pl.planPacks(ctx, plan); err != nil {
		return nil, err
	}
	plan.Items = append(plan.Items, missingNamespaces(plan)...)
	order(plan.Items)
	plan.Warnings = append(plan.Warnings, retainWarning(plan, in.Manifest.Cluster.UID)...)
	slices.Sort(plan.Warnings)
	return plan, nil
}

// preparer builds the preparer of the plan's objects.
func (pl *planner) preparer(ctx context.Context, plan *Plan, identity *kube.Identity) *preparer {
	s := pl.survey
	pr := &preparer{
		clean:        clean.Options{PreserveNodePorts: pl.opts.PreserveNodePorts, TokenSecrets: s.tokenSecrets},
		mapping:      pl.opts.NamespaceMapping,
		otherCluster: identity.UID == "" || pl.manifest.Cluster.UID == "" || identity.UID != pl.manifest.Cluster.UID,
	}
	if pl.opts.Object == nil && !pl.sel.WholeCluster() {
		pr.subjectNamespaces = mappedNamespaces(pl.opts.NamespaceMapping, s.namespaces)
	}
	if slices.ContainsFunc(plan.packs, func(p repo.PackEntry) bool { return schema.ParseGroupResource(p.Resource) == grPVCs }) {
		live, err := pl.names(ctx, gvrPVs)
		if err != nil {
			plan.Warnings = append(plan.Warnings, fmt.Sprintf("could not list the PersistentVolumes of the target (%v); claims keep their volume names", err))
		} else {
			for name := range s.restoredPVs {
				live[name] = true
			}
			pr.volumes = live
		}
	}
	return pr
}

// retainWarning says, in the plan, that restored volumes are kept from
// deleting the source's disks.
func retainWarning(plan *Plan, sourceUID string) []string {
	if !plan.prep.otherCluster {
		return nil
	}
	var names []string
	for _, it := range plan.Items {
		if it.Resource == grPVs.String() && it.sends {
			names = append(names, it.Name)
		}
	}
	if len(names) == 0 {
		return nil
	}
	return []string{fmt.Sprintf("the target is another cluster than the backup's (kube-system UID %s, not %s): %s restored with reclaim policy Retain, "+
		"because their volume handles name the source's disks, which deleting them here must never delete: %s",
		orText(plan.Target.UID, "unknown"), orText(sourceUID, "unknown"), countText(len(names), "PersistentVolume is", "PersistentVolumes are"),
		strings.Join(names, ", "))}
}

func countText(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return fmt.Sprintf("%d %s", n, many)
}

// servedVersions lists the versions the target serves of each API group.
func servedVersions(c *kube.Client) (map[string][]string, error) {
	groups, err := c.Discovery.ServerGroups()
	if err != nil {
		return nil, fmt.Errorf("discovering the API groups of %s: %w", c.Server, err)
	}
	out := map[string][]string{}
	for _, g := range groups.Groups {
		for _, v := range g.Versions {
			out[g.Name] = append(out[g.Name], v.Version)
		}
	}
	return out, nil
}

// planPacks reads the selected packs again, a few at a time, and plans
// each object the survey takes, comparing it with the target.
func (pl *planner) planPacks(ctx context.Context, plan *Plan) error {
	var mu sync.Mutex
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(min(packReads, pl.opts.Concurrency))
	for i, p := range plan.packs {
		g.Go(func() error {
			items, warning, err := pl.planPack(gctx, plan, i, p)
			if err != nil {
				return err
			}
			mu.Lock()
			plan.Items = append(plan.Items, items...)
			if warning != "" {
				plan.Warnings = append(plan.Warnings, warning)
			}
			mu.Unlock()
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return fmt.Errorf("reading backup %s: %w", pl.manifest.ID, err)
	}
	return nil
}

// planPack plans the objects of one pack.
func (pl *planner) planPack(ctx context.Context, plan *Plan, index int, p repo.PackEntry) ([]*Item, string, error) {
	gr := schema.ParseGroupResource(p.Resource)
	res, served := pl.resources.Lookup(gr)
	builtin := served && res.Builtin || !served && scheme.Scheme.Recognizes(schema.GroupVersionKind{Group: p.Group, Version: p.Version, Kind: p.Kind})
	stage := StageOf(gr, builtin, p.Namespaced)
	gvr := &schema.GroupVersionResource{Group: p.Group, Version: p.Version, Resource: gr.Resource}
	// Every object of the pack has the pack's version and kind (the
	// catalog checks it): the items share one copy of each.
	apiVersion := gvr.GroupVersion().String()
	// Why the type cannot be sent, if it cannot.
	var action Action
	var reason, pendingCRD string
	switch {
	case !served && pl.survey.crdOf[p.Resource] != "":
		pendingCRD = pl.survey.crdOf[p.Resource]
		reason = "its CustomResourceDefinition " + pendingCRD + " is restored first"
	case !served:
		action = ActionFail
		reason = fmt.Sprintf("the target serves no %s: no CustomResourceDefinition defines it there, and this restore does not create one", p.Resource)
	case res.Namespaced != p.Namespaced:
		action = ActionFail
		reason = fmt.Sprintf("%s is namespaced in one cluster and cluster-scoped in the other", p.Resource)
	case !res.HasVerb("create"):
		action = ActionSkip
		reason = fmt.Sprintf("the target does not allow creating %s", p.Resource)
	case !slices.Contains(pl.versions[p.Group], p.Version):
		action = ActionFail
		reason = fmt.Sprintf("the target serves %s in versions %s, not %s, and kbackup does not convert between versions",
			cmp.Or(p.Group, "the core group"), strings.Join(pl.versions[p.Group], ", "), p.Version)
	}
	targetNS := pl.opts.NamespaceMapping.Map(p.Namespace)
	compared := action == "" && pendingCRD == ""
	var live map[string]*unstructured.Unstructured
	warning := ""
	if compared && (targetNS == "" || plan.liveNamespaces[targetNS]) {
		var err error
		if live, err = pl.listLive(ctx, *gvr, targetNS, p); err != nil {
			// The plan goes on: a create of an object that exists is
			// answered AlreadyExists, and Apply compares it then.
			warning = fmt.Sprintf("could not list %s in the target (%v); its objects are compared when created", gr, err)
			compared = false
		}
	}

	var items []*Item
	err := catalog.EachObject(ctx, pl.repo, p, func(pos int, obj *unstructured.Unstructured) error {
		if !pl.survey.takes(p, obj) {
			return nil
		}
		it := &Item{
			Stage: stage, Resource: p.Resource, APIVersion: apiVersion, Kind: p.Kind,
			Namespace: targetNS, Name: obj.GetName(), Live: LiveUnknown,
			gvr: gvr, pack: int32(index), pos: int32(pos),
		}
		if _, owner := pl.survey.owners[obj.GetUID()]; owner {
			it.sourceUID = obj.GetUID()
		}
		if gr == grNamespaces {
			it.Name = pl.opts.NamespaceMapping.Map(obj.GetName())
		}
		if it.Namespace != p.Namespace {
			it.SourceNamespace = p.Namespace
		}
		items = append(items, it)

		if reason := clean.ExcludedObject(gr, obj); reason != "" {
			it.Action, it.Reason = ActionSkip, reason
			return nil
		}
		if owner, ok := pl.controlledBy(obj); ok && !pl.opts.IncludeOwned && gr != grPVCs {
			it.Action = ActionSkip
			it.Reason = fmt.Sprintf("controlled by %s %s, which is in this restore: its controller makes it again (IncludeOwned restores it)",
				owner.Kind, owner.Name)
			return nil
		}
		for _, ref := range obj.GetOwnerReferences() {
			it.more().owners = append(it.more().owners, ownerLink{apiVersion: ref.APIVersion, kind: ref.Kind, name: ref.Name, uid: ref.UID,
				controller: ref.Controller, block: ref.BlockOwnerDeletion})
		}
		notes, skip := plan.prep.prepare(gr, obj)
		it.Notes = notes
		if skip != "" {
			it.Action, it.Reason = ActionSkip, skip
			return nil
		}
		it.sends = true
		switch {
		case action != "":
			it.Action, it.Reason = action, reason
		case pendingCRD != "":
			it.more().pendingCRD = pendingCRD
			it.Action, it.Live, it.Reason = ActionCreate, LiveAbsent, reason
		case !compared:
			it.Action = ActionCreate // compared when created
		case live[it.Name] != nil:
			it.Action = ActionCreate
			return decide(it, obj, live[it.Name], pl.opts)
		default:
			it.Action, it.Live = ActionCreate, LiveAbsent
		}
		return nil
	})
	if err != nil {
		return nil, "", err
	}
	return items, warning, nil
}

// controlledBy returns the reference to obj's controller when the
// controller is restored too.
func (pl *planner) controlledBy(obj *unstructured.Unstructured) (metav1.OwnerReference, bool) {
	for _, ref := range obj.GetOwnerReferences() {
		if ref.Controller != nil && *ref.Controller {
			_, ok := pl.survey.restored[ref.UID]
			return ref, ok
		}
	}
	return metav1.OwnerReference{}, false
}

// order sorts items stage by stage; within a stage, owners before what
// they own, then by namespace, type and position in the backup (which is
// by name). An object whose owner is restored in a later stage moves to its
// owner's stage, so that the owner's new UID is known when the object is
// created. Items of one pack end up next to each other within a stage and
// depth, so that Apply reads each pack once per run.
func order(items []*Item) {
	byUID := map[types.UID]*Item{}
	for _, it := range items {
		for _, o := range it.owners() {
			byUID[o.uid] = nil
		}
	}
	for _, it := range items {
		if _, owner := byUID[it.sourceUID]; owner && it.sends && it.sourceUID != "" {
			byUID[it.sourceUID] = it
		}
	}
	for range 8 { // ownership chains are short; cycles are not followed further
		changed := false
		for _, it := range items {
			for _, o := range it.owners() {
				owner := byUID[o.uid]
				if owner == nil || owner == it {
					continue
				}
				if stageIndex(owner.Stage) > stageIndex(it.Stage) {
					it.Stage, changed = owner.Stage, true
				}
				if owner.Stage == it.Stage && owner.depth >= it.depth {
					it.depth, changed = owner.depth+1, true
				}
			}
		}
		if !changed {
			break
		}
	}
	slices.SortStableFunc(items, func(a, b *Item) int {
		return cmp.Or(
			cmp.Compare(stageIndex(a.Stage), stageIndex(b.Stage)),
			cmp.Compare(a.depth, b.depth),
			strings.Compare(a.Namespace, b.Namespace),
			strings.Compare(a.Resource, b.Resource),
			cmp.Compare(a.pack, b.pack),
			cmp.Compare(a.pos, b.pos),
			strings.Compare(a.Name, b.Name),
		)
	})
}
