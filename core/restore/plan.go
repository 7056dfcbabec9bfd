package restore

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes/scheme"

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

	gvr        schema.GroupVersionResource
	obj        *unstructured.Unstructured // cleaned and mapped; nil when not sent
	sourceUID  types.UID
	liveUID    types.UID
	owners     []ownerLink
	pendingCRD string // the restored CRD that must define the type first
	depth      int
	builtin    bool
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

// Object returns the object that Apply sends (cleaned and mapped, owner
// references without UIDs), or nil when the item is not sent.
func (it *Item) Object() *unstructured.Unstructured {
	if it.obj == nil {
		return nil
	}
	return it.obj.DeepCopy()
}

// Plan is what a restore will do, decided before anything changes.
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
	objs := make([]ObjectResult, len(p.Items))
	for i, it := range p.Items {
		objs[i] = ObjectResult{Namespace: it.Namespace, Resource: it.Resource, Outcome: it.Action.Outcome()}
	}
	return groupCounts(objs)
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
}

// NewPlan reads the selected objects of a backup, cleans them, maps their
// namespaces, orders them by dependency and compares them with the target,
// without changing anything: it only reads the repository and lists the
// target (one LIST per resource type and namespace, or per type when more
// than a few namespaces are restored).
func NewPlan(ctx context.Context, in PlanInput) (*Plan, error) {
	if in.Manifest == nil || in.Target == nil || in.Repository == nil {
		return nil, errors.New("restore.NewPlan: a repository, a backup manifest and a target cluster are needed")
	}
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
	candidates, err := pl.readCandidates(ctx, packs)
	if err != nil {
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
	}
	for gv, err := range resources.Failed {
		plan.Warnings = append(plan.Warnings, fmt.Sprintf("API group %s of the target could not be discovered: %v", gv, err))
	}
	plan.Items = pl.items(candidates)
	if err := pl.compare(ctx, plan); err != nil {
		return nil, err
	}
	order(plan.Items)
	slices.Sort(plan.Warnings)
	return plan, nil
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

// items turns candidates into plan items: excluded and owned objects are
// skipped with their reason, the others cleaned, mapped and resolved
// against the target.
func (pl *planner) items(candidates []candidate) []*Item {
	o := pl.opts
	tokenSecrets := map[string]bool{}
	for _, c := range candidates {
		if c.pack.Resource == "secrets" && c.obj.Object["type"] == clean.SecretTypeSAToken {
			tokenSecrets[c.obj.GetNamespace()+"/"+c.obj.GetName()] = true
		}
	}
	cleanOpts := clean.Options{PreserveNodePorts: o.PreserveNodePorts, TokenSecrets: tokenSecrets}

	// What the restore brings: objects not excluded by rule, by source UID.
	restored := map[types.UID]candidate{}
	for _, c := range candidates {
		if clean.ExcludedObject(schema.ParseGroupResource(c.pack.Resource), c.obj) == "" && c.obj.GetUID() != "" {
			restored[c.obj.GetUID()] = c
		}
	}
	// Custom resource types whose definition this restore creates.
	crdOf := map[string]string{}
	for _, c := range candidates {
		if schema.ParseGroupResource(c.pack.Resource) == grCRDs {
			group, _, _ := unstructured.NestedString(c.obj.Object, "spec", "group")
			plural, _, _ := unstructured.NestedString(c.obj.Object, "spec", "names", "plural")
			crdOf[plural+"."+group] = c.obj.GetName()
		}
	}

	items := make([]*Item, 0, len(candidates))
	for _, c := range candidates {
		p, obj := c.pack, c.obj
		gr := schema.ParseGroupResource(p.Resource)
		it := &Item{
			Resource: p.Resource, APIVersion: obj.GetAPIVersion(), Kind: obj.GetKind(),
			Namespace: o.NamespaceMapping.Map(obj.GetNamespace()), Name: obj.GetName(),
			Live: LiveUnknown, sourceUID: obj.GetUID(),
			gvr: schema.GroupVersionResource{Group: p.Group, Version: p.Version, Resource: gr.Resource},
		}
		if gr == grNamespaces {
			it.Name = o.NamespaceMapping.Map(obj.GetName())
		}
		if it.Namespace != obj.GetNamespace() {
			it.SourceNamespace = obj.GetNamespace()
		}
		res, served := pl.resources.Lookup(gr)
		it.builtin = served && res.Builtin || !served && scheme.Scheme.Recognizes(schema.GroupVersionKind{Group: p.Group, Version: p.Version, Kind: p.Kind})
		it.Stage = StageOf(gr, it.builtin, p.Namespaced)
		items = append(items, it)

		if reason := clean.ExcludedObject(gr, obj); reason != "" {
			it.Action, it.Reason = ActionSkip, reason
			continue
		}
		if owner, ok := controlledBy(obj, restored); ok && !o.IncludeOwned && gr != grPVCs {
			it.Action = ActionSkip
			it.Reason = fmt.Sprintf("controlled by %s %s, which is in this restore: its controller makes it again (IncludeOwned restores it)",
				owner.obj.GetKind(), owner.obj.GetName())
			continue
		}
		for _, ref := range obj.GetOwnerReferences() {
			it.owners = append(it.owners, ownerLink{apiVersion: ref.APIVersion, kind: ref.Kind, name: ref.Name, uid: ref.UID,
				controller: ref.Controller, block: ref.BlockOwnerDeletion})
		}
		cleaned := clean.Copy(obj, cleanOpts)
		o.NamespaceMapping.Apply(cleaned)
		it.obj = cleaned

		switch {
		case !served && crdOf[p.Resource] != "":
			it.pendingCRD = crdOf[p.Resource]
			it.Action, it.Live = ActionCreate, LiveAbsent
			it.Reason = "its CustomResourceDefinition " + it.pendingCRD + " is restored first"
		case !served:
			it.Action = ActionFail
			it.Reason = fmt.Sprintf("the target serves no %s: no CustomResourceDefinition defines it there, and this restore does not create one", p.Resource)
		case res.Namespaced != p.Namespaced:
			it.Action = ActionFail
			it.Reason = fmt.Sprintf("%s is namespaced in one cluster and cluster-scoped in the other", p.Resource)
		case !res.HasVerb("create"):
			it.Action = ActionSkip
			it.Reason = fmt.Sprintf("the target does not allow creating %s", p.Resource)
		case !slices.Contains(pl.versions[p.Group], p.Version):
			it.Action = ActionFail
			it.Reason = fmt.Sprintf("the target serves %s in versions %s, not %s, and kbackup does not convert between versions",
				cmp.Or(p.Group, "the core group"), strings.Join(pl.versions[p.Group], ", "), p.Version)
		default:
			it.Action = ActionCreate // until compared with the target
		}
	}
	return items
}

// controlledBy returns the restored object that controls obj, if any.
func controlledBy(obj *unstructured.Unstructured, restored map[types.UID]candidate) (candidate, bool) {
	for _, ref := range obj.GetOwnerReferences() {
		if ref.Controller != nil && *ref.Controller {
			c, ok := restored[ref.UID]
			return c, ok
		}
	}
	return candidate{}, false
}

// order sorts items stage by stage; within a stage, owners before what
// they own, then by namespace, type and name. An object whose owner is
// restored in a later stage moves to its owner's stage, so that the owner's
// new UID is known when the object is created.
func order(items []*Item) {
	byUID := map[types.UID]*Item{}
	for _, it := range items {
		if it.obj != nil && it.sourceUID != "" {
			byUID[it.sourceUID] = it
		}
	}
	for range 8 { // ownership chains are short; cycles are not followed further
		changed := false
		for _, it := range items {
			for _, o := range it.owners {
				owner, ok := byUID[o.uid]
				if !ok || owner == it {
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
			strings.Compare(a.Name, b.Name),
		)
	})
}
