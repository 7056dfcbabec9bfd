package kube

import (
	"errors"
	"strings"
	"testing"
)

func TestNormalizeClusterName(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"prod-eu":                      "prod-eu",
		"Prod_EU":                      "prod-eu",
		"_fleet":                       "fleet",
		"--a--b--":                     "a-b",
		"my.cluster.local":             "my-cluster-local",
		"ocp-prod-x7k2p":               "ocp-prod-x7k2p",
		"ABCDEF0123456789ABCDEF":       "abcdef0123456789abcdef",
		"cluster name with spaces":     "cluster-name-with-spaces",
		"ünïcode":                      "n-code",
		"___":                          "",
		"":                             "",
		strings.Repeat("a", 62) + "-b": strings.Repeat("a", 62),
		strings.Repeat("x", 80):        strings.Repeat("x", 63),
	} {
		if got := NormalizeClusterName(in); got != want {
			t.Errorf("NormalizeClusterName(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestValidateClusterName(t *testing.T) {
	t.Parallel()
	for _, ok := range []string{"prod-eu", "a", "cluster-1", strings.Repeat("a", 63)} {
		if err := ValidateClusterName(ok, "flag"); err != nil {
			t.Errorf("%q: %v", ok, err)
		}
	}
	for in, hint := range map[string]string{
		"Prod_EU":               `did you mean "prod-eu"?`,
		"_fleet":                `did you mean "fleet"?`,
		"-prod":                 `did you mean "prod"?`,
		strings.Repeat("a", 64): `did you mean "` + strings.Repeat("a", 63) + `"?`,
		"prod.eu":               `did you mean "prod-eu"?`,
	} {
		err := ValidateClusterName(in, "env CLUSTER_NAME")
		if !errors.Is(err, ErrInvalidClusterName) {
			t.Errorf("%q: want ErrInvalidClusterName, got %v", in, err)
			continue
		}
		for _, want := range []string{`"` + in + `"`, "(from env CLUSTER_NAME)", "at most 63 lower-case letters", hint} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("%q: error %q does not mention %s", in, err, want)
			}
		}
	}
}

func TestParseServerHost(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		server                       string
		name, provider, distribution string
	}{
		{"https://ABCDEF0123456789ABCDEF0123456789.gr7.eu-west-1.eks.amazonaws.com", "abcdef0123456789abcdef0123456789", ProviderAWS, DistributionEKS},
		{"https://0123abcd.yl4.cn-north-1.eks.amazonaws.com.cn:443", "0123abcd", ProviderAWS, DistributionEKS},
		{"https://prod-eu-dns-1a2b3c4d.hcp.westeurope.azmk8s.io:443", "prod-eu-dns", ProviderAzure, DistributionAKS},
		{"https://payments-rg-8f3e1b-0f1e2d3c.4b3a2c1d-aaaa-bbbb-cccc-0123456789ab.privatelink.eastus.azmk8s.io", "payments-rg-8f3e1b", ProviderAzure, DistributionAKS},
		{"https://gke-0123456789abcdef-123456789012.europe-west1.gke.goog", "", ProviderGCP, DistributionGKE},
		{"https://8c1f0b5e-7a3d-4f1e-9b2a-5c6d7e8f9a0b.k8s.ondigitalocean.com", "8c1f0b5e-7a3d-4f1e-9b2a-5c6d7e8f9a0b", ProviderDigitalOcean, DistributionDOKS},
		{"https://1a2b3c4d-aaaa-bbbb.us-east-2.linodelke.net:443", "1a2b3c4d-aaaa-bbbb", ProviderLinode, DistributionLKE},
		{"https://api.prod-eu.example.com:6443", "prod-eu", "", ""},
		{"https://api.Prod_EU.corp.example.com:6443/", "prod-eu", "", ""},
		{"https://api.mycluster.a1b2.p1.openshiftapps.com:6443", "mycluster", "", DistributionOpenShift},
		{"https://api.x7k2p9.westeurope.aroapp.io:6443", "x7k2p9", ProviderAzure, DistributionOpenShift},
		{"api.staging.k8s.local", "staging", "", ""},
	} {
		h, ok := ParseServerHost(tc.server)
		if !ok {
			t.Errorf("%s: no pattern matched", tc.server)
			continue
		}
		if h.Name != tc.name || h.Provider != tc.provider || h.Distribution != tc.distribution || h.Pattern == "" {
			t.Errorf("%s: got %+v, want name %q, provider %q, distribution %q", tc.server, h, tc.name, tc.provider, tc.distribution)
		}
	}
	for _, server := range []string{
		"https://127.0.0.1:6443", "https://[::1]:6443", "https://localhost:6443", "https://10.0.0.1",
		"https://kubernetes.default.svc", "https://api.example.com", "https://k8s.example.com:6443", "",
	} {
		if h, ok := ParseServerHost(server); ok {
			t.Errorf("%s: matched %+v, want no match", server, h)
		}
	}
}

