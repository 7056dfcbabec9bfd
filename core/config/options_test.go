package config

import (
	"errors"
	"strings"
	"testing"

	"github.com/kbackup/kbackup/core/repo"
	"github.com/kbackup/kbackup/core/storage"
)

func kbackupYAML(t *testing.T, yaml string, env map[string]string) *Config {
	t.Helper()
	cfg, err := Parse("kbackup.yaml", []byte(yaml), LoadOptions{LookupEnv: func(k string) (string, bool) {
		v, ok := env[k]
		return v, ok
	}})
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// The storage section picks the repository: a URL, spelled-out fields, or
// the local default when nothing but defaults is set.
func TestRepositoryOptions(t *testing.T) {
	t.Setenv("XDG_DATA_HOME", "/data")
	cases := []struct {
		name, yaml string
		env        map[string]string
		flagURL    string
		want       string
		fallbacks  []string
		staticKeys bool
	}{
		{name: "nothing configured", want: "file:///data/kbackup"},
		{name: "only AWS variables", env: map[string]string{"AWS_REGION": "eu-west-1", "AWS_ACCESS_KEY_ID": "AKIAEXAMPLE", "AWS_SECRET_ACCESS_KEY": "s3cr3t-value"},
			want: "file:///data/kbackup"},
		{name: "url", yaml: "storage:\n  url: s3://backups/team?endpoint=http://127.0.0.1:9000\n", want: "s3://backups/team?endpoint=http://127.0.0.1:9000"},
		{name: "url with region from AWS_REGION", yaml: "storage:\n  url: s3://backups\n", env: map[string]string{"AWS_REGION": "eu-west-1"},
			want: "s3://backups?region=eu-west-1"},
		{name: "spelled out", yaml: "storage:\n  bucket: backups\n  endpoint: https://minio.example.com:9000\n  region: us-east-1\n  fallback_buckets: [backups-dr]\n",
			want: "s3://backups?endpoint=https://minio.example.com:9000&region=us-east-1", fallbacks: []string{"s3://backups-dr?endpoint=https://minio.example.com:9000&region=us-east-1"}},
		{name: "endpoint alone takes the default bucket", yaml: "storage:\n  endpoint: http://127.0.0.1:9000\n",
			want: "s3://cluster-backups?endpoint=http://127.0.0.1:9000"},
		{name: "flag wins over the file", yaml: "storage:\n  bucket: backups\n  fallback_buckets: [backups-dr]\n", flagURL: "/tmp/repo", want: "file:///tmp/repo"},
		{name: "keys in the file are used as given", yaml: "storage:\n  url: s3://backups\n  access_key_id: AKIAFILEKEY\n  secret_access_key: from-the-file\n",
			want: "s3://backups", staticKeys: true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cfg := kbackupYAML(t, c.yaml, c.env)
			if c.flagURL != "" {
				if err := cfg.Set("storage.url", c.flagURL, "flag --storage"); err != nil {
					t.Fatal(err)
				}
			}
			primary, fallbacks, err := RepositoryOptions(cfg)
			if err != nil {
				t.Fatal(err)
			}
			if got := primary.Location.String(); got != c.want {
				t.Errorf("primary %s, want %s", got, c.want)
			}
			var fbs []string
			for _, f := range fallbacks {
				fbs = append(fbs, f.Location.String())
			}
			if strings.Join(fbs, " ") != strings.Join(c.fallbacks, " ") {
				t.Errorf("fallbacks %v, want %v", fbs, c.fallbacks)
			}
			if primary.Credentials.IsZero() == c.staticKeys {
				t.Errorf("credentials set: %v, want %v", !primary.Credentials.IsZero(), c.staticKeys)
			}
		})
	}
}

func TestOptionsFromConfigRefusesABadURL(t *testing.T) {
	cfg := kbackupYAML(t, "storage:\n  url: s3://backups?endpoint=minio:9000\n", nil)
	_, _, err := RepositoryOptions(cfg)
	if !errors.Is(err, storage.ErrInvalid) || !strings.Contains(err.Error(), "minio:9000") {
		t.Errorf("want an invalid-URL error naming the endpoint, got %v", err)
	}
}

// kbackup.yaml's backup section becomes the backup spec, and the cluster
// name's source is recorded without naming a front end's flag.
func TestBackupOptions(t *testing.T) {
	cfg := kbackupYAML(t, `cluster:
  name: prod-eu
backup:
  include_namespaces: [shop-*]
  exclude_resources: [secrets]
  cluster_resources: "off"
  behavior:
    max_resource_size: 1Mi
    batch_size: 100
`, nil)
	opts := BackupOptions(cfg)
	if opts.ClusterName != "prod-eu" || opts.ClusterNameSource != "config" || opts.PageSize != 100 ||
		opts.IncludeNamespaces[0] != "shop-*" || opts.ExcludeResources[0] != "secrets" || opts.ClusterResources != "off" || opts.MaxResourceSize != 1<<20 {
		t.Errorf("BackupOptions = %+v", opts)
	}
	if err := cfg.Set("cluster.name", "dr-us", "flag --cluster-name"); err != nil {
		t.Fatal(err)
	}
	if got := BackupOptions(cfg).ClusterNameSource; got != "explicit" {
		t.Errorf("a name from a flag is recorded as from %q; want explicit", got)
	}
	for source, want := range map[string]string{"env CLUSTER_NAME": "env", "kbackup.yaml:3": "config", "": "config", "flag --cluster-name": "explicit"} {
		if got := NameSource(source); got != want {
			t.Errorf("NameSource(%q) = %q; want %q", source, got, want)
		}
	}
}

// The primary's static keys go only to a fallback on the same S3 server
// that names no profile of its own.
func TestFallbackOptionsKeepKeysOnTheirServer(t *testing.T) {
	primary := repo.Options{
		Location:    storage.Location{Scheme: storage.SchemeS3, Bucket: "backups", Endpoint: "https://s3.eu.example.com"},
		Credentials: storage.Credentials{AccessKeyID: "AKEU", SecretAccessKey: "eu-secret"},
	}
	for _, c := range []struct {
		url      string
		wantKeys bool
	}{
		{"s3://backups-dr?endpoint=https://s3.eu.example.com", true},
		{"s3://backups-dr?endpoint=https://s3.eu.example.com&profile=dr", false},
		{"s3://backups-dr?endpoint=https://s3.us.example.com", false},
		{"s3://backups-dr", false}, // AWS itself, not the primary's server
		{"/var/backups/kbackup", false},
	} {
		fb, err := FallbackOptions(primary, c.url)
		if err != nil {
			t.Fatalf("%s: %v", c.url, err)
		}
		if got := fb.Credentials == primary.Credentials; got != c.wantKeys {
			t.Errorf("%s: given the primary's keys = %v, want %v", c.url, got, c.wantKeys)
		}
		if !c.wantKeys && !fb.Credentials.IsZero() {
			t.Errorf("%s: has keys %v", c.url, fb.Credentials)
		}
	}
	if _, err := FallbackOptions(primary, "s3://b?profile="); err == nil {
		t.Error("an empty profile was accepted")
	}
}
