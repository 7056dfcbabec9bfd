package config

import (
	"cmp"
	"fmt"
	"net/url"
	"regexp"
	"slices"
	"sort"
	"strings"

	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/kbackup/kbackup/core/fleet"
	"github.com/kbackup/kbackup/core/storage"
)

// FieldError is one problem with one value.
type FieldError struct {
	// File, Line and Column say where the value was written; Line and
	// Column are 0 when unknown, File is "" when the value did not come
	// from a file.
	File   string
	Line   int
	Column int
	// Source names where the value came from when not from a file: "env
	// CLUSTER_NAME", "flag --storage".
	Source string
	// Key is the dotted key: backup.behavior.batch_size, environments[2].name.
	Key     string
	Message string
}

// Error reads "kbackup.yaml:12:5: backup.behavior.batch_size: message".
func (e *FieldError) Error() string {
	var b strings.Builder
	switch {
	case e.File != "" && e.Line > 0 && e.Column > 0:
		fmt.Fprintf(&b, "%s:%d:%d: ", e.File, e.Line, e.Column)
	case e.File != "" && e.Line > 0:
		fmt.Fprintf(&b, "%s:%d: ", e.File, e.Line)
	case e.File != "":
		b.WriteString(e.File + ": ")
	case e.Source != "":
		b.WriteString(e.Source + ": ")
	}
	if e.Key != "" {
		b.WriteString(e.Key + ": ")
	}
	b.WriteString(e.Message)
	return b.String()
}

// ValidationErrors are all the problems found, in the order of the schema.
type ValidationErrors []*FieldError

// Error puts one problem on each line.
func (es ValidationErrors) Error() string {
	lines := make([]string, len(es))
	for i, e := range es {
		lines[i] = e.Error()
	}
	return strings.Join(lines, "\n")
}

// Unwrap lets errors.As find each *FieldError.
func (es ValidationErrors) Unwrap() []error {
	out := make([]error, len(es))
	for i, e := range es {
		out[i] = e
	}
	return out
}

// Validate checks the values, returning every problem as ValidationErrors, or
// nil. Each problem names the key and, where known, the file and line the
// value came from. The configuration is validated as it stands: with the
// selected environment's overrides applied, not the other environments'.
func (c *Config) Validate() error {
	v := &validator{c: c}
	v.cluster()
	v.environments()
	v.clusters()
	v.storage()
	v.backup()
	v.performance()
	v.schedules()
	v.notifications()
	v.observability()
	if len(v.errs) == 0 {
		return nil
	}
	return v.errs
}

type validator struct {
	c    *Config
	errs ValidationErrors
}

func (v *validator) fail(key, format string, args ...any) {
	e := &FieldError{Key: key, Message: fmt.Sprintf(format, args...)}
	if o, ok := v.c.originOf(key); ok {
		e.File, e.Line, e.Column, e.Source = o.file, o.line, o.column, o.source
	}
	v.errs = append(v.errs, e)
}

// shown is a value as it may appear in a message: secrets are redacted, since
// errors end up in logs.
func shown(key, value string) string {
	if mode, ok := secretKeys()[stripIndexes(key)]; ok {
		value = redactValue(mode, value)
	}
	return fmt.Sprintf("%q", clip(value))
}

