package kube

import (
	"errors"
	"fmt"
	"net"
	"regexp"
	"strings"

	"k8s.io/apimachinery/pkg/util/validation"
)

// ErrInvalidClusterName: a cluster name given by the user is not a DNS-1123
// label.
var ErrInvalidClusterName = errors.New("invalid cluster name")

// ValidateClusterName checks a cluster name given by the user (flag, config,
// CLUSTER_NAME): a DNS-1123 label, which also keeps it from starting with
// "_", the repository's reserved prefix. source names where it came from.
func ValidateClusterName(name, source string) error {
	if errs := validation.IsDNS1123Label(name); len(errs) > 0 {
		from := ""
		if source != "" {
			from = " (from " + source + ")"
		}
		hint := ""
		if n := NormalizeClusterName(name); n != "" && n != name {
			hint = fmt.Sprintf("; did you mean %q?", n)
		}
		return markError(ErrInvalidClusterName, nil,
			"cluster name %q%s is not valid: a cluster name is at most 63 lower-case letters, digits and '-', "+
				"starting and ending with a letter or digit%s", name, from, hint)
	}
	return nil
}

// NormalizeClusterName turns a detected name into a DNS-1123 label: lower
// case, every run of other characters replaced by one '-', no '-' at either
// end, at most 63 characters. It returns "" when nothing is left.
func NormalizeClusterName(s string) string {
	var b strings.Builder
	dash := false
	for _, r := range strings.ToLower(s) {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' {
			if dash && b.Len() > 0 {
				b.WriteByte('-')
			}
			b.WriteRune(r)
			dash = false
			continue
		}
		dash = true
	}
	out := b.String()
	if len(out) > validation.DNS1123LabelMaxLength {
		out = strings.TrimRight(out[:validation.DNS1123LabelMaxLength], "-")
	}
	return out
}

// HostHints is what an API server's host name says about its cluster.
type HostHints struct {
	// Name is the cluster's name or id as the host carries it, normalized;
	// "" when the host carries none.
	Name         string
	Provider     string
	Distribution string
	// Pattern names the rule that matched, for evidence.
	Pattern string
}

// aksHash is the random suffix AKS appends to the DNS prefix.
var aksHash = regexp.MustCompile(`-[0-9a-f]{8}$`)

// ParseServerHost reads the host of an API server URL (with or without
// scheme and port) against the host names managed services give their API
// servers. ok is false when no pattern matched: an IP address, localhost or
// a host of no known form.
func ParseServerHost(server string) (HostHints, bool) {
	host := hostOf(server)
	if host == "" || net.ParseIP(host) != nil || !strings.Contains(host, ".") {
		return HostHints{}, false
	}
	labels := strings.Split(host, ".")
	first := labels[0]
	switch {
	case strings.HasSuffix(host, ".eks.amazonaws.com") || strings.HasSuffix(host, ".eks.amazonaws.com.cn"):
		// <cluster id>.<shard>.<region>.eks.amazonaws.com: the id, not the name.
		return HostHints{Name: NormalizeClusterName(first), Provider: ProviderAWS, Distribution: DistributionEKS,
			Pattern: "EKS endpoint <cluster-id>.<shard>.<region>.eks.amazonaws.com"}, true
	case strings.HasSuffix(host, ".azmk8s.io"):
		// <dns prefix>-<8 hex>.hcp.<region>.azmk8s.io, or with
		// .<guid>.privatelink. for a private cluster.
		return HostHints{Name: NormalizeClusterName(aksHash.ReplaceAllString(first, "")), Provider: ProviderAzure, Distribution: DistributionAKS,
			Pattern: "AKS endpoint <dns-prefix>-<hash>.hcp.<region>.azmk8s.io"}, true
	case strings.HasSuffix(host, ".gke.goog"):
		// The DNS endpoint gke-<hash>-<project number>.<region>.gke.goog
		// carries no name.
		return HostHints{Provider: ProviderGCP, Distribution: DistributionGKE,
			Pattern: "GKE DNS endpoint gke-<hash>.<region>.gke.goog"}, true
	case strings.HasSuffix(host, ".k8s.ondigitalocean.com"):
		return HostHints{Name: NormalizeClusterName(first), Provider: ProviderDigitalOcean, Distribution: DistributionDOKS,
			Pattern: "DigitalOcean endpoint <cluster-id>.k8s.ondigitalocean.com"}, true
	case strings.HasSuffix(host, ".linodelke.net"):
		return HostHints{Name: NormalizeClusterName(first), Provider: ProviderLinode, Distribution: DistributionLKE,
			Pattern: "Linode LKE endpoint <cluster-id>.<region>.linodelke.net"}, true
	case first == "api" && strings.HasSuffix(host, ".aroapp.io") && len(labels) >= 5:
		return HostHints{Name: NormalizeClusterName(labels[1]), Provider: ProviderAzure, Distribution: DistributionOpenShift,
			Pattern: "Azure Red Hat OpenShift endpoint api.<domain>.<region>.aroapp.io"}, true
	case first == "api" && strings.HasSuffix(host, ".openshiftapps.com") && len(labels) >= 5:
		return HostHints{Name: NormalizeClusterName(labels[1]), Distribution: DistributionOpenShift,
			Pattern: "OpenShift Dedicated/ROSA endpoint api.<cluster>.<id>.openshiftapps.com"}, true
	case first == "api" && len(labels) >= 4:
		// OpenShift's api.<cluster>.<base domain>, which kops uses too.
		return HostHints{Name: NormalizeClusterName(labels[1]),
			Pattern: "api.<cluster>.<base-domain> (OpenShift, kops)"}, true
	}
	return HostHints{}, false
}

