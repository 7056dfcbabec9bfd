package config

import (
	"errors"
	"strings"
	"testing"
)

func TestValidateMessages(t *testing.T) {
	tests := []struct {
		name string
		yaml string
		want []string
	}{
		{"cluster name reserved prefix", "cluster:\n  name: _fleet\n",
			[]string{`kbackup.yaml:2:9: cluster.name: "_fleet" starts with _, which the repository reserves for its own files; want lowercase letters, digits and '-', starting and ending with a letter or digit, at most 63 characters, like prod-eu`}},
		{"cluster name not a label", "cluster:\n  name: Prod_EU\n",
			[]string{`kbackup.yaml:2:9: cluster.name: "Prod_EU" is not a valid cluster name; want lowercase letters, digits and '-', starting and ending with a letter or digit, at most 63 characters, like prod-eu`}},
		{"cluster name too long", "cluster:\n  name: " + strings.Repeat("a", 64) + "\n",
			[]string{`kbackup.yaml:2:9: cluster.name: "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa..." is not a valid cluster name; want lowercase letters, digits and '-', starting and ending with a letter or digit, at most 63 characters, like prod-eu`}},
		{"cluster domain", "cluster:\n  domain: example..com\n",
			[]string{`kbackup.yaml:2:11: cluster.domain: "example..com" is not a DNS domain; want dot-separated labels of lowercase letters, digits and '-', starting and ending with a letter or digit, at most 63 characters, like prod.example.com`}},
		{"environments", `
environments:
  - name: prod
    cluster_url: prod.example.com:6443
  - cluster_url: https://x.example.com
  - name: prod
    replicas: -1
`, []string{
			`kbackup.yaml:4:18: environments[0].cluster_url: "prod.example.com:6443" is not an absolute http(s) URL; want one like https://prod.example.com:6443`,
			`kbackup.yaml:5:5: environments[1].name: an environment needs a name, like prod`,
			`kbackup.yaml:6:11: environments[2].name: environment "prod" is defined twice; first as environments[0]`,
			`kbackup.yaml:7:15: environments[2].replicas: -1 is negative; want 0 or more`,
		}},
		{"cluster maps", `
environments: [{name: dev}, {name: prod}]
clusters:
  default:
    prod: https://prod.example.com
    prdo: https://prod2.example.com
  eu-west-1:
    dev: ftp://dev.example.com
`, []string{
			`kbackup.yaml:6:11: clusters.default.prdo: "prdo" is not a defined environment; defined: dev, prod; did you mean prod?`,
			`kbackup.yaml:8:10: clusters.eu-west-1.dev: "ftp://dev.example.com" is not an absolute http(s) URL; want one like https://prod.example.com:6443`,
		}},
		{"storage", `
storage:
  bucket: My_Bucket
  endpoint: minio:9000
  fallback_buckets: [backups-dr, My_Bucket, backups-dr, ab]
`, []string{
			`kbackup.yaml:3:11: storage.bucket: "My_Bucket" is not a valid bucket name; want 3 to 63 lowercase letters, digits, '.' and '-', like cluster-backups`,
			`kbackup.yaml:4:13: storage.endpoint: "minio:9000" is not an absolute http(s) URL; want one like https://s3.example.com:9000`,
			`kbackup.yaml:5:34: storage.fallback_buckets[1]: "My_Bucket" is not a valid bucket name; want 3 to 63 lowercase letters, digits, '.' and '-', like cluster-backups-dr`,
			`kbackup.yaml:5:45: storage.fallback_buckets[2]: "backups-dr" is listed twice`,
			`kbackup.yaml:5:57: storage.fallback_buckets[3]: "ab" is not a valid bucket name; want 3 to 63 lowercase letters, digits, '.' and '-', like cluster-backups-dr`,
		}},
		{"fallback is the primary", "storage:\n  url: s3://backups/kb\n  fallback_buckets: [backups]\n",
			[]string{`kbackup.yaml:3:22: storage.fallback_buckets[0]: "backups" is the primary bucket; a fallback must be another bucket`}},
		{"fallback is the default primary", "storage:\n  fallback_buckets: [cluster-backups]\n",
			[]string{`kbackup.yaml:2:22: storage.fallback_buckets[0]: "cluster-backups" is the primary bucket; a fallback must be another bucket`}},
		{"backup", `
backup:
  behavior:
    batch_size: 10001
    max_resource_size: "0"
  include_namespaces: [payments, Shop, "shop-*"]
  exclude_namespaces: [payments]
  include_resources: [Deployment, deployments.apps, "*"]
  exclude_resources: [events.]
  label_selector: "app in (web"
  cluster_resources: yes please
`, []string{
			`kbackup.yaml:4:17: backup.behavior.batch_size: 10001 is out of range; want 1 to 10000 objects per LIST page, like 500`,
			`kbackup.yaml:5:24: backup.behavior.max_resource_size: 0 is not positive; want a quantity like 10Mi`,
			`kbackup.yaml:6:34: backup.include_namespaces[1]: "Shop" is not a namespace name or pattern; want lowercase letters, digits and '-', starting and ending with a letter or digit, at most 63 characters, or * as a wildcard, like payments or shop-*`,
			`kbackup.yaml:7:24: backup.exclude_namespaces[0]: "payments" is also in include_namespaces; list it in one of them`,
			`kbackup.yaml:8:23: backup.include_resources[0]: "Deployment" is not a resource.group name (resources are lowercase plurals: deployments.apps, not Deployment); want one like deployments.apps, configmaps or certificates.cert-manager.io`,
			`kbackup.yaml:9:23: backup.exclude_resources[0]: "events." is not a resource.group name; want one like deployments.apps, configmaps or certificates.cert-manager.io`,
			`kbackup.yaml:10:19: backup.label_selector: "app in (web" is not a label selector (unable to parse requirement: found '', expected: ',' or ')'); want one like app=web,tier!=cache`,
			`kbackup.yaml:11:22: backup.cluster_resources: "yes please" is not a cluster_resources setting; want one of auto, on, off`,
		}},
		{"performance", `
performance:
  limits:
    max_concurrent_operations: 0
    memory_limit: -1Gi
    cpu_limit: "0"
`, []string{
			`kbackup.yaml:4:32: performance.limits.max_concurrent_operations: 0 is less than 1; want a positive integer like 10`,
			`kbackup.yaml:5:19: performance.limits.memory_limit: -1Gi is not positive; want a quantity like 2Gi`,
			`kbackup.yaml:6:16: performance.limits.cpu_limit: 0 is not positive; want a quantity like 2 or 500m`,
		}},
		{"schedules and retention", `
environments: [{name: dev}, {name: prod}]
backup_schedules:
  dev: "0 4 * *"
  prod: "0 2 * * *"
  prdo: "@daily"
  qa: "CRON_TZ=Europe/Pariss 0 2 * * *"
retention_policies:
  dev: 0
  prod: 90
  test: 100000
`, []string{
			`kbackup.yaml:4:8: backup_schedules.dev: "0 4 * *" is not a cron schedule (expected exactly 5 fields, found 4: [0 4 * *]); want 5 fields like "0 2 * * *" (minute hour day-of-month month day-of-week), or @daily, optionally after CRON_TZ=Europe/Paris`,
			`kbackup.yaml:6:9: backup_schedules.prdo: "prdo" is not a defined environment; defined: dev, prod; did you mean prod?`,
			`kbackup.yaml:7:7: backup_schedules.qa: "qa" is not a defined environment; defined: dev, prod`,
			`kbackup.yaml:7:7: backup_schedules.qa: "CRON_TZ=Europe/Pariss 0 2 * * *" has the time zone "Europe/Pariss", which is not in the time zone database; want one like Europe/Paris or UTC`,
			`kbackup.yaml:9:8: retention_policies.dev: 0 days is too short: retention must be at least 1 day; want a number of days like 90`,
			`kbackup.yaml:11:9: retention_policies.test: "test" is not a defined environment; defined: dev, prod`,
			`kbackup.yaml:11:9: retention_policies.test: 100000 days is more than 100 years; want at most 36500`,
		}},
		{"notifications", `
notifications:
  enabled: true
  slack:
    channel: "backup alerts"
`, []string{
			`kbackup.yaml:5:14: notifications.slack.channel: "backup alerts" has spaces; want a channel like #backup-notifications`,
			`kbackup.yaml:3:12: notifications.enabled: true, but there is nowhere to send them; set notifications.webhook.url or notifications.slack.webhook_url, or set enabled to false`,
		}},
		{"webhook URLs are checked without printing their tokens", `
notifications:
  webhook:
    url: hooks.example.com/T0KEN
  slack:
    webhook_url: "ftp://hooks.slack.com/services/T000/B000/XXXXSECRET"
`, []string{
			`kbackup.yaml:4:10: notifications.webhook.url: "REDACTED" is not an absolute http(s) URL; want one like https://hooks.example.com/kbackup`,
			`kbackup.yaml:6:18: notifications.slack.webhook_url: "REDACTED" is not an absolute http(s) URL; want one like https://hooks.slack.com/services/...`,
		}},
		{"observability", `
observability:
  metrics:
    port: 70000
    path: metrics
  logging:
    level: warning
    format: JSON
  tracing:
    enabled: true
`, []string{
			`kbackup.yaml:4:11: observability.metrics.port: 70000 is not a TCP port; want 1 to 65535, like 8080`,
			`kbackup.yaml:5:11: observability.metrics.path: "metrics" does not start with /; want a path like /metrics`,
			`kbackup.yaml:7:12: observability.logging.level: "warning" is not a log level; want one of debug, info, warn, error; did you mean warn?`,
			`kbackup.yaml:8:13: observability.logging.format: "JSON" is not a log format; want one of text, json; did you mean json?`,
			`kbackup.yaml:10:14: observability.tracing.enabled: true, but observability.tracing.endpoint is empty; set it to an OTLP HTTP endpoint like http://otel-collector:4318`,
		}},
		{"metrics off: port and path unchecked", "observability:\n  metrics:\n    enabled: false\n    port: 0\n", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := mustParse(t, tt.yaml, nil)
			err := c.Validate()
			if len(tt.want) == 0 {
				if err != nil {
					t.Errorf("Validate: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("Validate succeeded, want:\n%s", strings.Join(tt.want, "\n"))
			}
			if got := err.Error(); got != strings.Join(tt.want, "\n") {
				t.Errorf("Validate:\n%s\nwant:\n%s", got, strings.Join(tt.want, "\n"))
			}
			var fe *FieldError
			if !errors.As(err, &fe) || fe.File != "kbackup.yaml" || fe.Line == 0 || fe.Key == "" {
				t.Errorf("errors.As found %+v, want a FieldError with file, line and key", fe)
			}
		})
	}
}

func TestValidateConfigBuiltInCode(t *testing.T) {
	c := Default()
	c.Storage.URL = "s3://backups/kb"
	c.Backup.Behavior.BatchSize = 0
	err := c.Validate()
	// No file, so no position: the key alone. The default bucket beside a
	// URL set in code is not a conflict.
	want := `backup.behavior.batch_size: 0 is out of range; want 1 to 10000 objects per LIST page, like 500`
	if err == nil || err.Error() != want {
		t.Errorf("Validate:\n%v\nwant:\n%s", err, want)
	}
}
