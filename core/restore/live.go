package restore

import (
	"context"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/kbackup/kbackup/core/clean"
	"github.com/kbackup/kbackup/core/diff"
	"github.com/kbackup/kbackup/core/repo"
	"github.com/kbackup/kbackup/core/selection"
)

var gvrNamespaces = selection.NamespacesResource.WithVersion("v1")
var gvrPVs = grPVs.WithVersion("v1")

// listLive lists the target's objects of one type in one namespace ("" for
// cluster-scoped) that have the names of a pack's objects, cleaned: what
// the pack's objects are compared with. Others are not kept.
func (pl *planner) listLive(ctx context.Context, gvr schema.GroupVersionResource, namespace string, p repo.PackEntry) (map[string]*unstructured.Unstructured, error) {
	names := make(map[string]bool, len(p.Objects))
	for _, n := range p.Objects {
		names[n] = true
	}
	if schema.ParseGroupResource(p.Resource) == grNamespaces {
		for _, n := range p.Objects {
			names[pl.opts.NamespaceMapping.Map(n)] = true
		}
	}
	out := map[string]*unstructured.Unstructured{}
	opts := clean.Options{PreserveNodePorts: pl.opts.PreserveNodePorts}
	err := pl.client.ListObjects(ctx, gvr, namespace, "", func(page []unstructured.Unstructured) error {
		for i := range page {
			if names[page[i].GetName()] {
				out[page[i].GetName()] = clean.Copy(&page[i], opts)
			}
		}
		return nil
	})
	return out, err
}

// decide compares a prepared object with its live object (cleaned) and
// sets the item's action.
func decide(it *Item, obj, live *unstructured.Unstructured, opts Options) error {
	if it.sourceUID != "" {
		// Only an owner's live UID is ever looked up.
		it.more().liveUID = live.GetUID()
	}
	text, differs, err := diff.Objects(obj, live, "backup/"+it.Display(), "live/"+it.Display(), diff.DefaultContext)
	if err != nil {
		return err
	}
	if !differs {
		it.Live, it.Action, it.Reason = LiveIdentical, ActionNone, "exists in the target, equal to the backup after cleaning"
		return nil
	}
	it.Live, it.Diff = LiveDiffers, text
	switch opts.ExistingResourcePolicy {
	case PolicyUpdate:
		if it.ClusterScoped() && !opts.UpdateClusterResources {
			it.Action, it.Reason = ActionSkip, reasonClusterScopedKept
			return nil
		}
		it.Action, it.Reason = ActionUpdate, "exists in the target and differs; policy update applies the backup"
	case PolicyFail:
		it.Action, it.Reason = ActionFail, "exists in the target and differs from the backup (policy fail)"
	default:
		it.Action, it.Reason = ActionSkip, "exists in the target and differs from the backup (policy skip)"
	}
	return nil
}

// reasonClusterScopedKept is why policy update leaves an existing
// cluster-scoped object alone.
const reasonClusterScopedKept = "exists in the target and differs; it is cluster-scoped, and policy update changes existing " +
	"cluster-scoped objects only when asked to (UpdateClusterResources), since they act on the whole cluster"

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
		if it.Resource == grNamespaces.String() && it.sends {
			have[it.Name] = true
		}
	}
	var out []*Item
	for _, it := range plan.Items {
		ns := it.Namespace
		if ns == "" || !it.sends || it.Action == ActionFail || have[ns] || plan.liveNamespaces[ns] {
			continue
		}
		have[ns] = true
		obj := &unstructured.Unstructured{Object: map[string]any{
			"apiVersion": "v1", "kind": "Namespace", "metadata": map[string]any{"name": ns},
		}}
		out = append(out, &Item{
			Stage: StageNamespaces, Resource: grNamespaces.String(), APIVersion: "v1", Kind: "Namespace", Name: ns,
			Action: ActionCreate, Live: LiveAbsent, gvr: &gvrNamespaces, sends: true, pack: -1, extra: &itemExtra{obj: obj},
			Reason: "restored objects need it, and the backup holds no Namespace object for it",
		})
	}
	return out
}
