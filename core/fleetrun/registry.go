package fleetrun

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/kbackup/kbackup/core/fleet"
	"github.com/kbackup/kbackup/core/kube"
)

// Candidate is a kubeconfig context that may reach a registered cluster.
type Candidate struct {
	Context string
	Config  *rest.Config
}

// Candidates reads contexts of a kubeconfig ("" for the default loading
// rules: $KUBECONFIG, then ~/.kube/config): those named, each of which must
// exist, or every context, sorted by name, when names is empty.
func Candidates(kubeconfig string, names []string) ([]Candidate, error) {
	if len(names) == 0 {
		rules := clientcmd.NewDefaultClientConfigLoadingRules()
		if kubeconfig != "" {
			rules.ExplicitPath = kubeconfig
		}
		raw, err := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, &clientcmd.ConfigOverrides{}).RawConfig()
		if err != nil {
			return nil, fmt.Errorf("reading the kubeconfig: %w", err)
		}
		for name := range raw.Contexts {
			names = append(names, name)
		}
		slices.Sort(names)
		if len(names) == 0 {
			// core/kube says which kubeconfig it read and how to give one.
			if _, _, err := kube.LoadRESTConfig(kube.LoadOptions{Kubeconfig: kubeconfig}); err != nil {
				return nil, err
			}
			return nil, errors.New("the kubeconfig has no contexts")
		}
	}
	var out []Candidate
	for _, name := range names {
		cfg, _, err := kube.LoadRESTConfig(kube.LoadOptions{Kubeconfig: kubeconfig, Context: name})
		if err != nil {
			return nil, err
		}
		out = append(out, Candidate{Context: name, Config: cfg})
	}
	return out, nil
}

// RegistryMatch is which registered clusters the contexts reach.
type RegistryMatch struct {
	// Clusters are the registered clusters a context reaches, with the
	// entry's name, environment and priority; a registered cluster whose
	// context (matched by API server address) did not answer is among them
	// with Err set, so that the run reports it.
	Clusters []Cluster
	// NotReached are the registered clusters that no context reaches, by
	// name.
	NotReached []string
	// Unregistered are the contexts that reach a cluster the registry does
	// not have, and Duplicates those that reach a cluster another context
	// (the first by name) already reaches.
	Unregistered, Duplicates []string
}

// MatchRegistry finds which registry entries the candidates reach, by the
// identity of their clusters (the kube-system namespace UID), not by name:
// it asks every candidate for its UID at once, each within timeout, so
// that looking costs the run at most that.
func MatchRegistry(ctx context.Context, candidates []Candidate, entries []*fleet.ClusterEntry, timeout time.Duration) *RegistryMatch {
	if timeout <= 0 {
		timeout = DefaultConnectTimeout
	}
	type probe struct {
		uid, server string
		err         error
	}
	probes := make([]probe, len(candidates))
	var wg sync.WaitGroup
	for i, c := range candidates {
		wg.Go(func() {
			probes[i].uid, probes[i].server, probes[i].err = clusterUID(ctx, c, timeout)
		})
	}
	wg.Wait()

	byUID := map[string]*fleet.ClusterEntry{}
	for _, e := range entries {
		byUID[e.UID] = e
	}
	m := &RegistryMatch{}
	reached := map[string]bool{}
	order := make([]int, len(candidates))
	for i := range order {
		order[i] = i
	}
	slices.SortFunc(order, func(a, b int) int { return strings.Compare(candidates[a].Context, candidates[b].Context) })
	var silent []int
	for _, i := range order {
		c, p := candidates[i], probes[i]
		if p.err != nil {
			silent = append(silent, i)
			continue
		}
		e, ok := byUID[p.uid]
		switch {
		case !ok:
			m.Unregistered = append(m.Unregistered, c.Context)
		case reached[e.Name]:
			m.Duplicates = append(m.Duplicates, c.Context)
		default:
			reached[e.Name] = true
			m.Clusters = append(m.Clusters, Cluster{Context: c.Context, Config: c.Config, ClusterName: e.Name, Environment: e.Environment, Priority: e.Priority})
		}
	}
	// A context that did not answer cannot say which cluster it is; when
	// its API server is the one a registered cluster was last seen at, it
	// is that cluster, down: the run reports it rather than leaving it out.
	for _, i := range silent {
		c, p := candidates[i], probes[i]
		for _, e := range entries {
			if !reached[e.Name] && e.Server != "" && e.Server == p.server {
				reached[e.Name] = true
				m.Clusters = append(m.Clusters, Cluster{Context: c.Context, Config: c.Config, ClusterName: e.Name, Environment: e.Environment, Priority: e.Priority,
					Err: fmt.Errorf("registered cluster %s (at %s, context %s) did not answer while the run looked for it: %w", e.Name, e.Server, c.Context, p.err)})
			}
		}
	}
	for _, e := range entries {
		if !reached[e.Name] {
			m.NotReached = append(m.NotReached, e.Name)
		}
	}
	return m
}

// clusterUID reads the UID of the candidate's kube-system namespace.
func clusterUID(ctx context.Context, c Candidate, timeout time.Duration) (uid, server string, err error) {
	client, err := kube.NewClient(WithTimeouts(c.Config, timeout, timeout), kube.ClientOptions{ContextName: c.Context})
	if err != nil {
		return "", "", err
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	ns, err := client.Kube.CoreV1().Namespaces().Get(ctx, metav1.NamespaceSystem, metav1.GetOptions{})
	if err != nil {
		return "", client.Server, err
	}
	return string(ns.UID), client.Server, nil
}
