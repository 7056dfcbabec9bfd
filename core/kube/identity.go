package kube

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/discovery"
)

// Providers: where the cluster runs.
const (
	ProviderAWS          = "aws"
	ProviderAzure        = "azure"
	ProviderGCP          = "gcp"
	ProviderDigitalOcean = "digitalocean"
	ProviderLinode       = "linode"
	ProviderIBM          = "ibm"
	ProviderOpenStack    = "openstack"
	ProviderVSphere      = "vsphere"
	ProviderHetzner      = "hetzner"
	ProviderNutanix      = "nutanix"
	// ProviderOpenShift is an OpenShift cluster whose infrastructure is not
	// a known cloud (bare metal, none, …).
	ProviderOpenShift = "openshift"
	ProviderUnknown   = "unknown"
)

// Distributions: which Kubernetes it is.
const (
	DistributionEKS        = "eks"
	DistributionAKS        = "aks"
	DistributionGKE        = "gke"
	DistributionOpenShift  = "openshift"
	DistributionK3s        = "k3s"
	DistributionRKE2       = "rke2"
	DistributionKind       = "kind"
	DistributionMinikube   = "minikube"
	DistributionDOKS       = "doks"
	DistributionLKE        = "lke"
	DistributionKubernetes = "kubernetes"
)

// ClusterNameLabels are the namespace and node labels that carry a
// cluster's name, in the order they are tried.
var ClusterNameLabels = []string{
	"cluster-name",
	"kubernetes.io/cluster-name",
	"alpha.eksctl.io/cluster-name",
	"eks.amazonaws.com/cluster-name",
	"gardener.cloud/shoot-name",
	"azure.workload.identity/cluster-name",
	"container.googleapis.com/cluster_name",
}

// nodeLabelHints are node labels that say who provides the cluster; a label
// with a value in the map must have that value.
var nodeLabelHints = []struct {
	key, value             string
	provider, distribution string
}{
	{key: "eks.amazonaws.com/nodegroup", provider: ProviderAWS, distribution: DistributionEKS},
	{key: "eks.amazonaws.com/compute-type", provider: ProviderAWS, distribution: DistributionEKS},
	{key: "alpha.eksctl.io/nodegroup-name", provider: ProviderAWS, distribution: DistributionEKS},
	{key: "alpha.eksctl.io/cluster-name", provider: ProviderAWS, distribution: DistributionEKS},
	{key: "kubernetes.azure.com/cluster", provider: ProviderAzure, distribution: DistributionAKS},
	{key: "kubernetes.azure.com/agentpool", provider: ProviderAzure, distribution: DistributionAKS},
	{key: "cloud.google.com/gke-nodepool", provider: ProviderGCP, distribution: DistributionGKE},
	{key: "cloud.google.com/gke-os-distribution", provider: ProviderGCP, distribution: DistributionGKE},
	{key: "doks.digitalocean.com/node-pool", provider: ProviderDigitalOcean, distribution: DistributionDOKS},
	{key: "lke.linode.com/pool-id", provider: ProviderLinode, distribution: DistributionLKE},
	{key: "node.openshift.io/os_id", distribution: DistributionOpenShift},
	{key: "minikube.k8s.io/name", distribution: DistributionMinikube},
	{key: "node.kubernetes.io/instance-type", value: "k3s", distribution: DistributionK3s},
	{key: "node.kubernetes.io/instance-type", value: "rke2", distribution: DistributionRKE2},
}

// openShiftPlatforms maps the Infrastructure's platform type to a provider.
var openShiftPlatforms = map[string]string{
	"aws":       ProviderAWS,
	"azure":     ProviderAzure,
	"gcp":       ProviderGCP,
	"ibmcloud":  ProviderIBM,
	"powervs":   ProviderIBM,
	"openstack": ProviderOpenStack,
	"vsphere":   ProviderVSphere,
	"nutanix":   ProviderNutanix,
}

// openShiftInfrastructure is the OpenShift object that names the cluster.
var openShiftInfrastructure = schema.GroupVersionResource{Group: "config.openshift.io", Version: "v1", Resource: "infrastructures"}