func TestParseGitVersion(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		version, provider, distribution string
	}{
		{"v1.30.4-eks-a737599", ProviderAWS, DistributionEKS},
		{"v1.30.5-gke.1014001", ProviderGCP, DistributionGKE},
		{"v1.30.4+k3s1", "", DistributionK3s},
		{"v1.30.4+rke2r1", "", DistributionRKE2},
	} {
		h, ok := ParseGitVersion(tc.version)
		if !ok || h.Provider != tc.provider || h.Distribution != tc.distribution {
			t.Errorf("%s: got %+v, %v", tc.version, h, ok)
		}
	}
	for _, v := range []string{"v1.30.4", "v1.27.6+f67aeb3", "v0.0.0-master+$Format:%H$", ""} {
		if h, ok := ParseGitVersion(v); ok {
			t.Errorf("%s: got %+v, want no distribution", v, h)
		}
	}
}

func TestParseProviderID(t *testing.T) {
	t.Parallel()
	for id, want := range map[string]ProviderIDHints{
		"aws:///eu-west-1a/i-0abc123":                          {Provider: ProviderAWS},
		"azure:///subscriptions/s/resourceGroups/rg/providers": {Provider: ProviderAzure},
		"gce://my-project/europe-west1-b/gke-node-1":           {Provider: ProviderGCP},
		"digitalocean://123456":                                {Provider: ProviderDigitalOcean},
		"linode://98765":                                       {Provider: ProviderLinode},
		"kind://docker/dev/dev-control-plane":                  {Distribution: DistributionKind},
		"k3s://node-1":                                         {Distribution: DistributionK3s},
		"rke2://node-1":                                        {Distribution: DistributionRKE2},
	} {
		if got, ok := ParseProviderID(id); !ok || got != want {
			t.Errorf("%s: got %+v, %v; want %+v", id, got, ok, want)
		}
	}
	for _, id := range []string{"", "i-0abc123", "metal://x"} {
		if got, ok := ParseProviderID(id); ok {
			t.Errorf("%s: got %+v, want no match", id, got)
		}
	}
}

func TestNameFromContext(t *testing.T) {
	t.Parallel()
	for ctx, want := range map[string]string{
		"arn:aws:eks:eu-west-1:123456789012:cluster/prod-eu": "prod-eu",
		"admin@prod-eu.eu-west-1.eksctl.io":                  "prod-eu",
		"gke_my-project_europe-west1_payments":               "payments",
		"gke_my-project_europe-west1_pay_ments":              "pay-ments",
		"kind-dev":                                           "kind-dev",
		"Dev_Cluster.local":                                  "dev-cluster-local",
		"":                                                   "",
	} {
		if got := nameFromContext(ctx); got != want {
			t.Errorf("nameFromContext(%q) = %q, want %q", ctx, got, want)
		}
	}
}
