package config

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// parse parses a file called kbackup.yaml with the given environment.
func parse(t *testing.T, yaml string, env map[string]string) (*Config, error) {
	t.Helper()
	return Parse("kbackup.yaml", []byte(yaml), LoadOptions{LookupEnv: envMap(env)})
}

func mustParse(t *testing.T, yaml string, env map[string]string) *Config {
	t.Helper()
	c, err := parse(t, yaml, env)
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	return c
}

// fieldErrors returns the problems of an error from this package.
func fieldErrors(t *testing.T, err error) ValidationErrors {
	t.Helper()
	var es ValidationErrors
	if !errors.As(err, &es) {
		t.Fatalf("error %v (%T) is not ValidationErrors", err, err)
	}
	return es
}

func TestParseTypesInterpolatedValues(t *testing.T) {
	c := mustParse(t, `
backup:
  behavior:
    batch_size: "${BATCH_SIZE:-50}"
    max_resource_size: "${MAX_RESOURCE_SIZE:-5Mi}"
    skip_invalid_resources: "${SKIP_INVALID:-false}"
performance:
  limits:
    max_concurrent_operations: "${MAX_CONCURRENT}"
    cpu_limit: 500m
observability:
  metrics:
    port: "${METRICS_PORT:-}"
`, map[string]string{"MAX_CONCURRENT": "4"})
	if got := c.Backup.Behavior.BatchSize; got != 50 {
		t.Errorf("batch_size = %d, want 50", got)
	}
	if got := c.Backup.Behavior.MaxResourceSize.String(); got != "5Mi" {
		t.Errorf("max_resource_size = %s, want 5Mi", got)
	}
	if c.Backup.Behavior.SkipInvalidResources {
		t.Errorf("skip_invalid_resources = true, want false")
	}
	if got := c.Performance.Limits.MaxConcurrentOperations; got != 4 {
		t.Errorf("max_concurrent_operations = %d, want 4", got)
	}
	if got := c.Performance.Limits.CPULimit.MilliValue(); got != 500 {
		t.Errorf("cpu_limit = %dm, want 500m", got)
	}
	// An empty interpolation keeps the default.
	if got := c.Observability.Metrics.Port; got != 8080 {
		t.Errorf("metrics.port = %d, want the default 8080", got)
	}
	// What the file did not mention keeps its default.
	if got := c.Performance.Limits.MemoryLimit.String(); got != "2Gi" {
		t.Errorf("memory_limit = %s, want the default 2Gi", got)
	}
}

func TestParseEmptyFileIsDefault(t *testing.T) {
	for _, doc := range []string{"", "# only a comment\n", "---\n", "~\n"} {
		c := mustParse(t, doc, nil)
		if c.Backup.Behavior.BatchSize != 500 || c.Storage.Bucket != DefaultBucket {
			t.Errorf("Parse(%q) = %+v, want the defaults", doc, c)
		}
	}
}