// nodeSample is how many nodes detection reads: labels and provider IDs are
// the same on every node of a managed cluster, and a large cluster's node
// list is megabytes.
const nodeSample = 10

// Identity is who a cluster is.
type Identity struct {
	// Name is the cluster's name in the repository: a DNS-1123 label.
	Name string `json:"name"`
	// NameSource says where Name came from: the caller's NameSource ("explicit",
	// "config", "env CLUSTER_NAME") or a detection source.
	NameSource string `json:"nameSource"`
	// UID is the UID of the kube-system namespace: the cluster's stable id.
	UID string `json:"uid"`
	// Provider is aws, azure, gcp, digitalocean, linode, ibm, openstack,
	// vsphere, hetzner, nutanix, openshift or unknown.
	Provider string `json:"provider"`
	// Distribution is eks, aks, gke, openshift, k3s, rke2, kind, minikube,
	// doks, lke or kubernetes.
	Distribution      string `json:"distribution"`
	KubernetesVersion string `json:"kubernetesVersion"`
	Server            string `json:"server"`
	ContextName       string `json:"contextName,omitempty"`
	// Sources lists what detection saw, in the order it looked.
	Sources []Evidence `json:"sources,omitempty"`
}

// Evidence is one thing detection saw.
type Evidence struct {
	// Source is where: "label cluster-name on namespace kube-system".
	Source string `json:"source"`
	// Detail is what, and what it was taken to mean.
	Detail string `json:"detail"`
}

// DetectOptions tunes DetectIdentity.
type DetectOptions struct {
	// Name is an explicit cluster name; it wins over detection and must be a
	// valid name (ValidateClusterName).
	Name string
	// NameSource says where Name came from: "explicit", "config",
	// "env CLUSTER_NAME". Defaults to "explicit".
	NameSource string
}

// DetectIdentity works out which cluster c talks to. The name comes, first
// found first, from: opts.Name; OpenShift's Infrastructure
// status.infrastructureName; a name label (ClusterNameLabels) on kube-system,
// then on a node; the API server's host name (ParseServerHost); the
// kubeconfig context; cluster-<first 8 of the UID>. Provider and
// distribution come from OpenShift's API groups and Infrastructure, the
// server's gitVersion, nodes' provider IDs and labels, and the host name.
//
// Reading kube-system is required (its UID identifies the cluster); nodes,
// API groups and the Infrastructure are read when allowed, and what could
// not be read is listed in Sources.
func DetectIdentity(ctx context.Context, c *Client, opts DetectOptions) (*Identity, error) {
	if opts.Name != "" {
		if opts.NameSource == "" {
			opts.NameSource = "explicit"
		}
		if err := ValidateClusterName(opts.Name, opts.NameSource); err != nil {
			return nil, err
		}
	}
	v, err := c.Ping(ctx)
	if err != nil {
		return nil, err
	}
	d := &detection{id: &Identity{
		Server:            c.Server,
		ContextName:       c.ContextName,
		KubernetesVersion: v.GitVersion,
	}}
	d.see("server version", v.GitVersion)

	ns, err := c.Kube.CoreV1().Namespaces().Get(ctx, metav1.NamespaceSystem, metav1.GetOptions{})
	if err != nil {
		return nil, fmt.Errorf("reading namespace kube-system of %s, whose UID identifies the cluster: %w", c.describe(), err)
	}
	d.id.UID = string(ns.UID)
	d.see("namespace kube-system", "uid "+d.id.UID)

	if opts.Name != "" {
		d.name(rankExplicit, opts.Name, opts.NameSource)
	}
	d.fromOpenShift(ctx, c)
	d.fromLabels("namespace kube-system", ns.Labels, rankNamespaceLabel)
	d.fromNodes(ctx, c)
	d.fromVersion(v.GitVersion)
	d.fromHost(c.Server)
	if n := nameFromContext(c.ContextName); n != "" {
		d.see("kubeconfig context "+c.ContextName, "→ name "+n)
		d.name(rankContext, n, "kubeconfig context "+c.ContextName)
	}
	if uid := NormalizeClusterName(d.id.UID); len(uid) >= 8 {
		d.name(rankUID, "cluster-"+uid[:8], "kube-system uid")
	}
	// The optional sources tolerate errors; a cancelled detection must not
	// pass for one that found less.
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("detecting the identity of %s: %w", c.describe(), err)
	}
	return d.result(), nil
}

