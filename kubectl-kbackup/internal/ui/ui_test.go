package ui

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/kbackup/kbackup/core/backup"
	"github.com/kbackup/kbackup/core/config"
	"github.com/kbackup/kbackup/core/repo"
	"github.com/kbackup/kbackup/core/selection"
	"github.com/kbackup/kbackup/core/storage"
)

func TestBytes(t *testing.T) {
	for n, want := range map[int64]string{0: "0 B", 1023: "1023 B", 1024: "1.0 KiB", 1536: "1.5 KiB", 10 << 20: "10 MiB", 3 << 30: "3.0 GiB"} {
		if got := Bytes(n); got != want {
			t.Errorf("Bytes(%d) = %q, want %q", n, got, want)
		}
	}
}

func TestAgeAndDuration(t *testing.T) {
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	for ago, want := range map[time.Duration]string{30 * time.Second: "30s", 5 * time.Minute: "5m", 3 * time.Hour: "3h", 50 * time.Hour: "2d2h"} {
		if got := Age(now.Add(-ago), now); got != want {
			t.Errorf("Age(%s ago) = %q, want %q", ago, got, want)
		}
	}
	if Age(time.Time{}, now) != "<unknown>" {
		t.Error("the zero time has no age")
	}
	for d, want := range map[time.Duration]string{4500 * time.Millisecond: "4.5s", 90 * time.Second: "90s", -1: "<unknown>"} {
		if got := Duration(d); got != want {
			t.Errorf("Duration(%s) = %q, want %q", d, got, want)
		}
	}
	if Count(1, "pack") != "1 pack" || Count(3, "pack") != "3 packs" {
		t.Error("Count")
	}
}

func TestValidateOutput(t *testing.T) {
	for _, ok := range []string{"", "json", "yaml"} {
		if err := ValidateOutput(ok, false); err != nil {
			t.Errorf("%q: %v", ok, err)
		}
	}
	if err := ValidateOutput("xml", false); err == nil || !strings.Contains(err.Error(), `"xml"`) || !strings.Contains(err.Error(), "json, yaml") {
		t.Errorf("xml: %v", err)
	}
}

func sampleManifest() *repo.Manifest {
	started := time.Date(2026, 3, 1, 2, 0, 0, 0, time.UTC)
	return &repo.Manifest{
		FormatVersion: 1, ID: "20260301T020000Z-1a2b3c",
		Cluster:     repo.ClusterIdentity{Name: "prod-eu", UID: "uid-1", NameSource: "flag", KubernetesVersion: "v1.37.2"},
		Phase:       repo.PhasePartiallyFailed,
		Options:     repo.BackupOptions{Selection: selection.Selection{IncludeNamespaces: []string{"shop"}, ClusterResources: "auto"}},
		StartedAt:   started,
		CompletedAt: started.Add(4500 * time.Millisecond),
		Stats:       repo.Stats{Objects: 3, Namespaces: 1, ResourceTypes: 2, Packs: 2, PacksUploaded: 1, PacksReused: 1, BytesStored: 2048, BytesUploaded: 1024, RawBytes: 8192},
		Errors:      []repo.ResourceError{{Resource: "secrets", Message: "secrets is forbidden"}},
		Skipped:     []repo.SkippedObject{{Resource: "configmaps", Namespace: "shop", Name: "huge", Reason: "larger than max_resource_size"}},
		Packs: []repo.PackEntry{
			{PackRef: repo.PackRef{Cluster: "prod-eu", Namespace: "shop", Resource: "configmaps", Size: 1024}, Kind: "ConfigMap", Version: "v1", Namespaced: true, Objects: []string{"a", "b"}},
			{PackRef: repo.PackRef{Cluster: "prod-eu", Namespace: "shop", Resource: "deployments.apps", Size: 1024}, Group: "apps", Kind: "Deployment", Version: "v1", Namespaced: true, Objects: []string{"api"}},
		},
	}
}

