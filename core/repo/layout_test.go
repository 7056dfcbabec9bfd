package repo

import (
	"errors"
	"strings"
	"testing"

	"github.com/kbackup/kbackup/core/storage"
)

func TestLayoutKeys(t *testing.T) {
	const sha = "ab12cd34ef56ab12cd34ef56ab12cd34ef56ab12cd34ef56ab12cd34ef56ab12"
	for _, prefix := range []string{"", "team/prod", "/team/prod/"} {
		l := NewLayout(prefix)
		p := ""
		if prefix != "" {
			p = "team/prod/"
		}
		tests := []struct {
			key  string
			want string
			info KeyInfo
		}{
			{l.Config(), "_kbackup.json", KeyInfo{Kind: KindConfig}},
			{l.Probe("20260101T000000Z-abcdef"), "_probes/20260101T000000Z-abcdef", KeyInfo{Kind: KindProbe, Name: "20260101T000000Z-abcdef"}},
			{l.ClusterEntry("prod-eu"), "_fleet/clusters/prod-eu.json", KeyInfo{Kind: KindClusterEntry, Cluster: "prod-eu"}},
			{l.Schedule("nightly"), "_fleet/schedules/nightly.json", KeyInfo{Kind: KindSchedule, Name: "nightly"}},
			{l.RetentionPolicy("ninety-days"), "_fleet/retention/ninety-days.json", KeyInfo{Kind: KindRetentionPolicy, Name: "ninety-days"}},
			{l.Summary("prod-eu"), "_fleet/summaries/prod-eu.json", KeyInfo{Kind: KindSummary, Cluster: "prod-eu"}},
			{l.Manifest("prod-eu", "b1"), "prod-eu/_backups/b1.json", KeyInfo{Kind: KindManifest, Cluster: "prod-eu", Name: "b1"}},
			{l.RestoreRecord("prod-eu", "r1"), "prod-eu/_restores/r1.json", KeyInfo{Kind: KindRestoreRecord, Cluster: "prod-eu", Name: "r1"}},
			{l.InProgressMarker("prod-eu", "b2"), "prod-eu/_inprogress/b2.json", KeyInfo{Kind: KindInProgress, Cluster: "prod-eu", Name: "b2"}},
			{l.CollectionMarker("prod-eu", "g1"), "prod-eu/_collecting/g1.json", KeyInfo{Kind: KindCollecting, Cluster: "prod-eu", Name: "g1"}},
			{l.Claim("nightly", "20260101T020000Z", "prod-eu"), "_fleet/claims/nightly/20260101T020000Z/prod-eu.json", KeyInfo{Kind: KindClaim, Name: "nightly", Slot: "20260101T020000Z", Cluster: "prod-eu"}},
			{
				l.Pack("prod-eu", "payments", "configmaps", sha), "prod-eu/payments/configmaps/" + sha + ".yaml.zst",
				KeyInfo{Kind: KindPack, Cluster: "prod-eu", Namespace: "payments", Resource: "configmaps", SHA256: sha},
			},
			{
				l.Pack("prod-eu", "payments", "certificates.cert-manager.io", sha), "prod-eu/payments/certificates.cert-manager.io/" + sha + ".yaml.zst",
				KeyInfo{Kind: KindPack, Cluster: "prod-eu", Namespace: "payments", Resource: "certificates.cert-manager.io", SHA256: sha},
			},
			{
				l.Pack("prod-eu", "", "clusterroles.rbac.authorization.k8s.io", sha), "prod-eu/_cluster/clusterroles.rbac.authorization.k8s.io/" + sha + ".yaml.zst",
				KeyInfo{Kind: KindPack, Cluster: "prod-eu", Resource: "clusterroles.rbac.authorization.k8s.io", SHA256: sha},
			},
		}
		for _, tt := range tests {
			if tt.key != p+tt.want {
				t.Errorf("prefix %q: key %q; want %q", prefix, tt.key, p+tt.want)
			}
			info, err := l.Parse(tt.key)
			if err != nil {
				t.Errorf("Parse(%q): %v", tt.key, err)
				continue
			}
			if info != tt.info {
				t.Errorf("Parse(%q) = %+v; want %+v", tt.key, info, tt.info)
			}
		}
		for _, dir := range []string{l.ClusterEntries(), l.Schedules(), l.RetentionPolicies(), l.Cluster("c1"), l.Backups("c1"), l.Restores("c1"), l.InProgressMarkers("c1")} {
			if !strings.HasPrefix(dir, p) || !strings.HasSuffix(dir, "/") {
				t.Errorf("prefix %q: listing prefix %q", prefix, dir)
			}
		}
	}
}

