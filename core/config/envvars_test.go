package config

import (
	"reflect"
	"strings"
	"testing"
)

func TestEnvironmentVariablesOverrideTheFile(t *testing.T) {
	const yaml = `
cluster:
  name: from-file
  domain: file.example.com
storage:
  bucket: backups
observability:
  logging:
    level: info
    format: json
`
	tests := []struct {
		name        string
		env         map[string]string
		get         func(*Config) string
		key, want   string
		wantSource  string
		otherChecks func(t *testing.T, c *Config)
	}{
		{name: "CLUSTER_NAME", env: map[string]string{"CLUSTER_NAME": "prod-eu"},
			get: func(c *Config) string { return c.Cluster.Name }, key: "cluster.name", want: "prod-eu", wantSource: "env CLUSTER_NAME"},
		{name: "CLUSTER_DOMAIN", env: map[string]string{"CLUSTER_DOMAIN": "eu.example.com"},
			get: func(c *Config) string { return c.Cluster.Domain }, key: "cluster.domain", want: "eu.example.com", wantSource: "env CLUSTER_DOMAIN"},
		{name: "LOG_LEVEL", env: map[string]string{"LOG_LEVEL": "debug"},
			get: func(c *Config) string { return c.Observability.Logging.Level }, key: "observability.logging.level", want: "debug", wantSource: "env LOG_LEVEL"},
		{name: "LOG_FORMAT", env: map[string]string{"LOG_FORMAT": "text"},
			get: func(c *Config) string { return c.Observability.Logging.Format }, key: "observability.logging.format", want: "text", wantSource: "env LOG_FORMAT"},
		{name: "an empty variable counts as unset", env: map[string]string{"CLUSTER_NAME": ""},
			get: func(c *Config) string { return c.Cluster.Name }, key: "cluster.name", want: "from-file", wantSource: "kbackup.yaml:3"},
		{name: "KBACKUP_STORAGE replaces the spelled-out location",
			env: map[string]string{"KBACKUP_STORAGE": "s3://other/kb?endpoint=https://s3.local:9000"},
			get: func(c *Config) string { return c.Storage.URL }, key: "storage.url", want: "s3://other/kb?endpoint=https://s3.local:9000", wantSource: "env KBACKUP_STORAGE",
			otherChecks: func(t *testing.T, c *Config) {
				if c.Storage.Bucket != "" {
					t.Errorf("bucket = %q, want it cleared by the url", c.Storage.Bucket)
				}
				if got := c.Sources["storage.bucket"]; got != "cleared by storage.url from env KBACKUP_STORAGE" {
					t.Errorf("source of the cleared bucket = %q", got)
				}
				if err := c.Validate(); err != nil {
					t.Errorf("Validate: %v", err)
				}
			}},
		{name: "a value with $ is taken as it is", env: map[string]string{"AWS_ACCESS_KEY_ID": "AKIA$1", "AWS_SECRET_ACCESS_KEY": "se${cret}"},
			get: func(c *Config) string { return c.Storage.SecretAccessKey }, key: "storage.secret_access_key", want: "se${cret}", wantSource: "env AWS_SECRET_ACCESS_KEY"},
		{name: "AWS_REGION fills an empty region", env: map[string]string{"AWS_REGION": "us-west-2"},
			get: func(c *Config) string { return c.Storage.Region }, key: "storage.region", want: "us-west-2", wantSource: "env AWS_REGION"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := mustParse(t, yaml, tt.env)
			if got := tt.get(c); got != tt.want {
				t.Errorf("%s = %q, want %q", tt.key, got, tt.want)
			}
			if got := c.Sources[tt.key]; got != tt.wantSource {
				t.Errorf("Sources[%s] = %q, want %q", tt.key, got, tt.wantSource)
			}
			if tt.otherChecks != nil {
				tt.otherChecks(t, c)
			}
		})
	}
}