// Ranks order the sources of each attribute, lowest first. Names use
// explicit, OpenShift, namespace label, node label, host, context, UID;
// providers and distributions use OpenShift, version, provider ID, node
// label, host, OpenShift's API groups.
const (
	rankExplicit = iota
	rankOpenShift
	rankNamespaceLabel
	rankVersion
	rankProviderID
	rankNodeLabel
	rankHost
	rankContext
	rankOpenShiftGroups
	rankUID
)

type candidate struct {
	rank          int
	value, source string
}

// detection gathers what the sources say; result picks the best of each.
type detection struct {
	id                              *Identity
	names, providers, distributions []candidate
}

func (d *detection) see(source, detail string) {
	d.id.Sources = append(d.id.Sources, Evidence{Source: source, Detail: detail})
}

func (d *detection) name(rank int, name, source string) {
	d.names = append(d.names, candidate{rank, name, source})
}

func (d *detection) provider(rank int, p, source string) {
	if p != "" {
		d.providers = append(d.providers, candidate{rank, p, source})
	}
}

func (d *detection) distribution(rank int, dist, source string) {
	if dist != "" {
		d.distributions = append(d.distributions, candidate{rank, dist, source})
	}
}

func best(cs []candidate) (candidate, bool) {
	if len(cs) == 0 {
		return candidate{}, false
	}
	// Stable: of equal rank, the first seen wins.
	return slices.MinFunc(cs, func(a, b candidate) int { return a.rank - b.rank }), true
}

func (d *detection) result() *Identity {
	id := d.id
	if n, ok := best(d.names); ok {
		id.Name, id.NameSource = n.value, n.source
	}
	id.Provider = ProviderUnknown
	if p, ok := best(d.providers); ok {
		id.Provider = p.value
	}
	id.Distribution = DistributionKubernetes
	if dist, ok := best(d.distributions); ok {
		id.Distribution = dist.value
	}
	return id
}

// fromOpenShift looks for OpenShift's API groups and, when config.openshift.io
// is served, its Infrastructure "cluster".
func (d *detection) fromOpenShift(ctx context.Context, c *Client) {
	groups, err := discovery.ToDiscoveryInterfaceWithContext(c.Discovery).ServerGroupsWithContext(ctx)
	if err != nil {
		d.see("API groups", "could not be listed: "+err.Error())
		return
	}
	var openshift []string
	for _, g := range groups.Groups {
		if strings.HasSuffix(g.Name, ".openshift.io") {
			openshift = append(openshift, g.Name)
		}
	}
	if !slices.Contains(openshift, openShiftInfrastructure.Group) {
		if len(openshift) > 0 {
			d.see("API groups", strings.Join(openshift, ", ")+" (no config.openshift.io: not taken for OpenShift)")
		}
		return
	}
	sort.Strings(openshift)
	d.see("API groups", strings.Join(openshift, ", ")+" → distribution openshift")
	d.distribution(rankOpenShift, DistributionOpenShift, "API group config.openshift.io")
	d.provider(rankOpenShiftGroups, ProviderOpenShift, "API group config.openshift.io")

	const source = "OpenShift Infrastructure cluster"
	infra, err := c.Dynamic.Resource(openShiftInfrastructure).Get(ctx, "cluster", metav1.GetOptions{})
	if err != nil {
		d.see(source, "could not be read: "+err.Error())
		return
	}
	name, _, _ := unstructured.NestedString(infra.Object, "status", "infrastructureName")
	if n := NormalizeClusterName(name); n != "" {
		d.see(source, fmt.Sprintf("status.infrastructureName %q → name %s", name, n))
		d.name(rankOpenShift, n, source+" status.infrastructureName")
	} else {
		d.see(source, "no status.infrastructureName")
	}
	platform, _, _ := unstructured.NestedString(infra.Object, "status", "platformStatus", "type")
	if platform == "" {
		platform, _, _ = unstructured.NestedString(infra.Object, "status", "platform")
	}
	if p, ok := openShiftPlatforms[strings.ToLower(platform)]; ok {
		d.see(source, fmt.Sprintf("platform %s → provider %s", platform, p))
		d.provider(rankOpenShift, p, source+" platform")
	} else if platform != "" {
		d.see(source, "platform "+platform)
	}
}

