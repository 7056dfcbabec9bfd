package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestLocate(t *testing.T) {
	home := t.TempDir()
	t.Setenv("HOME", home)
	explicit := filepath.Join(t.TempDir(), "explicit.yaml")
	fromEnv := filepath.Join(t.TempDir(), "env.yaml")
	for _, p := range []string{explicit, fromEnv} {
		if err := os.WriteFile(p, nil, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	env := func(v string) func(string) (string, bool) {
		return func(k string) (string, bool) {
			if k == EnvConfig && v != "" {
				return v, true
			}
			return "", false
		}
	}

	if loc, err := Locate("", "", env("")); err != nil || loc.Path != "" {
		t.Errorf("no file anywhere: got %+v, %v; want none", loc, err)
	}
	def := filepath.Join(home, ".kube", "kbackup.yaml")
	if err := os.MkdirAll(filepath.Dir(def), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(def, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		explicit, env, want, source string
	}{
		{"", "", def, "default ~/.kube/kbackup.yaml"},
		{"", fromEnv, fromEnv, "env KBACKUP_CONFIG"},
		{explicit, fromEnv, explicit, "flag --config"},
	} {
		loc, err := Locate(c.explicit, "flag --config", env(c.env))
		if err != nil || loc.Path != c.want || loc.Source != c.source {
			t.Errorf("Locate(%q) with KBACKUP_CONFIG=%q: got %+v, %v; want %s from %s", c.explicit, c.env, loc, err, c.want, c.source)
		}
	}

	missing := filepath.Join(home, "nope.yaml")
	if _, err := Locate("", "", env(missing)); err == nil || !strings.Contains(err.Error(), missing) || !strings.Contains(err.Error(), "env KBACKUP_CONFIG") {
		t.Errorf("a missing file from KBACKUP_CONFIG: want an error naming it and the variable, got %v", err)
	}
	if _, err := Locate(home, "flag --config", env("")); err == nil || !strings.Contains(err.Error(), "directory") {
		t.Errorf("a directory: want an error saying so, got %v", err)
	}
}