func TestLayoutParseRejects(t *testing.T) {
	const sha = "ab12cd34ef56ab12cd34ef56ab12cd34ef56ab12cd34ef56ab12cd34ef56ab12"
	l := NewLayout("repo")
	for _, key := range []string{
		"other/_kbackup.json",
		"repo/README",
		"repo/_fleet/clusters/prod.txt",
		"repo/_fleet/other/x.json",
		"repo/_other/_backups/b1.json",
		"repo/Prod/_backups/b1.json",
		"repo/prod/_backups/.hidden.json",
		"repo/prod/_unknown/b1.json",
		"repo/prod/payments/configmaps/" + sha + ".yaml",
		"repo/prod/payments/configmaps/" + strings.ToUpper(sha) + ".yaml.zst",
		"repo/prod/payments/configmaps/abc.yaml.zst",
		"repo/prod/Payments/configmaps/" + sha + ".yaml.zst",
		"repo/prod/_payments/configmaps/" + sha + ".yaml.zst",
		"repo/prod/payments/ConfigMaps/" + sha + ".yaml.zst",
		"repo/prod/payments/configmaps./" + sha + ".yaml.zst",
		"repo/prod/payments/configmaps/extra/" + sha + ".yaml.zst",
	} {
		if info, err := l.Parse(key); !errors.Is(err, storage.ErrInvalid) {
			t.Errorf("Parse(%q) = %+v, %v; want storage.ErrInvalid", key, info, err)
		}
	}
}

func TestValidateNames(t *testing.T) {
	for _, ok := range []string{"prod-eu", "a", "cluster-0a1b2c3d", strings.Repeat("a", 63)} {
		if err := ValidateClusterName(ok); err != nil {
			t.Errorf("ValidateClusterName(%q): %v", ok, err)
		}
	}
	for _, bad := range []string{"", "_fleet", "_cluster", "Prod", "prod_eu", "prod.eu", "-prod", strings.Repeat("a", 64), "prod/eu"} {
		err := ValidateClusterName(bad)
		if !errors.Is(err, storage.ErrInvalid) || (bad != "" && !strings.Contains(err.Error(), bad)) {
			t.Errorf("ValidateClusterName(%q) = %v; want storage.ErrInvalid naming the input", bad, err)
		}
	}
	for _, ok := range []string{"configmaps", "deployments.apps", "certificates.cert-manager.io", "foo-bars.example.com"} {
		if err := ValidateResource(ok); err != nil {
			t.Errorf("ValidateResource(%q): %v", ok, err)
		}
	}
	for _, bad := range []string{"", "ConfigMaps", "configmaps.", ".apps", "deployments.Apps", "a/b", "_x"} {
		if err := ValidateResource(bad); !errors.Is(err, storage.ErrInvalid) {
			t.Errorf("ValidateResource(%q) = %v; want storage.ErrInvalid", bad, err)
		}
	}
	if err := ValidateNamespace("_system"); !errors.Is(err, storage.ErrInvalid) {
		t.Errorf("ValidateNamespace(_system) = %v", err)
	}
	id := NewID(mustTime(t, "2026-01-02T03:04:05Z"))
	if !strings.HasPrefix(id, "20260102T030405Z-") || ValidateBackupID(id) != nil {
		t.Errorf("NewID = %q", id)
	}
	for _, bad := range []string{"", "_x", "a.b", "a/b", "-a", strings.Repeat("a", 129)} {
		if err := ValidateBackupID(bad); !errors.Is(err, storage.ErrInvalid) {
			t.Errorf("ValidateBackupID(%q) = %v", bad, err)
		}
	}
}

// Pending summary changes sit beside the summaries, named by cluster and
// change ID, neither of which has a '.'.
func TestPendingChangeKeys(t *testing.T) {
	l := NewLayout("backups")
	key := l.PendingChange("prod-eu-1", "20260101T020000Z-1a2b3c")
	if key != "backups/_fleet/summaries/prod-eu-1.20260101T020000Z-1a2b3c.pending" {
		t.Fatalf("PendingChange = %q", key)
	}
	info, err := l.Parse(key)
	if err != nil || info != (KeyInfo{Kind: KindPendingChange, Cluster: "prod-eu-1", Name: "20260101T020000Z-1a2b3c"}) {
		t.Errorf("Parse(%q) = %+v, %v", key, info, err)
	}
	if info, err := l.Parse(l.Summary("prod-eu-1")); err != nil || info.Kind != KindSummary || info.Cluster != "prod-eu-1" {
		t.Errorf("Parse(summary) = %+v, %v", info, err)
	}
	if _, err := l.Parse("backups/_fleet/summaries/nodot.pending"); err == nil {
		t.Error("a pending change without an ID was accepted")
	}
}
