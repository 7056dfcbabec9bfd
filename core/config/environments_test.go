package config

import (
	"reflect"
	"strings"
	"testing"
)

const fleetYAML = `
environments:
  - name: dev
    cluster_url: https://dev.example.com:6443
    auto_sync: true
    overrides:
      backup:
        behavior:
          batch_size: "${DEV_BATCH:-100}"
      observability:
        logging: {level: debug}
  - name: prod
    cluster_url: https://prod.example.com:6443
    replicas: 3
    overrides:
      storage:
        bucket: backups-prod
        fallback_buckets: [backups-prod-dr]
      backup:
        exclude_namespaces: [scratch]
      performance:
        limits:
          memory_limit: 4Gi
storage:
  bucket: backups
  region: eu-west-1
  fallback_buckets: [backups-dr, backups-dr2]
backup:
  behavior:
    batch_size: 250
    max_resource_size: 20Mi
  exclude_namespaces: [kube-system, kube-public]
performance:
  limits:
    max_concurrent_operations: 8
    memory_limit: 1Gi
`

func parseEnv(t *testing.T, yaml, environment string, env map[string]string) (*Config, error) {
	t.Helper()
	return Parse("kbackup.yaml", []byte(yaml), LoadOptions{Environment: environment, LookupEnv: envMap(env)})
}

func TestEnvironmentOverridesMergeOverBase(t *testing.T) {
	c, err := parseEnv(t, fleetYAML, "prod", nil)
	if err != nil {
		t.Fatal(err)
	}
	if c.ActiveEnvironment != "prod" {
		t.Errorf("ActiveEnvironment = %q", c.ActiveEnvironment)
	}
	// Fields of a mapping are replaced one by one...
	if c.Storage.Bucket != "backups-prod" || c.Storage.Region != "eu-west-1" {
		t.Errorf("storage = %+v, want prod's bucket and the base's region", c.Storage)
	}
	if got := c.Performance.Limits; got.MemoryLimit.String() != "4Gi" || got.MaxConcurrentOperations != 8 {
		t.Errorf("limits = %+v, want memory 4Gi from prod and concurrency 8 from the base", got)
	}
	if c.Backup.Behavior.BatchSize != 250 || c.Backup.Behavior.MaxResourceSize.String() != "20Mi" {
		t.Errorf("behavior = %+v, want the base's", c.Backup.Behavior)
	}
	// ...lists are replaced whole.
	if !reflect.DeepEqual(c.Storage.FallbackBuckets, []string{"backups-prod-dr"}) {
		t.Errorf("fallback_buckets = %v, want prod's list alone", c.Storage.FallbackBuckets)
	}
	if !reflect.DeepEqual(c.Backup.ExcludeNamespaces, []string{"scratch"}) {
		t.Errorf("exclude_namespaces = %v, want prod's list alone", c.Backup.ExcludeNamespaces)
	}
	// Sources point at the overrides block for what it set.
	wantSources := map[string]string{
		"storage.bucket":                    "kbackup.yaml:17",
		"storage.region":                    "kbackup.yaml:26",
		"storage.fallback_buckets":          "kbackup.yaml:18",
		"performance.limits.memory_limit":   "kbackup.yaml:23",
		"backup.behavior.batch_size":        "kbackup.yaml:30",
		"backup.behavior.max_resource_size": "kbackup.yaml:31",
		"observability.logging.level":       "default",
	}
	for k, want := range wantSources {
		if got := c.Sources[k]; got != want {
			t.Errorf("Sources[%s] = %q, want %q", k, got, want)
		}
	}
	// The items of the replaced list are forgotten with it.
	if _, ok := c.Sources["storage.fallback_buckets[1]"]; ok {
		t.Errorf("Sources keeps the base's second fallback bucket: %v", c.Sources)
	}
	if err := c.Validate(); err != nil {
		t.Errorf("Validate: %v", err)
	}
}

func TestEnvironmentNotSelectedLeavesBase(t *testing.T) {
	c, err := parseEnv(t, fleetYAML, "", nil)
	if err != nil {
		t.Fatal(err)
	}
	if c.ActiveEnvironment != "" || c.Storage.Bucket != "backups" || c.Backup.Behavior.BatchSize != 250 {
		t.Errorf("without an environment: active %q, bucket %q, batch %d", c.ActiveEnvironment, c.Storage.Bucket, c.Backup.Behavior.BatchSize)
	}
	// The blocks are kept, interpolated and typed, for display.
	want := map[string]any{
		"backup":        map[string]any{"behavior": map[string]any{"batch_size": 100}},
		"observability": map[string]any{"logging": map[string]any{"level": "debug"}},
	}
	if got := c.Environments[0].Overrides; !reflect.DeepEqual(got, want) {
		t.Errorf("dev overrides = %#v, want %#v", got, want)
	}
	prod := c.Environments[1].Overrides
	if got := prod["performance"].(map[string]any)["limits"].(map[string]any)["memory_limit"]; got != "4Gi" {
		t.Errorf("prod memory_limit for display = %#v, want \"4Gi\"", got)
	}
	if env, ok := c.LookupEnvironment("prod"); !ok || env.Replicas != 3 || env.AutoSync {
		t.Errorf("LookupEnvironment(prod) = %+v, %v", env, ok)
	}
	if dev, _ := c.LookupEnvironment("dev"); dev.Replicas != 1 {
		t.Errorf("dev replicas = %d, want the default 1", dev.Replicas)
	}
	if got := strings.Join(c.EnvironmentNames(), ","); got != "dev,prod" {
		t.Errorf("EnvironmentNames = %s", got)
	}
}