// fromLabels takes a name from the first of ClusterNameLabels that where
// carries.
func (d *detection) fromLabels(where string, labels map[string]string, rank int) {
	for _, key := range ClusterNameLabels {
		value, ok := labels[key]
		if !ok {
			continue
		}
		source := fmt.Sprintf("label %s on %s", key, where)
		n := NormalizeClusterName(value)
		if n == "" {
			d.see(source, fmt.Sprintf("%q has no usable name", value))
			continue
		}
		d.see(source, fmt.Sprintf("%q → name %s", value, n))
		d.name(rank, n, source)
		return
	}
}

// fromNodes reads a few nodes' name labels, provider labels and provider IDs.
func (d *detection) fromNodes(ctx context.Context, c *Client) {
	nodes, err := c.Kube.CoreV1().Nodes().List(ctx, metav1.ListOptions{Limit: nodeSample})
	switch {
	case apierrors.IsForbidden(err):
		d.see("nodes", "not allowed to list nodes; provider and names from node labels not detected")
		return
	case err != nil:
		d.see("nodes", "could not be listed: "+err.Error())
		return
	case len(nodes.Items) == 0:
		d.see("nodes", "none")
		return
	}
	for i := range nodes.Items {
		n := &nodes.Items[i]
		d.fromLabels("node "+n.Name, n.Labels, rankNodeLabel)
		d.fromNodeHints(n)
	}
}

func (d *detection) fromNodeHints(n *corev1.Node) {
	if id := n.Spec.ProviderID; id != "" {
		source := "node " + n.Name + " spec.providerID"
		if h, ok := ParseProviderID(id); ok {
			d.see(source, id+meaning(h.Provider, h.Distribution))
			d.provider(rankProviderID, h.Provider, source)
			d.distribution(rankProviderID, h.Distribution, source)
		} else {
			d.see(source, id)
		}
	}
	for _, h := range nodeLabelHints {
		value, ok := n.Labels[h.key]
		if !ok || h.value != "" && value != h.value {
			continue
		}
		source := fmt.Sprintf("label %s on node %s", h.key, n.Name)
		d.see(source, fmt.Sprintf("%q%s", value, meaning(h.provider, h.distribution)))
		d.provider(rankNodeLabel, h.provider, source)
		d.distribution(rankNodeLabel, h.distribution, source)
	}
}

func (d *detection) fromVersion(gitVersion string) {
	if h, ok := ParseGitVersion(gitVersion); ok {
		source := "server version " + gitVersion
		d.see("server version suffix", gitVersion+meaning(h.Provider, h.Distribution))
		d.provider(rankVersion, h.Provider, source)
		d.distribution(rankVersion, h.Distribution, source)
	}
}

func (d *detection) fromHost(server string) {
	h, ok := ParseServerHost(server)
	if !ok {
		return
	}
	source := "API server host " + hostOf(server)
	detail := h.Pattern + meaning(h.Provider, h.Distribution)
	if h.Name != "" {
		detail += ", name " + h.Name
		d.name(rankHost, h.Name, source)
	}
	d.see(source, detail)
	d.provider(rankHost, h.Provider, source)
	d.distribution(rankHost, h.Distribution, source)
}

// meaning renders " → provider aws, distribution eks".
func meaning(provider, distribution string) string {
	var parts []string
	if provider != "" {
		parts = append(parts, "provider "+provider)
	}
	if distribution != "" {
		parts = append(parts, "distribution "+distribution)
	}
	if len(parts) == 0 {
		return ""
	}
	return " → " + strings.Join(parts, ", ")
}