// Written anywhere but a terminal, output has no escape sequences.
func TestRenderingToAPipeIsPlain(t *testing.T) {
	var buf bytes.Buffer
	s := NewStyles(&buf)
	if !s.Plain {
		t.Fatal("a buffer is not a terminal")
	}
	m := sampleManifest()
	now := m.StartedAt.Add(time.Hour)
	res := &backup.Result{Manifest: m, Location: "s3://spare", Attempts: []repo.OpenAttempt{{Location: storage.Location{Scheme: storage.SchemeS3, Bucket: "primary"}, Err: errors.New("storage unavailable")}}}
	details := []PackDetail{{Pack: m.Packs[0], Objects: []string{"a", "b"}}, {Pack: m.Packs[1], Err: errors.New("pack x: corrupt")}}
	for name, render := range map[string]func() error{
		"result":      func() error { return RenderBackupResult(&buf, s, res) },
		"list":        func() error { return RenderBackupList(&buf, s, []*repo.Manifest{m}, now) },
		"description": func() error { return RenderBackupDescription(&buf, s, m, details, now) },
	} {
		buf.Reset()
		if err := render(); err != nil {
			t.Fatal(err)
		}
		out := buf.String()
		if strings.Contains(out, "\x1b") {
			t.Errorf("%s has escape sequences:\n%q", name, out)
		}
		t.Logf("%s:\n%s", name, out)
		var want []string
		switch name {
		case "result":
			want = []string{"Backup 20260301T020000Z-1a2b3c of cluster prod-eu: PartiallyFailed", "3 objects of 2 types in 1 namespace", "1.0 KiB: 1 pack uploaded, 1 reused",
				"4.5s", "Fallback:", "s3://primary: storage unavailable", "secrets: secrets is forbidden", "configmaps shop/huge: larger than max_resource_size"}
		case "list":
			want = []string{"ID                        CLUSTER   PHASE", "20260301T020000Z-1a2b3c   prod-eu   PartiallyFailed   3         2       2.0 KiB   1.0 KiB    60m   4.5s"}
		case "description":
			want = []string{"Cluster:      prod-eu (name from flag)", "Namespaces:         shop", "shop        configmaps         2         1.0 KiB", "CORRUPT or unreadable: pack x: corrupt", "    a\n    b\n"}
		}
		for _, w := range want {
			if !strings.Contains(out, w) {
				t.Errorf("%s lacks %q:\n%s", name, w, out)
			}
		}
	}
}

func TestBackupResultJSON(t *testing.T) {
	m := sampleManifest()
	res := &backup.Result{Manifest: m, Location: "file:///srv/spare", Attempts: []repo.OpenAttempt{{Location: storage.Location{Scheme: storage.SchemeS3, Bucket: "primary"}, Err: errors.New("down")}}}
	var buf bytes.Buffer
	if err := PrintObject(&buf, OutputJSON, NewBackupResult(res)); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"id": "20260301T020000Z-1a2b3c"`, `"packsUploaded": 1`, `"fallbackUsed": true`, `"location": "s3://primary"`, `"error": "down"`, `"duration": "4.5s"`} {
		if !strings.Contains(buf.String(), want) {
			t.Errorf("lacks %s:\n%s", want, buf.String())
		}
	}
	if strings.Contains(buf.String(), `"packs": [`) {
		t.Errorf("the result should not list packs:\n%s", buf.String())
	}
}

// config view hides secrets and says where each value came from.
func TestConfigView(t *testing.T) {
	cfg, err := config.Parse("kbackup.yaml", []byte("storage:\n  bucket: backups\n  access_key_id: AKIAIOSFODNN7EXAMPLE\n  secret_access_key: very-secret-value\n  fallback_buckets: [spare-a, spare-b]\nenvironments:\n  - name: prod\n    overrides:\n      storage:\n        bucket: backups-prod\n"),
		config.LoadOptions{LookupEnv: func(string) (string, bool) { return "", false }})
	if err != nil {
		t.Fatal(err)
	}
	if err := cfg.Set("backup.label_selector", "app=web", "flag --selector"); err != nil {
		t.Fatal(err)
	}
	view, err := NewConfigView("kbackup.yaml", cfg)
	if err != nil {
		t.Fatal(err)
	}
	values := map[string]ConfigValue{}
	for _, v := range view.Values {
		values[v.Key] = v
	}
	for key, want := range map[string]ConfigValue{
		"storage.bucket":                           {Value: "backups", Source: "kbackup.yaml:2"},
		"storage.access_key_id":                    {Value: "AKIA…", Source: "kbackup.yaml:3"},
		"storage.secret_access_key":                {Value: "REDACTED", Source: "kbackup.yaml:4"},
		"storage.fallback_buckets":                 {Value: "spare-a,spare-b", Source: "kbackup.yaml:5"},
		"backup.label_selector":                    {Value: "app=web", Source: "flag --selector"},
		"backup.behavior.batch_size":               {Value: "500", Source: "default"},
		"environments[0].overrides.storage.bucket": {Value: "backups-prod"},
	} {
		got := values[key]
		if got.Value != want.Value || (want.Source != "" && got.Source != want.Source) {
			t.Errorf("%s = %+v, want %+v", key, got, want)
		}
	}
	var buf bytes.Buffer
	if err := RenderConfigView(&buf, NewStyles(&buf), view); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(buf.String(), "very-secret-value") || strings.Contains(buf.String(), "AKIAIOSFODNN7EXAMPLE") {
		t.Errorf("config view shows a secret:\n%s", buf.String())
	}
}

// The progress bar draws only on a terminal.
func TestProgressOnlyOnATerminal(t *testing.T) {
	var buf bytes.Buffer
	p := NewBackupProgress(&buf)
	p.Handle(backup.Event{Kind: backup.EventStarted, TypesTotal: 3})
	p.Handle(backup.Event{Kind: backup.EventTypeDone, TypesDone: 1, TypesTotal: 3})
	p.Finish()
	if p.Enabled() || buf.Len() != 0 {
		t.Errorf("progress drawn on a buffer: %q", buf.String())
	}
}