func TestAWSVariablesOnlyFillWhatTheFileLeftEmpty(t *testing.T) {
	env := map[string]string{
		"AWS_ACCESS_KEY_ID":     "AKIAENVIRONMENT",
		"AWS_SECRET_ACCESS_KEY": "env-secret",
		"AWS_REGION":            "us-west-2",
	}
	c := mustParse(t, "storage:\n  access_key_id: minio-admin\n  secret_access_key: file-secret\n  region: eu-west-1\n", env)
	if c.Storage.AccessKeyID != "minio-admin" || c.Storage.SecretAccessKey != "file-secret" || c.Storage.Region != "eu-west-1" {
		t.Errorf("storage = %+v, want the file's credentials and region", c.Storage)
	}

	// Credentials are a pair: half from the file, half from the
	// environment would never authenticate.
	c = mustParse(t, "storage:\n  access_key_id: minio-admin\n", env)
	if c.Storage.SecretAccessKey != "" {
		t.Errorf("secret = %q, want it left for Validate to report", c.Storage.SecretAccessKey)
	}
	if err := c.Validate(); err == nil || !strings.Contains(err.Error(), "kbackup.yaml:2:3: storage.secret_access_key: is empty, but the other half") {
		t.Errorf("Validate = %v, want the missing half named", err)
	}

	// A region in the url wins over the ambient one.
	c = mustParse(t, "storage:\n  url: s3://b/p?region=eu-central-1\n", env)
	if c.Storage.Region != "" {
		t.Errorf("region = %q, want none: the url has one", c.Storage.Region)
	}
	if err := c.Validate(); err != nil {
		t.Errorf("Validate: %v", err)
	}
}

func TestSetIsAFlag(t *testing.T) {
	c := mustParse(t, "cluster:\n  name: from-file\nbackup:\n  include_namespaces: [a]\n",
		map[string]string{"CLUSTER_NAME": "from-env"})
	if err := c.Set("cluster.name", "from-flag", "flag --cluster"); err != nil {
		t.Fatal(err)
	}
	if c.Cluster.Name != "from-flag" || c.Sources["cluster.name"] != "flag --cluster" {
		t.Errorf("cluster.name = %q from %q", c.Cluster.Name, c.Sources["cluster.name"])
	}
	if err := c.Set("backup.include_namespaces", "payments, shop-*", "flag --include-namespaces"); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(c.Backup.IncludeNamespaces, []string{"payments", "shop-*"}) {
		t.Errorf("include_namespaces = %q", c.Backup.IncludeNamespaces)
	}
	if err := c.Set("backup_schedules.prod", "0 1 * * *", "flag --schedule"); err != nil {
		t.Fatal(err)
	}
	if c.BackupSchedules["prod"] != "0 1 * * *" {
		t.Errorf("backup_schedules = %v", c.BackupSchedules)
	}
	if err := c.Set("backup.behavior.batch_size", "${X}", "flag --batch-size"); err == nil ||
		err.Error() != `flag --batch-size: backup.behavior.batch_size: "${X}" is not an integer; want a positive integer like 500` {
		t.Errorf("Set of a bad integer = %v", err)
	}
	if err := c.Set("backup.behavior.batchsize", "5", "flag --x"); err == nil ||
		err.Error() != `flag --x: backup.behavior.batchsize: unknown key; did you mean batch_size?` {
		t.Errorf("Set of an unknown key = %v", err)
	}
	// A value set by a flag fails validation under the flag's name.
	if err := c.Set("observability.logging.level", "verbose", "flag --log-level"); err != nil {
		t.Fatal(err)
	}
	err := c.Validate()
	if err == nil || err.Error() != `flag --log-level: observability.logging.level: "verbose" is not a log level; want one of debug, info, warn, error` {
		t.Errorf("Validate = %v", err)
	}
	// Set keeps the file position of the enclosing block.
	if _, ok := c.origins["backup"]; !ok {
		t.Errorf("Set lost the origin of the backup block")
	}
}

func TestSetOnAConfigBuiltInCode(t *testing.T) {
	var c Config
	if err := c.Set("storage.url", "/var/backups", "terraform"); err != nil {
		t.Fatal(err)
	}
	if c.Storage.URL != "/var/backups" || c.Sources["storage.url"] != "terraform" || c.Sources["cluster.name"] != "default" {
		t.Errorf("url %q, sources %v", c.Storage.URL, c.Sources)
	}
}

