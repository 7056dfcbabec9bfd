package config

import (
	"encoding/json"
	"os"
	"reflect"
	"regexp"
	"strings"
	"testing"
)

const (
	examplePath = "../../examples/kbackup.yaml"
	docPath     = "../../docs/configuration.md"
)

func exampleEnv() map[string]string {
	return map[string]string{
		"DEV_CLUSTER_URL":     "https://dev.k8s.example.com:6443",
		"TEST_CLUSTER_URL":    "https://test.k8s.example.com:6443",
		"PREPROD_CLUSTER_URL": "https://preprod.k8s.example.com:6443",
		"PROD_CLUSTER_URL":    "https://prod.k8s.example.com:6443",
		"WEBHOOK_URL":         "https://hooks.example.com/kbackup?token=abc",
		"MINIO_ACCESS_KEY":    "kbackup-writer",
		"MINIO_SECRET_KEY":    "s3cr3t-value",
		"BATCH_SIZE":          "1000",
	}
}

func TestExampleConfiguration(t *testing.T) {
	base, err := Load(examplePath, LoadOptions{LookupEnv: envMap(exampleEnv())})
	if err != nil {
		t.Fatal(err)
	}
	if err := base.Validate(); err != nil {
		t.Errorf("base: %v", err)
	}
	if got := strings.Join(base.EnvironmentNames(), ","); got != "dev,test,preprod,prod" {
		t.Errorf("environments = %s", got)
	}
	if len(base.Clusters) != 5 || base.Clusters["eu-west-1"]["prod"] != "https://k8s-prod-euw1.company.com" {
		t.Errorf("clusters = %v", base.Clusters)
	}
	if base.BackupSchedules["prod"] != "0 2 * * *" || base.RetentionPolicies["prod"] != 90 {
		t.Errorf("prod schedule %q, retention %d", base.BackupSchedules["prod"], base.RetentionPolicies["prod"])
	}
	if base.Backup.Behavior.BatchSize != 1000 || base.Sources["backup.behavior.batch_size"] != examplePath+":93 via env BATCH_SIZE" {
		t.Errorf("batch_size %d from %q", base.Backup.Behavior.BatchSize, base.Sources["backup.behavior.batch_size"])
	}

	for _, env := range base.EnvironmentNames() {
		c, err := Load(examplePath, LoadOptions{Environment: env, LookupEnv: envMap(exampleEnv())})
		if err != nil {
			t.Fatalf("%s: %v", env, err)
		}
		if err := c.Validate(); err != nil {
			t.Errorf("%s: %v", env, err)
		}
	}

	prod, err := Load(examplePath, LoadOptions{Environment: "prod", LookupEnv: envMap(exampleEnv())})
	if err != nil {
		t.Fatal(err)
	}
	if prod.Storage.Bucket != "cluster-backups-prod" || prod.Storage.Endpoint != "https://minio.backup.svc:9000" ||
		!reflect.DeepEqual(prod.Storage.FallbackBuckets, []string{"cluster-backups-prod-dr"}) {
		t.Errorf("prod storage = %+v", prod.Storage)
	}
	if prod.Notifications.Webhook.OnSuccess || !prod.Notifications.Webhook.OnFailure {
		t.Errorf("prod notifications = %+v", prod.Notifications)
	}
	if prod.Performance.Limits.MaxConcurrentOperations != 20 || prod.Performance.Limits.CPULimit.String() != "2" {
		t.Errorf("prod limits = %+v", prod.Performance.Limits)
	}
	dev, err := Load(examplePath, LoadOptions{Environment: "dev", LookupEnv: envMap(exampleEnv())})
	if err != nil {
		t.Fatal(err)
	}
	if dev.Backup.Behavior.BatchSize != 100 || dev.Observability.Logging.Format != "text" ||
		!reflect.DeepEqual(dev.Backup.ExcludeNamespaces, []string{"kube-system", "kube-public", "scratch"}) {
		t.Errorf("dev = %+v %+v", dev.Backup, dev.Observability.Logging)
	}

	// Without the cluster URLs, the first missing one is named.
	env := exampleEnv()
	delete(env, "PROD_CLUSTER_URL")
	_, err = Load(examplePath, LoadOptions{LookupEnv: envMap(env)})
	want := examplePath + ":40:18: environments[3].cluster_url: ${PROD_CLUSTER_URL} is not set and has no default; set PROD_CLUSTER_URL or write ${PROD_CLUSTER_URL:-value}"
	if err == nil || err.Error() != want {
		t.Errorf("without PROD_CLUSTER_URL:\n%v\nwant:\n%s", err, want)
	}
}

// TestJSONUsesTheFileKeys checks that -o json and -o yaml (through JSON)
// print the keys a user writes, and quantities as strings.
func TestJSONUsesTheFileKeys(t *testing.T) {
	for _, f := range schemaFields() {
		yamlName, _, _ := strings.Cut(f.Field.Tag.Get("yaml"), ",")
		jsonName, _, _ := strings.Cut(f.Field.Tag.Get("json"), ",")
		if yamlName != jsonName {
			t.Errorf("%s: yaml name %q, json name %q", f.Key, yamlName, jsonName)
		}
	}
	out, err := json.Marshal(Default())
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"max_resource_size":"10Mi"`, `"batch_size":500`, `"cpu_limit":"2"`, `"backup_schedules"`} {
		if want == `"backup_schedules"` {
			if strings.Contains(string(out), want) {
				t.Errorf("empty backup_schedules printed: %s", out)
			}
			continue
		}
		if !strings.Contains(string(out), want) {
			t.Errorf("json lacks %s: %s", want, out)
		}
	}
}

// TestDocumentationCoversEveryKey fails when a key is added without a line
// in docs/configuration.md, or the document names a key that does not exist.
func TestDocumentationCoversEveryKey(t *testing.T) {
	doc, err := os.ReadFile(docPath)
	if err != nil {
		t.Fatal(err)
	}
	text := string(doc)
	known := map[string]bool{}
	for _, f := range schemaFields() {
		known[f.Key] = true
		if !strings.Contains(text, "`"+f.Key+"`") {
			t.Errorf("docs/configuration.md does not document `%s`", f.Key)
		}
	}
	// Table rows start with a key in backticks.
	row := regexp.MustCompile("(?m)^\\| `([a-z_\\[\\].-]+)`")
	rows := row.FindAllStringSubmatch(text, -1)
	if len(rows) < len(known)/2 {
		t.Fatalf("found only %d key rows in the document; its tables changed shape", len(rows))
	}
	for _, m := range rows {
		if !known[m[1]] {
			t.Errorf("docs/configuration.md documents `%s`, which is not a key", m[1])
		}
	}
	for _, o := range envOverrides {
		if !strings.Contains(text, "`"+o.env+"`") {
			t.Errorf("docs/configuration.md does not mention `%s`", o.env)
		}
	}
	if !strings.Contains(text, "`"+EnvEnvironment+"`") {
		t.Errorf("docs/configuration.md does not mention `%s`", EnvEnvironment)
	}
}