func TestParseErrorsNameFileLineAndKey(t *testing.T) {
	tests := []struct {
		name string
		yaml string
		env  map[string]string
		want []string // each an error line, in order
	}{
		{
			name: "not an integer",
			yaml: "backup:\n  behavior:\n    batch_size: abc\n",
			want: []string{`kbackup.yaml:3:17: backup.behavior.batch_size: "abc" is not an integer; want a positive integer like 500`},
		},
		{
			name: "interpolated value not an integer",
			yaml: "backup:\n  behavior:\n    batch_size: \"${BATCH_SIZE:-50}\"\n",
			env:  map[string]string{"BATCH_SIZE": "lots"},
			want: []string{`kbackup.yaml:3:17: backup.behavior.batch_size: "lots" is not an integer; want a positive integer like 500`},
		},
		{
			name: "unset variable",
			yaml: "storage:\n  bucket: ${MINIO_BUCKET}\n",
			want: []string{`kbackup.yaml:2:11: storage.bucket: ${MINIO_BUCKET} is not set and has no default; set MINIO_BUCKET or write ${MINIO_BUCKET:-value}`},
		},
		{
			name: "malformed reference",
			yaml: "storage:\n  bucket: \"${MINIO_BUCKET\"\n",
			want: []string{`kbackup.yaml:2:11: storage.bucket: ${MINIO_BUCKET is not closed with }; write ${VAR}, ${VAR:-default}, or $$ for a literal $`},
		},
		{
			name: "not a boolean",
			yaml: "storage:\n  auto_create_bucket: yes\n",
			want: []string{`kbackup.yaml:2:23: storage.auto_create_bucket: "yes" is not a boolean; want true or false`},
		},
		{
			name: "not a quantity",
			yaml: "performance:\n  limits:\n    memory_limit: 2 GB\n",
			want: []string{`kbackup.yaml:3:19: performance.limits.memory_limit: "2 GB" is not a quantity; want a size like 2Gi`},
		},
		{
			name: "mapping where a value belongs",
			yaml: "cluster:\n  name:\n    first: a\n",
			want: []string{`kbackup.yaml:3:5: cluster.name: want a string, got a mapping`},
		},
		{
			name: "value where a mapping belongs",
			yaml: "storage: s3://bucket\n",
			want: []string{`kbackup.yaml:1:10: storage: want a mapping with keys url, bucket, prefix, endpoint, region, access_key_id, secret_access_key, ca_file, insecure_skip_tls_verify, auto_create_bucket, fallback_buckets, encryption, replicate_to, got "s3://bucket"`},
		},
		{
			name: "value where a list belongs",
			yaml: "storage:\n  fallback_buckets: backups-dr\n",
			want: []string{`kbackup.yaml:2:21: storage.fallback_buckets: want a list of bucket names like [backups-dr], got "backups-dr"`},
		},
		{
			name: "environments as a mapping, the seed's other spelling",
			yaml: "environments:\n  dev:\n    replicas: 1\n",
			want: []string{`kbackup.yaml:2:3: environments: want a list of environments, each like {name: prod, cluster_url: https://prod.example.com:6443}, got a mapping`},
		},
		{
			name: "retention not a number",
			yaml: "retention_policies:\n  prod: 90d\n",
			want: []string{`kbackup.yaml:2:9: retention_policies.prod: "90d" is not an integer; want a number of days like 90`},
		},
		{
			name: "integer out of range",
			yaml: "observability:\n  metrics:\n    port: 99999999999999999999\n",
			want: []string{`kbackup.yaml:3:11: observability.metrics.port: 99999999999999999999 is out of range; want a TCP port like 8080`},
		},
		{
			name: "duplicate key",
			yaml: "cluster:\n  name: a\n  name: b\n",
			want: []string{`kbackup.yaml:3:3: cluster.name: given twice; first on line 2`},
		},
		{
			name: "every problem, not only the first",
			yaml: "backup:\n  behavior:\n    batch_size: x\n    max_resource_size: y\nobservability:\n  metrics:\n    enabled: maybe\n",
			want: []string{
				`kbackup.yaml:3:17: backup.behavior.batch_size: "x" is not an integer; want a positive integer like 500`,
				`kbackup.yaml:4:24: backup.behavior.max_resource_size: "y" is not a quantity; want a size like 10Mi`,
				`kbackup.yaml:7:14: observability.metrics.enabled: "maybe" is not a boolean; want true or false`,
			},
		},
		{
			name: "error inside a list item",
			yaml: "environments:\n  - name: dev\n    replicas: two\n",
			want: []string{`kbackup.yaml:3:15: environments[0].replicas: "two" is not an integer; want a number of replicas like 2`},
		},
		{
			name: "invalid YAML",
			yaml: "storage:\n  bucket: a\n    prefix: b\n",
			want: []string{`kbackup.yaml:3: invalid YAML: mapping values are not allowed in this context`},
		},
		{
			name: "tab indentation",
			yaml: "storage:\n\tbucket: a\n",
			want: []string{`kbackup.yaml:2: invalid YAML: found character that cannot start any token`},
		},
		{
			name: "second document",
			yaml: "cluster: {name: a}\n---\ncluster: {name: b}\n",
			want: []string{`kbackup.yaml:2:1: a second YAML document; the configuration is one document, without ---`},
		},
		{
			name: "not a mapping",
			yaml: "- a\n- b\n",
			want: []string{`kbackup.yaml:1:1: want a mapping with keys like cluster, storage and backup, got a list`},
		},
		{
			name: "alias to its own list, reported where it is used",
			yaml: "backup:\n  include_namespaces: &ns [a, *ns]\n",
			want: []string{`kbackup.yaml:2:31: backup.include_namespaces[1]: want a string, got a list`},
		},
		{
			name: "merge of a mapping into itself",
			yaml: "observability:\n  metrics: &m\n    <<: *m\n",
			want: []string{`kbackup.yaml:3:9: observability.metrics: alias *m is used inside its own anchor`},
		},
		{
			name: "non-string key",
			yaml: "storage:\n  [a, b]: c\n",
			want: []string{`kbackup.yaml:2:3: storage: a key must be a plain string, got a list`},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := parse(t, tt.yaml, tt.env)
			if err == nil {
				t.Fatalf("Parse succeeded (%+v), want errors:\n%s", c, strings.Join(tt.want, "\n"))
			}
			if c != nil {
				t.Errorf("Parse returned a configuration with its error")
			}
			es := fieldErrors(t, err)
			var got []string
			for _, e := range es {
				got = append(got, e.Error())
				if e.File != "kbackup.yaml" {
					t.Errorf("error %q has File %q, want kbackup.yaml", e, e.File)
				}
			}
			if strings.Join(got, "\n") != strings.Join(tt.want, "\n") {
				t.Errorf("errors:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tt.want, "\n"))
			}
			if err.Error() != strings.Join(tt.want, "\n") {
				t.Errorf("Error() = %q, want the lines joined", err.Error())
			}
		})
	}
}

