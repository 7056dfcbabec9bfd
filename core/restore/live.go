package restore

import (
	"context"
	"fmt"
	"sync"

	"golang.org/x/sync/errgroup"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/kbackup/kbackup/core/clean"
	"github.com/kbackup/kbackup/core/diff"
	"github.com/kbackup/kbackup/core/selection"
)

// wideListThreshold is how many namespaces of one type are listed one by
// one; above it the type is listed across the cluster once.
const wideListThreshold = 10

var gvrNamespaces = selection.NamespacesResource.WithVersion("v1")
var gvrPVs = schema.GroupVersionResource{Version: "v1", Resource: "persistentvolumes"}

// compare lists the target and decides each item's action from what it
// finds: absent objects are created, equal ones left Unchanged, differing
// ones handled by the policy.
func (pl *planner) compare(ctx context.Context, plan *Plan) error {
	live, err := pl.names(ctx, gvrNamespaces)
	if err != nil {
		return fmt.Errorf("listing the namespaces of the target: %w", err)
	}
	plan.liveNamespaces = live
	pl.fixVolumeNames(ctx, plan)
	plan.Items = append(plan.Items, missingNamespaces(plan)...)

	// Which objects to look for, per type and namespace.
	type scope struct {
		gvr       schema.GroupVersionResource
		namespace string
	}
	wanted := map[schema.GroupVersionResource]map[string][]*Item{}
	for _, it := range plan.Items {
		if it.obj == nil || it.Action != ActionCreate || it.pendingCRD != "" {
			continue
		}
		if wanted[it.gvr] == nil {
			wanted[it.gvr] = map[string][]*Item{}
		}
		wanted[it.gvr][it.Namespace] = append(wanted[it.gvr][it.Namespace], it)
	}
	var scopes []scope
	for gvr, byNS := range wanted {
		if len(byNS) > wideListThreshold {
			scopes = append(scopes, scope{gvr: gvr})
			continue
		}
		for ns := range byNS {
			if ns == "" || plan.liveNamespaces[ns] {
				scopes = append(scopes, scope{gvr: gvr, namespace: ns})
			}
		}
	}

	cleanOpts := clean.Options{PreserveNodePorts: pl.opts.PreserveNodePorts}
	var mu sync.Mutex
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(pl.opts.Concurrency)
	for _, s := range scopes {
		g.Go(func() error {
			byName := map[string]*Item{}
			for ns, items := range wanted[s.gvr] {
				if s.namespace == "" || ns == s.namespace {
					for _, it := range items {
						byName[it.Namespace+"/"+it.Name] = it
					}
				}
			}
			err := pl.client.ListObjects(gctx, s.gvr, s.namespace, "", func(page []unstructured.Unstructured) error {
				for i := range page {
					it, ok := byName[page[i].GetNamespace()+"/"+page[i].GetName()]
					if !ok {
						continue
					}
					if err := decide(it, &page[i], cleanOpts, pl.opts.ExistingResourcePolicy); err != nil {
						return err
					}
				}
				return nil
			})
			if err != nil {
				// The plan goes on: a create of an object that exists is
				// answered AlreadyExists, and Apply compares it then.
				mu.Lock()
				plan.Warnings = append(plan.Warnings, fmt.Sprintf("could not list %s in the target (%v); its objects are compared when created", s.gvr.GroupResource(), err))
				mu.Unlock()
				return nil
			}
			for _, it := range byName {
				if it.Live == LiveUnknown {
					it.Live = LiveAbsent
				}
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return err
	}
	for _, it := range plan.Items {
		if it.Action == ActionCreate && it.Live == LiveUnknown && it.pendingCRD == "" && it.Namespace != "" && !plan.liveNamespaces[it.Namespace] {
			it.Live = LiveAbsent // its namespace does not exist yet
		}
	}
	return nil
}

// decide compares an item with its live object and sets its action.
func decide(it *Item, live *unstructured.Unstructured, opts clean.Options, policy ExistingResourcePolicy) error {
	it.liveUID = live.GetUID()
	text, differs, err := diff.Objects(it.obj, clean.Copy(live, opts), "backup/"+it.Display(), "live/"+it.Display(), diff.DefaultContext)
	if err != nil {
		return err
	}
	if !differs {
		it.Live, it.Action, it.Reason = LiveIdentical, ActionNone, "exists in the target, equal to the backup after cleaning"
		return nil
	}
	it.Live, it.Diff = LiveDiffers, text
	switch policy {
	case PolicyUpdate:
		it.Action, it.Reason = ActionUpdate, "exists in the target and differs; policy update applies the backup"
	case PolicyFail:
		it.Action, it.Reason = ActionFail, "exists in the target and differs from the backup (policy fail)"
	default:
		it.Action, it.Reason = ActionSkip, "exists in the target and differs from the backup (policy skip)"
	}
	return nil
}

// names lists the names of a cluster-scoped type in the target.
func (pl *planner) names(ctx context.Context, gvr schema.GroupVersionResource) (map[string]bool, error) {
	out := map[string]bool{}
	err := pl.client.ListObjects(ctx, gvr, "", "", func(page []unstructured.Unstructured) error {
		for i := range page {
			out[page[i].GetName()] = true
		}
		return nil
	})
	return out, err
}

// missingNamespaces adds a Namespace to create for every target namespace
// that restored objects need, that the target does not have, and that the
// backup holds no Namespace object for.
func missingNamespaces(plan *Plan) []*Item {
	have := map[string]bool{}
	for _, it := range plan.Items {
		if it.Resource == grNamespaces.String() && it.obj != nil {
			have[it.Name] = true
		}
	}
	var out []*Item
	for _, it := range plan.Items {
		ns := it.Namespace
		if ns == "" || it.obj == nil || it.Action == ActionFail || have[ns] || plan.liveNamespaces[ns] {
			continue
		}
		have[ns] = true
		obj := &unstructured.Unstructured{Object: map[string]any{
			"apiVersion": "v1", "kind": "Namespace", "metadata": map[string]any{"name": ns},
		}}
		out = append(out, &Item{
			Stage: StageNamespaces, Resource: grNamespaces.String(), APIVersion: "v1", Kind: "Namespace", Name: ns,
			Action: ActionCreate, Live: LiveAbsent, builtin: true, gvr: gvrNamespaces, obj: obj,
			Reason: "restored objects need it, and the backup holds no Namespace object for it",
		})
	}
	return out
}

// fixVolumeNames drops spec.volumeName from claims whose volume is neither
// restored nor in the target: such a claim would wait forever for a volume
// that will not come, while without the name it is provisioned anew.
func (pl *planner) fixVolumeNames(ctx context.Context, plan *Plan) {
	restored := map[string]bool{}
	var claims []*Item
	for _, it := range plan.Items {
		switch {
		case it.obj == nil || it.Action == ActionFail:
		case it.Resource == "persistentvolumes":
			restored[it.Name] = true
		case it.Resource == "persistentvolumeclaims":
			if name, _, _ := unstructured.NestedString(it.obj.Object, "spec", "volumeName"); name != "" {
				claims = append(claims, it)
			}
		}
	}
	if len(claims) == 0 {
		return
	}
	live, err := pl.names(ctx, gvrPVs)
	if err != nil {
		plan.Warnings = append(plan.Warnings, fmt.Sprintf("could not list the PersistentVolumes of the target (%v); claims keep their volume names", err))
		return
	}
	for _, it := range claims {
		name, _, _ := unstructured.NestedString(it.obj.Object, "spec", "volumeName")
		if restored[name] || live[name] {
			continue
		}
		unstructured.RemoveNestedField(it.obj.Object, "spec", "volumeName")
		it.Notes = append(it.Notes, fmt.Sprintf("spec.volumeName %s dropped: that PersistentVolume is neither restored nor in the target, so the claim is provisioned anew", name))
	}
}
