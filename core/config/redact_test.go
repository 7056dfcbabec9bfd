package config

import (
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

func TestRedacted(t *testing.T) {
	c := mustParse(t, `
storage:
  url: "s3://minio:hunter2@backups/kb?endpoint=https://s3.local:9000&X-Amz-Signature=abc"
  access_key_id: AKIAIOSFODNN7EXAMPLE
  secret_access_key: wJalrXUtnFEMI/K7MDENG
notifications:
  webhook:
    url: https://hooks.example.com/kbackup?token=T0KEN
  slack:
    webhook_url: https://hooks.slack.com/services/T000/B000/XXXXSECRET
environments:
  - name: prod
    overrides:
      storage:
        secret_access_key: prod-secret-value
        access_key_id: short
      notifications:
        slack:
          webhook_url: https://hooks.slack.com/services/T111/B111/PRODSECRET
`, nil)
	r := c.Redacted()
	tests := []struct{ name, got, want string }{
		{"secret key", r.Storage.SecretAccessKey, "REDACTED"},
		{"key id keeps its first 4 characters", r.Storage.AccessKeyID, "AKIA…"},
		{"url user info and signature", r.Storage.URL, "s3://REDACTED@backups/kb?X-Amz-Signature=REDACTED&endpoint=https%3A%2F%2Fs3.local%3A9000"},
		{"webhook keeps the host", r.Notifications.Webhook.URL, "https://hooks.example.com/REDACTED"},
		{"slack keeps the host", r.Notifications.Slack.WebhookURL, "https://hooks.slack.com/REDACTED"},
	}
	for _, tt := range tests {
		if tt.got != tt.want {
			t.Errorf("%s: %q, want %q", tt.name, tt.got, tt.want)
		}
	}
	prod := r.Environments[0].Overrides
	if got := prod["storage"].(map[string]any)["secret_access_key"]; got != "REDACTED" {
		t.Errorf("secret in an overrides block = %v", got)
	}
	if got := prod["storage"].(map[string]any)["access_key_id"]; got != "REDACTED" {
		t.Errorf("short key id in an overrides block = %v, want REDACTED: 4 of 5 characters would show it", got)
	}
	if got := prod["notifications"].(map[string]any)["slack"].(map[string]any)["webhook_url"]; got != "https://hooks.slack.com/REDACTED" {
		t.Errorf("slack url in an overrides block = %v", got)
	}

	// The original is untouched.
	if c.Storage.SecretAccessKey != "wJalrXUtnFEMI/K7MDENG" ||
		c.Environments[0].Overrides["storage"].(map[string]any)["secret_access_key"] != "prod-secret-value" {
		t.Errorf("Redacted changed the original")
	}
	// Sources and positions come along.
	if r.Sources["storage.secret_access_key"] != "kbackup.yaml:5" {
		t.Errorf("Sources lost: %v", r.Sources["storage.secret_access_key"])
	}
}

func TestRedactValue(t *testing.T) {
	tests := []struct{ mode, in, want string }{
		{"full", "", ""}, // unset stays visibly unset
		{"full", "x", "REDACTED"},
		{"prefix", "AKIAIOSFODNN7EXAMPLE", "AKIA…"},
		{"prefix", "minio", "REDACTED"},
		{"url", "https://hooks.example.com", "https://hooks.example.com"},
		{"url", "https://hooks.example.com/", "https://hooks.example.com"},
		{"url", "https://user:pw@hooks.example.com/a", "https://hooks.example.com/REDACTED"},
		{"url", "hooks.example.com/T0KEN", "REDACTED"},
		{"url", "://bad", "REDACTED"},
		{"url", "ftp://T0KEN", "REDACTED"},
		{"userinfo", "/var/backups", "/var/backups"},
		{"userinfo", "file:///var/my backups", "file:///var/my backups"},
		{"userinfo", "s3://b/p?region=r", "s3://b/p?region=r"},
		{"userinfo", "s3://k:s@b/p", "s3://REDACTED@b/p"},
		{"userinfo", "s3://b/p?secret_key=s", "s3://b/p?secret_key=REDACTED"},
		{"userinfo", "s3://b\x7f", "REDACTED"},
	}
	for _, tt := range tests {
		if got := redactValue(tt.mode, tt.in); got != tt.want {
			t.Errorf("redactValue(%s, %q) = %q, want %q", tt.mode, tt.in, got, tt.want)
		}
	}
}

// TestSecretFieldsAreMarked fails when a field that looks like it holds a
// credential has no secret tag, so a new one cannot be forgotten.
func TestSecretFieldsAreMarked(t *testing.T) {
	words := []string{"secret", "token", "password", "webhook", "access_key", "credential", "api_key"}
	var marked int
	for _, f := range schemaFields() {
		mode, tagged := f.Field.Tag.Lookup("secret")
		if tagged {
			marked++
			if f.Field.Type.Kind() != reflect.String {
				t.Errorf("%s is tagged secret but is a %s; only strings can be redacted", f.Key, f.Field.Type)
			}
			switch mode {
			case "full", "prefix", "url", "userinfo":
			default:
				t.Errorf("%s has secret mode %q; want full, prefix, url or userinfo", f.Key, mode)
			}
			continue
		}
		if f.Field.Type.Kind() != reflect.String {
			continue
		}
		name := strings.ToLower(f.Key + " " + f.Field.Name)
		for _, w := range words {
			if strings.Contains(name, w) || strings.Contains(strings.ReplaceAll(name, "_", ""), strings.ReplaceAll(w, "_", "")) {
				t.Errorf("%s (%s) looks like a secret (%q) but has no `secret` tag", f.Key, f.Field.Name, w)
			}
		}
	}
	if marked < 5 {
		t.Errorf("only %d fields are marked secret; the walk is broken", marked)
	}
}

// TestRedactedLeaksNothing fills every secret field, in the base and in an
// overrides block, with a marker and checks that no output form shows it.
func TestRedactedLeaksNothing(t *testing.T) {
	const marker = "CANARY0123456789SECRETVALUE"
	c := Default()
	overrides := map[string]any{}
	for _, f := range schemaFields() {
		mode, ok := f.Field.Tag.Lookup("secret")
		if !ok || strings.Contains(f.Key, "[]") {
			continue
		}
		// The marker goes wherever the mode promises to hide something.
		value := map[string]string{
			"full":     marker,
			"prefix":   "AKIA" + marker,
			"url":      "https://user:" + marker + "@hooks.example.com/" + marker + "?token=" + marker + "#" + marker,
			"userinfo": "s3://user:" + marker + "@bucket/prefix?endpoint=https://s3.local&secret_key=" + marker,
		}[mode]
		if err := c.Set(f.Key, value, "test"); err != nil {
			t.Fatalf("Set(%s): %v", f.Key, err)
		}
		// The same key in an overrides block.
		m := overrides
		parts := strings.Split(f.Key, ".")
		for _, p := range parts[:len(parts)-1] {
			if _, ok := m[p]; !ok {
				m[p] = map[string]any{}
			}
			m = m[p].(map[string]any)
		}
		m[parts[len(parts)-1]] = value
	}
	c.Environments = []Environment{{Name: "prod", Overrides: overrides}}

	r := c.Redacted()
	js, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	ys, err := yaml.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	for form, out := range map[string]string{"json": string(js), "yaml": string(ys), "%+v": fmt.Sprintf("%+v", r)} {
		if strings.Contains(out, marker) {
			t.Errorf("%s of Redacted() shows the secret:\n%s", form, out)
		}
	}
	if !strings.Contains(string(js), "REDACTED") {
		t.Errorf("json shows no REDACTED at all: %s", js)
	}
	// Validation messages do not show it either.
	c.Notifications.Webhook.URL = "ftp://" + marker
	if err := c.Validate(); err == nil || strings.Contains(err.Error(), marker) {
		t.Errorf("Validate = %v, want an error that does not show the secret", err)
	}
}