func TestUnknownKeys(t *testing.T) {
	tests := []struct {
		name, yaml, want string
	}{
		{"typo", "backup:\n  behavior:\n    batch_sise: 5\n",
			`kbackup.yaml:3:5: backup.behavior.batch_sise: unknown key; did you mean batch_size?`},
		{"missing underscore", "backup:\n  behavior:\n    batchsize: 5\n",
			`kbackup.yaml:3:5: backup.behavior.batchsize: unknown key; did you mean batch_size?`},
		{"camel case", "backup:\n  behavior:\n    batchSize: 5\n",
			`kbackup.yaml:3:5: backup.behavior.batchSize: unknown key; did you mean batch_size?`},
		{"dashes", "storage:\n  auto-create-bucket: true\n",
			`kbackup.yaml:2:3: storage.auto-create-bucket: unknown key; did you mean auto_create_bucket?`},
		{"top level typo", "notification:\n  enabled: true\n",
			`kbackup.yaml:1:1: notification: unknown key; did you mean notifications?`},
		{"right key at the wrong level", "backup:\n  batch_size: 5\n",
			`kbackup.yaml:2:3: backup.batch_size: unknown key; did you mean backup.behavior.batch_size?`},
		{"key found in several places", "enabled: true\n",
			`kbackup.yaml:1:1: enabled: unknown key; did you mean one of notifications.enabled, observability.metrics.enabled, observability.tracing.enabled?`},
		{"nothing close", "storage:\n  colour: blue\n",
			`kbackup.yaml:2:3: storage.colour: unknown key; known keys here: url, bucket, prefix, endpoint, region, access_key_id, secret_access_key, ca_file, insecure_skip_tls_verify, auto_create_bucket, fallback_buckets, encryption, replicate_to`},
		{"seed's sync_policy", "environments:\n  - name: prod\n    sync_policy: manual\n",
			`kbackup.yaml:3:5: environments[0].sync_policy: unknown key; known keys here: name, cluster_url, auto_sync, replicas, overrides`},
		{"in an overrides block", "environments:\n  - name: prod\n    overrides:\n      backup:\n        behaviour: {}\n",
			`kbackup.yaml:5:9: environments[0].overrides.backup.behaviour: unknown key; did you mean behavior?`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := parse(t, tt.yaml, nil)
			if err == nil || err.Error() != tt.want {
				t.Errorf("error:\n%v\nwant:\n%s", err, tt.want)
			}
		})
	}
}

func TestXKeysHoldAnchors(t *testing.T) {
	c := mustParse(t, `
x-namespaces: &system [kube-system, kube-public]
x-limits: &limits
  max_concurrent_operations: 3
  memory_limit: 1Gi
backup:
  exclude_namespaces: *system
performance:
  limits:
    <<: *limits
    memory_limit: 3Gi
`, nil)
	if got := strings.Join(c.Backup.ExcludeNamespaces, ","); got != "kube-system,kube-public" {
		t.Errorf("exclude_namespaces = %s", got)
	}
	if got := c.Performance.Limits.MaxConcurrentOperations; got != 3 {
		t.Errorf("max_concurrent_operations = %d, want 3 from the merged anchor", got)
	}
	if got := c.Performance.Limits.MemoryLimit.String(); got != "3Gi" {
		t.Errorf("memory_limit = %s, want 3Gi: an explicit key wins over a merged one", got)
	}
	if got := c.Sources["performance.limits.max_concurrent_operations"]; got != "kbackup.yaml:4" {
		t.Errorf("source of a merged value = %q, want the anchor's line kbackup.yaml:4", got)
	}
}

func TestMergeKeyPrecedence(t *testing.T) {
	c := mustParse(t, `
x-a: &a {port: 1, path: /a}
x-b: &b {port: 2, path: /b, enabled: false}
observability:
  metrics:
    <<: [*a, *b]
    path: /own
`, nil)
	m := c.Observability.Metrics
	if m.Port != 1 || m.Path != "/own" || m.Enabled {
		t.Errorf("metrics = %+v, want port 1 (first merged mapping wins), path /own (own key wins), enabled false (from the second)", m)
	}
}