func TestStorageURLWins(t *testing.T) {
	tests := []struct {
		name        string
		yaml        string
		environment string
		wantBucket  string
		wantErr     string
	}{
		{name: "url alone clears the default bucket",
			yaml:       "storage:\n  url: s3://backups/kbackup\n",
			wantBucket: ""},
		{name: "url and agreeing fields",
			yaml:       "storage:\n  url: s3://backups/kbackup?region=eu-west-1\n  bucket: backups\n  prefix: kbackup\n  region: eu-west-1\n",
			wantBucket: "backups"},
		{name: "url and a disagreeing bucket",
			yaml:    "storage:\n  url: s3://backups/kbackup\n  bucket: other\n",
			wantErr: `kbackup.yaml:3:11: storage.bucket: "other" disagrees with storage.url, which says "backups"; storage.url wins when both are given, so remove storage.bucket or make them agree`},
		{name: "url and a disagreeing endpoint",
			yaml:    "storage:\n  url: s3://backups?endpoint=https://a:9000\n  endpoint: https://b:9000\n",
			wantErr: `kbackup.yaml:3:13: storage.endpoint: "https://b:9000" disagrees with storage.url, which says "https://a:9000"; storage.url wins when both are given, so remove storage.endpoint or make them agree`},
		{name: "local url and a bucket",
			yaml:    "storage:\n  url: /var/backups\n  bucket: backups\n",
			wantErr: `kbackup.yaml:3:11: storage.bucket: "backups" is for S3 storage, but storage.url is a local directory; remove one of them`},
		{name: "environment's url replaces the base's fields",
			yaml:        "environments:\n  - name: prod\n    overrides:\n      storage: {url: \"s3://prod/kb\"}\nstorage:\n  bucket: dev\n  endpoint: https://minio:9000\n",
			environment: "prod", wantBucket: ""},
		{name: "environment's bucket against the base's url",
			yaml:        "environments:\n  - name: prod\n    overrides:\n      storage: {bucket: prod}\nstorage:\n  url: s3://dev/kb\n",
			environment: "prod",
			wantErr:     `kbackup.yaml:4:25: storage.bucket: "prod" disagrees with storage.url, which says "dev"; storage.url wins when both are given, so remove storage.bucket or make them agree`},
		{name: "unsupported scheme",
			yaml:    "storage:\n  url: gs://backups\n",
			wantErr: `kbackup.yaml:2:8: storage.url: "gs://backups" has scheme "gs"; want s3://bucket/prefix?endpoint=https://host:port&region=r, file:///path or a directory path`},
		{name: "s3 without a bucket",
			yaml:    "storage:\n  url: s3:///prefix\n",
			wantErr: `kbackup.yaml:2:8: storage.url: "s3:///prefix" names no bucket; want s3://bucket/prefix`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := parseEnv(t, tt.yaml, tt.environment, nil)
			if err != nil {
				t.Fatal(err)
			}
			err = c.Validate()
			if tt.wantErr != "" {
				if err == nil || err.Error() != tt.wantErr {
					t.Errorf("Validate:\n%v\nwant:\n%s", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Errorf("Validate: %v", err)
			}
			if c.Storage.Bucket != tt.wantBucket {
				t.Errorf("bucket = %q, want %q", c.Storage.Bucket, tt.wantBucket)
			}
		})
	}
}

// AWS_REGION, set for other tools, leaves a local repository valid.
func TestAWSRegionIgnoredForALocalRepository(t *testing.T) {
	for _, c := range []struct{ name, yaml, storageEnv string }{
		{"local url in the file", "storage:\n  url: /var/lib/kbackup\n", ""},
		{"local url from KBACKUP_STORAGE", "", "file:///var/lib/kbackup"},
	} {
		t.Run(c.name, func(t *testing.T) {
			env := map[string]string{"AWS_REGION": "eu-west-1", "KBACKUP_STORAGE": c.storageEnv}
			cfg, err := Parse("kbackup.yaml", []byte(c.yaml), LoadOptions{LookupEnv: func(k string) (string, bool) { v, ok := env[k]; return v, ok }})
			if err != nil {
				t.Fatal(err)
			}
			if cfg.Storage.Region != "" {
				t.Errorf("storage.region %q, want none for a local repository", cfg.Storage.Region)
			}
			if err := cfg.Validate(); err != nil {
				t.Errorf("Validate: %v", err)
			}
		})
	}
}