var (
	dnsLabel      = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`)
	namespaceGlob = regexp.MustCompile(`^[a-z0-9*]([-a-z0-9*]*[a-z0-9*])?$`)
	resourceName  = regexp.MustCompile(`^([a-z0-9]([-a-z0-9]*[a-z0-9])?)(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$`)
	bucketName    = regexp.MustCompile(`^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$`)
)

const labelHint = "lowercase letters, digits and '-', starting and ending with a letter or digit, at most 63 characters"

// name checks a cluster or environment name, which becomes a path segment
// of the repository.
func (v *validator) name(key, what, value string) {
	switch {
	case strings.HasPrefix(value, "_"):
		v.fail(key, "%q starts with _, which the repository reserves for its own files; want %s, like prod-eu", value, labelHint)
	case len(value) > 63 || !dnsLabel.MatchString(value):
		v.fail(key, "%s is not a valid %s; want %s, like prod-eu", shown(key, value), what, labelHint)
	}
}

// httpURL checks an absolute http or https URL.
func (v *validator) httpURL(key, value, example string) {
	u, err := url.Parse(value)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		v.fail(key, "%s is not an absolute http(s) URL; want one like %s", shown(key, value), example)
	}
}

// oneOf checks an enumeration.
func (v *validator) oneOf(key, what, value string, allowed []string) {
	if !slices.Contains(allowed, value) {
		v.fail(key, "%q is not a %s; want one of %s%s", clip(value), what, strings.Join(allowed, ", "), didYouMean(value, allowed))
	}
}

// environmentKey checks a map key that names an environment, when the file
// defines environments: a misspelt one would silently never apply.
func (v *validator) environmentKey(key, env string) {
	names := v.c.EnvironmentNames()
	if len(names) > 0 && !slices.Contains(names, env) {
		v.fail(key, "%q is not a defined environment; defined: %s%s", env, strings.Join(names, ", "), didYouMean(env, names))
	}
}

func (v *validator) positive(key string, q resource.Quantity, example string) {
	if q.Sign() <= 0 {
		v.fail(key, "%s is not positive; want a quantity like %s", q.String(), example)
	}
}

func (v *validator) cluster() {
	cl := v.c.Cluster
	if cl.Name != "" {
		v.name("cluster.name", "cluster name", cl.Name)
	}
	if cl.Domain != "" {
		for _, label := range strings.Split(cl.Domain, ".") {
			if len(cl.Domain) > 253 || len(label) > 63 || !dnsLabel.MatchString(label) {
				v.fail("cluster.domain", "%q is not a DNS domain; want dot-separated labels of %s, like prod.example.com", clip(cl.Domain), labelHint)
				break
			}
		}
	}
}

func (v *validator) environments() {
	first := map[string]int{}
	for i, e := range v.c.Environments {
		key := fmt.Sprintf("environments[%d]", i)
		switch {
		case e.Name == "":
			v.fail(key+".name", "an environment needs a name, like prod")
		default:
			v.name(key+".name", "environment name", e.Name)
			if j, dup := first[e.Name]; dup {
				v.fail(key+".name", "environment %q is defined twice; first as environments[%d]", e.Name, j)
			} else {
				first[e.Name] = i
			}
		}
		if e.ClusterURL != "" {
			v.httpURL(key+".cluster_url", e.ClusterURL, "https://prod.example.com:6443")
		}
		if e.Replicas < 0 {
			v.fail(key+".replicas", "%d is negative; want 0 or more", e.Replicas)
		}
	}
}

func (v *validator) clusters() {
	for _, group := range sortedKeys(v.c.Clusters) {
		for _, env := range sortedKeys(v.c.Clusters[group]) {
			key := "clusters." + group + "." + env
			v.environmentKey(key, env)
			v.httpURL(key, v.c.Clusters[group][env], "https://prod.example.com:6443")
		}
	}
}

func (v *validator) storage() {
	v.encryption()
	s := v.c.Storage
	loc := splitLocation(s.URL)
	if loc.problem != "" {
		v.fail("storage.url", "%s %s", shown("storage.url", s.URL), loc.problem)
	}
	if s.Bucket != "" && !validBucket(s.Bucket) {
		v.fail("storage.bucket", "%q is not a valid bucket name; want 3 to 63 lowercase letters, digits, '.' and '-', like cluster-backups", clip(s.Bucket))
	}
	if s.Endpoint != "" {
		v.httpURL("storage.endpoint", s.Endpoint, "https://s3.example.com:9000")
	}
	if s.URL != "" && loc.problem == "" {
		for _, f := range locationFields {
			given := *f.get(&s)
			if given == "" {
				continue
			}
			// A Config built in code from Default() and given a URL still
			// has the default bucket, which nobody chose.
			if f.key == "storage.bucket" && given == DefaultBucket {
				if _, set := v.c.origins[f.key]; !set {
					continue
				}
			}
			switch inURL := f.fromURL(loc); {
			case loc.local:
				v.fail(f.key, "%q is for S3 storage, but storage.url is a local directory; remove one of them", clip(given))
			case inURL != "" && inURL != given:
				v.fail(f.key, "%q disagrees with storage.url, which says %q; storage.url wins when both are given, so remove %s or make them agree",
					clip(given), clip(inURL), f.key)
			}
		}
	}
	if (s.AccessKeyID == "") != (s.SecretAccessKey == "") {
		key := "storage.secret_access_key"
		if s.AccessKeyID == "" {
			key = "storage.access_key_id"
		}
		v.fail(key, "is empty, but the other half of the credentials is set; set both access_key_id and secret_access_key, or neither to use the AWS defaults")
	}
	primary := s.Bucket
	if loc.bucket != "" {
		primary = loc.bucket
	}
	seen := map[string]bool{}
	for i, b := range s.FallbackBuckets {
		key := fmt.Sprintf("storage.fallback_buckets[%d]", i)
		switch {
		case !validBucket(b):
			v.fail(key, "%q is not a valid bucket name; want 3 to 63 lowercase letters, digits, '.' and '-', like cluster-backups-dr", clip(b))
		case b == primary:
			v.fail(key, "%q is the primary bucket; a fallback must be another bucket", b)
		case seen[b]:
			v.fail(key, "%q is listed twice", b)
		}
		seen[b] = true
	}
	if s.ReplicateTo != "" {
		if _, err := storage.ParseURL(s.ReplicateTo); err != nil {
			v.fail("storage.replicate_to", "%v; want a repository URL like s3://backups-dr?endpoint=https://s3.eu-west-2.example.com", err)
		}
	}
}

// encryption checks storage.encryption's shape; the key itself is read and
// checked when the repository options are made.
func (v *validator) encryption() {
	e := v.c.Storage.Encryption
	v.oneOf("storage.encryption.mode", "server-side encryption mode", cmp.Or(e.Mode, "none"), []string{"none", "sse-s3", "sse-kms", "sse-c"})
	if e.KMSKeyID != "" && e.Mode != "sse-kms" {
		v.fail("storage.encryption.kms_key_id", "is set, but mode is %q; a KMS key ID goes with mode sse-kms", cmp.Or(e.Mode, "none"))
	}
	hasKey := e.CustomerKey != "" || e.CustomerKeyFile != ""
	switch {
	case e.CustomerKey != "" && e.CustomerKeyFile != "":
		v.fail("storage.encryption.customer_key_file", "and storage.encryption.customer_key are both set; give the SSE-C key one way")
	case hasKey && e.Mode != "sse-c":
		v.fail("storage.encryption.mode", "%q, but a customer key is given; a customer key goes with mode sse-c", cmp.Or(e.Mode, "none"))
	case !hasKey && e.Mode == "sse-c":
		v.fail("storage.encryption.mode", "sse-c needs a customer key: set storage.encryption.customer_key_file, or KBACKUP_SSE_CUSTOMER_KEY to the base64 of 32 random bytes (openssl rand -base64 32)")
	}
}

func validBucket(b string) bool {
	return bucketName.MatchString(b) && !strings.Contains(b, "..")
}

func (v *validator) backup() {
	b := v.c.Backup
	if n := b.Behavior.BatchSize; n < 1 || n > 10000 {
		v.fail("backup.behavior.batch_size", "%d is out of range; want 1 to 10000 objects per LIST page, like 500", n)
	}
	v.positive("backup.behavior.max_resource_size", b.Behavior.MaxResourceSize, "10Mi")
	v.namespaces("backup.include_namespaces", b.IncludeNamespaces)
	v.namespaces("backup.exclude_namespaces", b.ExcludeNamespaces)
	for i, ns := range b.ExcludeNamespaces {
		if slices.Contains(b.IncludeNamespaces, ns) {
			v.fail(fmt.Sprintf("backup.exclude_namespaces[%d]", i), "%q is also in include_namespaces; list it in one of them", ns)
		}
	}
	v.resources("backup.include_resources", b.IncludeResources)
	v.resources("backup.exclude_resources", b.ExcludeResources)
	if b.LabelSelector != "" {
		if _, err := labels.Parse(b.LabelSelector); err != nil {
			v.fail("backup.label_selector", "%q is not a label selector (%v); want one like app=web,tier!=cache", clip(b.LabelSelector), err)
		}
	}
	v.oneOf("backup.cluster_resources", "cluster_resources setting", b.ClusterResources, clusterResourcesValues)
}

func (v *validator) namespaces(key string, names []string) {
	for i, ns := range names {
		if len(ns) > 63 || !namespaceGlob.MatchString(ns) {
			v.fail(fmt.Sprintf("%s[%d]", key, i), "%q is not a namespace name or pattern; want %s, or * as a wildcard, like payments or shop-*", clip(ns), labelHint)
		}
	}
}

func (v *validator) resources(key string, names []string) {
	for i, r := range names {
		if r == "*" || resourceName.MatchString(r) {
			continue
		}
		hint := ""
		if strings.ToLower(r) != r {
			hint = " (resources are lowercase plurals: deployments.apps, not Deployment)"
		}
		v.fail(fmt.Sprintf("%s[%d]", key, i), "%q is not a resource.group name%s; want one like deployments.apps, configmaps or certificates.cert-manager.io", clip(r), hint)
	}
}

func (v *validator) performance() {
	l := v.c.Performance.Limits
	if l.MaxConcurrentOperations < 1 {
		v.fail("performance.limits.max_concurrent_operations", "%d is less than 1; want a positive integer like 10", l.MaxConcurrentOperations)
	}
	v.positive("performance.limits.memory_limit", l.MemoryLimit, "2Gi")
	v.positive("performance.limits.cpu_limit", l.CPULimit, "2 or 500m")
	// What kbackup always does cannot be switched off; saying it can would
	// let a user believe in a setting that changes nothing.
	o := v.c.Performance.Optimization
	if !o.BatchProcessing {
		v.fail("performance.optimization.batch_processing", "false is not supported: objects are always read in pages of backup.behavior.batch_size; leave it true or out, and set batch_size to change the page size")
	}
	if !o.Compression {
		v.fail("performance.optimization.compression", "false is not supported: the repository format compresses every pack with zstd; leave it true or out")
	}
}

func (v *validator) schedules() {
	for _, env := range sortedKeys(v.c.BackupSchedules) {
		key := "backup_schedules." + env
		v.environmentKey(key, env)
		for _, e := range fleet.ValidateCron(field.NewPath(key), field.NewPath(key), v.c.BackupSchedules[env], "") {
			if e.Type == field.ErrorTypeRequired {
				v.fail(key, "%s", e.Detail)
				continue
			}
			v.fail(key, "%q %s", clip(v.c.BackupSchedules[env]), e.Detail)
		}
	}
	for _, env := range sortedKeys(v.c.RetentionPolicies) {
		key := "retention_policies." + env
		v.environmentKey(key, env)
		for _, e := range fleet.ValidateRetentionDays(field.NewPath(key), v.c.RetentionPolicies[env]) {
			v.fail(key, "%d days %s", v.c.RetentionPolicies[env], e.Detail)
		}
	}
}

func (v *validator) notifications() {
	n := v.c.Notifications
	if n.Webhook.URL != "" {
		v.httpURL("notifications.webhook.url", n.Webhook.URL, "https://hooks.example.com/kbackup")
	}
	if n.Slack.WebhookURL != "" {
		v.httpURL("notifications.slack.webhook_url", n.Slack.WebhookURL, "https://hooks.slack.com/services/...")
	}
	if n.Slack.Channel != "" && strings.ContainsAny(n.Slack.Channel, " \t") {
		v.fail("notifications.slack.channel", "%q has spaces; want a channel like #backup-notifications", clip(n.Slack.Channel))
	}
	if n.Enabled && n.Webhook.URL == "" && n.Slack.WebhookURL == "" {
		v.fail("notifications.enabled", "true, but there is nowhere to send them; set notifications.webhook.url or notifications.slack.webhook_url, or set enabled to false")
	}
	if n.Enabled && n.Webhook.URL != "" && !n.Webhook.OnSuccess && !n.Webhook.OnFailure {
		v.fail("notifications.webhook", "on_success and on_failure are both false, so nothing would be sent; set one of them to true")
	}
}

func (v *validator) observability() {
	o := v.c.Observability
	if o.Metrics.Enabled {
		if o.Metrics.Port < 1 || o.Metrics.Port > 65535 {
			v.fail("observability.metrics.port", "%d is not a TCP port; want 1 to 65535, like 8080", o.Metrics.Port)
		}
		if !strings.HasPrefix(o.Metrics.Path, "/") {
			v.fail("observability.metrics.path", "%q does not start with /; want a path like /metrics", clip(o.Metrics.Path))
		}
	}
	v.oneOf("observability.logging.level", "log level", o.Logging.Level, logLevels)
	v.oneOf("observability.logging.format", "log format", o.Logging.Format, logFormats)
	if o.Tracing.Enabled && o.Tracing.Endpoint == "" {
		v.fail("observability.tracing.enabled", "true, but observability.tracing.endpoint is empty; set it to an OTLP HTTP endpoint like http://otel-collector:4318")
	}
	if o.Tracing.Endpoint != "" {
		v.httpURL("observability.tracing.endpoint", o.Tracing.Endpoint, "http://otel-collector:4318")
	}
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