func TestEnvironmentFromKBACKUP_ENVIRONMENT(t *testing.T) {
	c, err := parseEnv(t, fleetYAML, "", map[string]string{"KBACKUP_ENVIRONMENT": "dev", "DEV_BATCH": "42"})
	if err != nil {
		t.Fatal(err)
	}
	if c.ActiveEnvironment != "dev" || c.Backup.Behavior.BatchSize != 42 || c.Observability.Logging.Level != "debug" {
		t.Errorf("active %q, batch %d, level %q", c.ActiveEnvironment, c.Backup.Behavior.BatchSize, c.Observability.Logging.Level)
	}
	if got := c.Sources["backup.behavior.batch_size"]; got != "kbackup.yaml:9 via env DEV_BATCH" {
		t.Errorf("source = %q", got)
	}
	// The option wins over the variable.
	c, err = parseEnv(t, fleetYAML, "prod", map[string]string{"KBACKUP_ENVIRONMENT": "dev"})
	if err != nil {
		t.Fatal(err)
	}
	if c.ActiveEnvironment != "prod" {
		t.Errorf("active = %q, want prod from LoadOptions", c.ActiveEnvironment)
	}
}

func TestUnknownEnvironment(t *testing.T) {
	tests := []struct {
		name, yaml, env string
		vars            map[string]string
		want            string
	}{
		{"typo", fleetYAML, "prd", nil,
			`kbackup.yaml:3:3: environments: environment "prd" is not defined; defined: dev, prod; did you mean prod?`},
		{"from the variable", fleetYAML, "", map[string]string{"KBACKUP_ENVIRONMENT": "staging"},
			`kbackup.yaml:3:3: environments: environment "staging" (from KBACKUP_ENVIRONMENT) is not defined; defined: dev, prod`},
		{"no environments", "cluster: {name: a}\n", "prod", nil,
			`kbackup.yaml: environments: environment "prod" is not defined: there are no environments`},
		{"no named environments", "environments:\n  - replicas: 2\n", "prod", nil,
			`kbackup.yaml:2:3: environments: environment "prod" is not defined: no environment has a name`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := parseEnv(t, tt.yaml, tt.env, tt.vars)
			if err == nil || err.Error() != tt.want {
				t.Errorf("error:\n%v\nwant:\n%s", err, tt.want)
			}
		})
	}
}

func TestOverridesAreCheckedForEveryEnvironment(t *testing.T) {
	yaml := `
environments:
  - name: dev
  - name: prod
    overrides:
      backup:
        behavior:
          batch_size: many
      cluster:
        name: other
      storage: [a]
`
	// Working on dev still reports prod's mistakes.
	_, err := parseEnv(t, yaml, "dev", nil)
	want := strings.Join([]string{
		`kbackup.yaml:8:23: environments[1].overrides.backup.behavior.batch_size: "many" is not an integer; want a positive integer like 500`,
		`kbackup.yaml:9:7: environments[1].overrides.cluster: cannot be overridden per environment; an overrides block takes storage, backup, performance, notifications, observability`,
		`kbackup.yaml:11:16: environments[1].overrides.storage: want a mapping with keys url, bucket, prefix, endpoint, region, access_key_id, secret_access_key, ca_file, insecure_skip_tls_verify, auto_create_bucket, fallback_buckets, encryption, replicate_to, got a list`,
	}, "\n")
	if err == nil || err.Error() != want {
		t.Errorf("error:\n%v\nwant:\n%s", err, want)
	}
}

func TestOverrideValidationPointsAtTheBlock(t *testing.T) {
	yaml := `
environments:
  - name: prod
    overrides:
      backup:
        behavior:
          batch_size: 0
backup:
  behavior:
    batch_size: 100
`
	c, err := parseEnv(t, yaml, "prod", nil)
	if err != nil {
		t.Fatal(err)
	}
	err = c.Validate()
	want := `kbackup.yaml:7:23: backup.behavior.batch_size: 0 is out of range; want 1 to 10000 objects per LIST page, like 500`
	if err == nil || err.Error() != want {
		t.Errorf("Validate:\n%v\nwant:\n%s", err, want)
	}
}
