package testenv

import (
	"context"
	"fmt"
	"slices"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/rest"
)

// ObjectVersions lists every object of the cluster, of every type that can
// be listed, with its resourceVersion, keyed by "resource.group
// namespace/name". Leases and events are left out: the API server writes
// them itself. Tests compare two listings to show that something changed
// nothing.
func (c *Cluster) ObjectVersions(ctx context.Context) (map[string]string, error) {
	cfg := c.Config()
	cfg.WarningHandlerWithContext = rest.NoWarnings{} // deprecated types are listed on purpose
	disc, err := discovery.NewDiscoveryClientForConfig(cfg)
	if err != nil {
		return nil, err
	}
	dyn, err := dynamic.NewForConfig(cfg)
	if err != nil {
		return nil, err
	}
	lists, err := disc.ServerPreferredResources()
	if err != nil {
		return nil, fmt.Errorf("discovering the resources of cluster %s: %w", c.Name, err)
	}
	out := map[string]string{}
	for _, list := range lists {
		gv, err := schema.ParseGroupVersion(list.GroupVersion)
		if err != nil {
			return nil, err
		}
		for _, r := range list.APIResources {
			if strings.Contains(r.Name, "/") || !slices.Contains(r.Verbs, "list") || r.Name == "leases" || r.Name == "events" {
				continue
			}
			gvr := gv.WithResource(r.Name)
			opts := metav1.ListOptions{Limit: 500}
			for {
				page, err := dyn.Resource(gvr).List(ctx, opts)
				if err != nil {
					return nil, fmt.Errorf("listing %s of cluster %s: %w", gvr.GroupResource(), c.Name, err)
				}
				for _, o := range page.Items {
					out[gvr.GroupResource().String()+" "+o.GetNamespace()+"/"+o.GetName()] = o.GetResourceVersion()
				}
				if opts.Continue = page.GetContinue(); opts.Continue == "" {
					break
				}
			}
		}
	}
	return out, nil
}