// hostOf returns the lower-case host name of a URL or host[:port].
func hostOf(server string) string {
	s := server
	if i := strings.Index(s, "://"); i >= 0 {
		s = s[i+3:]
	}
	if i := strings.IndexAny(s, "/?#"); i >= 0 {
		s = s[:i]
	}
	if i := strings.LastIndex(s, "@"); i >= 0 {
		s = s[i+1:]
	}
	if h, _, err := net.SplitHostPort(s); err == nil {
		s = h
	}
	return strings.ToLower(strings.Trim(s, "[]."))
}

// VersionHints is what a server's gitVersion says about its distribution.
type VersionHints struct {
	Provider     string
	Distribution string
}

// ParseGitVersion reads the distribution from the suffix managed and packaged
// Kubernetes builds put on their version: v1.30.4-eks-a737599,
// v1.30.5-gke.1014001, v1.30.4+k3s1, v1.30.4+rke2r1. ok is false for a plain
// version (v1.30.4), which upstream, AKS, kind and minikube all report.
func ParseGitVersion(gitVersion string) (VersionHints, bool) {
	v := strings.ToLower(gitVersion)
	switch {
	case strings.Contains(v, "-eks-"):
		return VersionHints{Provider: ProviderAWS, Distribution: DistributionEKS}, true
	case strings.Contains(v, "-gke."):
		return VersionHints{Provider: ProviderGCP, Distribution: DistributionGKE}, true
	case strings.Contains(v, "+k3s"):
		return VersionHints{Distribution: DistributionK3s}, true
	case strings.Contains(v, "+rke2"):
		return VersionHints{Distribution: DistributionRKE2}, true
	}
	return VersionHints{}, false
}

// ProviderIDHints is what a node's spec.providerID says.
type ProviderIDHints struct {
	Provider     string
	Distribution string
}

// providerIDSchemes maps the scheme of spec.providerID to what it tells.
var providerIDSchemes = map[string]ProviderIDHints{
	"aws":          {Provider: ProviderAWS},
	"azure":        {Provider: ProviderAzure},
	"gce":          {Provider: ProviderGCP},
	"digitalocean": {Provider: ProviderDigitalOcean},
	"linode":       {Provider: ProviderLinode},
	"ibm":          {Provider: ProviderIBM},
	"openstack":    {Provider: ProviderOpenStack},
	"vsphere":      {Provider: ProviderVSphere},
	"hcloud":       {Provider: ProviderHetzner},
	"kind":         {Distribution: DistributionKind},
	"k3s":          {Distribution: DistributionK3s},
	"rke2":         {Distribution: DistributionRKE2},
}

// ParseProviderID reads a node's spec.providerID: aws:///eu-west-1a/i-0abc,
// azure:///subscriptions/…, gce://project/zone/name,
// kind://docker/<cluster>/<node>, k3s://<node>.
func ParseProviderID(providerID string) (ProviderIDHints, bool) {
	scheme, _, ok := strings.Cut(providerID, "://")
	if !ok {
		return ProviderIDHints{}, false
	}
	h, ok := providerIDSchemes[strings.ToLower(scheme)]
	return h, ok
}

// nameFromContext reads a cluster name out of the context names the cloud
// CLIs write: arn:aws:eks:<region>:<account>:cluster/<name> (aws eks
// update-kubeconfig), <user>@<name>.<region>.eksctl.io (eksctl) and
// gke_<project>_<location>_<name> (gcloud). Other names are taken whole.
func nameFromContext(contextName string) string {
	switch {
	case strings.HasPrefix(contextName, "arn:") && strings.Contains(contextName, ":cluster/"):
		return NormalizeClusterName(contextName[strings.LastIndex(contextName, ":cluster/")+len(":cluster/"):])
	case strings.HasSuffix(contextName, ".eksctl.io") && strings.Contains(contextName, "@"):
		rest := contextName[strings.LastIndex(contextName, "@")+1:]
		name, _, _ := strings.Cut(rest, ".")
		return NormalizeClusterName(name)
	case strings.HasPrefix(contextName, "gke_"):
		if parts := strings.SplitN(contextName, "_", 4); len(parts) == 4 {
			return NormalizeClusterName(parts[3])
		}
	}
	return NormalizeClusterName(contextName)
}