func TestAliasBombIsBounded(t *testing.T) {
	// Each level doubles the values reached through aliases: 2^30 of them.
	var b strings.Builder
	b.WriteString("x-0: &a0 {port: 1}\n")
	for i := 1; i <= 30; i++ {
		b.WriteString("x-" + strconv.Itoa(i) + ": &a" + strconv.Itoa(i) + " {<<: [*a" + strconv.Itoa(i-1) + ", *a" + strconv.Itoa(i-1) + "]}\n")
	}
	b.WriteString("observability:\n  metrics:\n    <<: *a30\n")
	_, err := parse(t, b.String(), nil)
	if err == nil || !strings.Contains(err.Error(), "expands to more than 100000 values") {
		t.Fatalf("error = %v, want the expansion bound", err)
	}
}

func TestLoad(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "kbackup.yaml")
	if err := os.WriteFile(path, []byte("cluster:\n  name: ${NAME}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := Load(path, LoadOptions{LookupEnv: envMap(map[string]string{"NAME": "prod-eu"})})
	if err != nil {
		t.Fatal(err)
	}
	if c.Cluster.Name != "prod-eu" || c.Sources["cluster.name"] != path+":2 via env NAME" {
		t.Errorf("cluster.name = %q from %q", c.Cluster.Name, c.Sources["cluster.name"])
	}

	_, err = Load(path, LoadOptions{LookupEnv: envMap(nil)})
	if err == nil || !strings.HasPrefix(err.Error(), path+":2:9: cluster.name: ${NAME} is not set") {
		t.Errorf("error = %v, want it to start with the path, line and key", err)
	}

	_, err = Load(filepath.Join(dir, "missing.yaml"), LoadOptions{})
	if !errors.Is(err, fs.ErrNotExist) || !strings.Contains(err.Error(), "missing.yaml") {
		t.Errorf("error = %v, want one that is fs.ErrNotExist and names the file", err)
	}

	c, err = Load("", LoadOptions{LookupEnv: envMap(map[string]string{"CLUSTER_NAME": "dr-us"})})
	if err != nil {
		t.Fatal(err)
	}
	if c.Cluster.Name != "dr-us" || c.Backup.Behavior.BatchSize != 500 {
		t.Errorf("Load(\"\") = %+v, want the defaults with CLUSTER_NAME applied", c)
	}
}

func TestDefaultIsValid(t *testing.T) {
	c := Default()
	if err := c.Validate(); err != nil {
		t.Fatalf("Default().Validate() = %v", err)
	}
	want := map[string]any{
		"batch_size":                500,
		"max_resource_size":         "10Mi",
		"skip_invalid_resources":    true,
		"cluster_resources":         "auto",
		"max_concurrent_operations": 10,
		"memory_limit":              "2Gi",
		"cpu_limit":                 "2",
		"bucket":                    "cluster-backups",
		"channel":                   "#backup-notifications",
		"metrics":                   "true 8080 /metrics",
		"logging":                   "info json",
	}
	got := map[string]any{
		"batch_size":                c.Backup.Behavior.BatchSize,
		"max_resource_size":         c.Backup.Behavior.MaxResourceSize.String(),
		"skip_invalid_resources":    c.Backup.Behavior.SkipInvalidResources,
		"cluster_resources":         c.Backup.ClusterResources,
		"max_concurrent_operations": c.Performance.Limits.MaxConcurrentOperations,
		"memory_limit":              c.Performance.Limits.MemoryLimit.String(),
		"cpu_limit":                 c.Performance.Limits.CPULimit.String(),
		"bucket":                    c.Storage.Bucket,
		"channel":                   c.Notifications.Slack.Channel,
		"metrics":                   fmt.Sprintf("%v %v %v", c.Observability.Metrics.Enabled, c.Observability.Metrics.Port, c.Observability.Metrics.Path),
		"logging":                   c.Observability.Logging.Level + " " + c.Observability.Logging.Format,
	}
	for k, w := range want {
		if got[k] != w {
			t.Errorf("default %s = %v, want %v", k, got[k], w)
		}
	}
	if !c.Performance.Optimization.BatchProcessing || !c.Performance.Optimization.Compression ||
		c.Notifications.Enabled || !c.Notifications.Webhook.OnSuccess || !c.Notifications.Webhook.OnFailure ||
		c.Observability.Tracing.Enabled || c.Storage.AutoCreateBucket {
		t.Errorf("default switches wrong: %+v %+v %+v", c.Performance.Optimization, c.Notifications, c.Observability.Tracing)
	}
	if c.Sources["backup.behavior.batch_size"] != "default" {
		t.Errorf("source of a default = %q, want default", c.Sources["backup.behavior.batch_size"])
	}
	// Each call is independent.
	Default().Storage.FallbackBuckets = append(Default().Storage.FallbackBuckets, "x")
	Default().Sources["cluster.name"] = "changed"
	if Default().Sources["cluster.name"] != "default" {
		t.Errorf("Default shares state between calls")
	}
}
