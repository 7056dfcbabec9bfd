// Package config reads kbackup.yaml: its schema, ${VAR} interpolation, a base
// with per-environment overrides, overrides from environment variables and
// flags, and validation whose errors name the file, line and key.
//
// Precedence, lowest first: defaults, the file's base, the selected
// environment's overrides block, environment variables, flags (Config.Set).
// docs/configuration.md is the reference for every key.
//
// The yaml tags name the keys of the file; the json tags carry the same names
// so that `-o json` and `-o yaml` (sigs.k8s.io/yaml, through JSON) print the
// keys a user writes. The `want` tag is the hint shown when a value has the
// wrong type; the `secret` tag marks values that Redacted hides.
package config

import (
	"k8s.io/apimachinery/pkg/api/resource"
)

// Config is the whole of kbackup.yaml after interpolation, environment
// overrides and environment variables.
type Config struct {
	Cluster           Cluster                      `yaml:"cluster" json:"cluster"`
	Environments      []Environment                `yaml:"environments,omitempty" json:"environments,omitempty" want:"a list of environments, each like {name: prod, cluster_url: https://prod.example.com:6443}"`
	Clusters          map[string]map[string]string `yaml:"clusters,omitempty" json:"clusters,omitempty" want:"a map of group to {environment: cluster API URL}"`
	Storage           Storage                      `yaml:"storage" json:"storage"`
	Backup            Backup                       `yaml:"backup" json:"backup"`
	Performance       Performance                  `yaml:"performance" json:"performance"`
	BackupSchedules   map[string]string            `yaml:"backup_schedules,omitempty" json:"backup_schedules,omitempty" want:"a map of environment to cron schedule, like {prod: \"0 2 * * *\"}"`
	RetentionPolicies map[string]int               `yaml:"retention_policies,omitempty" json:"retention_policies,omitempty" want:"a number of days like 90"`
	Notifications     Notifications                `yaml:"notifications" json:"notifications"`
	Observability     Observability                `yaml:"observability" json:"observability"`

	// ActiveEnvironment is the environment whose overrides were applied, ""
	// when none was selected.
	ActiveEnvironment string `yaml:"-" json:"-"`
	// Sources says where each value came from, by dotted key
	// ("backup.behavior.batch_size"): "kbackup.yaml:12", "kbackup.yaml:12
	// via env BATCH_SIZE", "env CLUSTER_NAME", "flag --storage" or "default".
	Sources map[string]string `yaml:"-" json:"-"`

	// origins holds the positions behind Sources, for validation errors.
	origins map[string]origin
}

// Cluster names the cluster being backed up. Both fields are optional: an
// empty name is detected from the cluster itself (core/kube).
type Cluster struct {
	Name   string `yaml:"name,omitempty" json:"name,omitempty"`
	Domain string `yaml:"domain,omitempty" json:"domain,omitempty"`
}

// Environment is one stage of the fleet (dev, test, preprod, prod).
type Environment struct {
	Name       string `yaml:"name" json:"name"`
	ClusterURL string `yaml:"cluster_url,omitempty" json:"cluster_url,omitempty"`
	AutoSync   bool   `yaml:"auto_sync" json:"auto_sync"`
	Replicas   int    `yaml:"replicas" json:"replicas" want:"a number of replicas like 2"`
	// Overrides is the environment's overrides block as written (after
	// interpolation, with typed values): a partial configuration of the
	// sections storage, backup, performance, notifications and
	// observability. Parse merges it over the base when this environment is
	// selected; it is kept here so that `config view` can show it.
	Overrides map[string]any `yaml:"overrides,omitempty" json:"overrides,omitempty"`
}

// Storage says where the repository is and how to reach it. The location is
// either URL or the spelled-out Bucket, Prefix, Endpoint and Region; URL wins
// (see reconcileLocation).
type Storage struct {
	// URL is a repository URL: s3://bucket/prefix?endpoint=https://host:port&region=r,
	// file:///path or a bare directory path. core/repo parses it.
	URL      string `yaml:"url,omitempty" json:"url,omitempty" secret:"userinfo"`
	Bucket   string `yaml:"bucket,omitempty" json:"bucket,omitempty"`
	Prefix   string `yaml:"prefix,omitempty" json:"prefix,omitempty"`
	Endpoint string `yaml:"endpoint,omitempty" json:"endpoint,omitempty"`
	Region   string `yaml:"region,omitempty" json:"region,omitempty"`

	AccessKeyID     string `yaml:"access_key_id,omitempty" json:"access_key_id,omitempty" secret:"prefix"`
	SecretAccessKey string `yaml:"secret_access_key,omitempty" json:"secret_access_key,omitempty" secret:"full"`

	CAFile                string `yaml:"ca_file,omitempty" json:"ca_file,omitempty"`
	InsecureSkipTLSVerify bool   `yaml:"insecure_skip_tls_verify" json:"insecure_skip_tls_verify"`
	AutoCreateBucket      bool   `yaml:"auto_create_bucket" json:"auto_create_bucket"`
	// FallbackBuckets are written to, in order, when the primary bucket
	// cannot be.
	FallbackBuckets []string `yaml:"fallback_buckets,omitempty" json:"fallback_buckets,omitempty" want:"a list of bucket names like [backups-dr]"`
	// Encryption is the S3 server-side encryption of a repository created
	// from this configuration.
	Encryption StorageEncryption `yaml:"encryption" json:"encryption"`
	// ReplicateTo is a second repository (URL, as url) that `serve` copies
	// each scheduled run's backups into (`kubectl kbackup replicate`).
	ReplicateTo string `yaml:"replicate_to,omitempty" json:"replicate_to,omitempty" secret:"userinfo"`
}

// StorageEncryption is S3 server-side encryption (SSE-S3, SSE-KMS, SSE-C).
type StorageEncryption struct {
	// Mode is none, sse-s3, sse-kms or sse-c.
	Mode     string `yaml:"mode,omitempty" json:"mode,omitempty"`
	KMSKeyID string `yaml:"kms_key_id,omitempty" json:"kms_key_id,omitempty"`
	// CustomerKey is the SSE-C key, base64, usually from
	// KBACKUP_SSE_CUSTOMER_KEY; CustomerKeyFile a file holding it.
	CustomerKey      string `yaml:"customer_key,omitempty" json:"customer_key,omitempty" secret:"full"`
	CustomerKeyFile  string `yaml:"customer_key_file,omitempty" json:"customer_key_file,omitempty"`
	AcceptUnverified bool   `yaml:"accept_unverified" json:"accept_unverified"`
}

// Backup says what a backup takes.
type Backup struct {
	Behavior          BackupBehavior `yaml:"behavior" json:"behavior"`
	IncludeNamespaces []string       `yaml:"include_namespaces,omitempty" json:"include_namespaces,omitempty" want:"a list of namespaces like [payments, shop-*]"`
	ExcludeNamespaces []string       `yaml:"exclude_namespaces,omitempty" json:"exclude_namespaces,omitempty" want:"a list of namespaces like [kube-system]"`
	IncludeResources  []string       `yaml:"include_resources,omitempty" json:"include_resources,omitempty" want:"a list of resource.group names like [deployments.apps, configmaps]"`
	ExcludeResources  []string       `yaml:"exclude_resources,omitempty" json:"exclude_resources,omitempty" want:"a list of resource.group names like [events, events.events.k8s.io]"`
	LabelSelector     string         `yaml:"label_selector,omitempty" json:"label_selector,omitempty"`
	// ClusterResources is auto (only when no namespace filter is given), on
	// or off.
	ClusterResources string `yaml:"cluster_resources" json:"cluster_resources"`
}

// BackupBehavior tunes how objects are read.
type BackupBehavior struct {
	// BatchSize is the page size of each LIST request.
	BatchSize int `yaml:"batch_size" json:"batch_size" want:"a positive integer like 500"`
	// MaxResourceSize skips (or fails on) objects larger than this.
	MaxResourceSize resource.Quantity `yaml:"max_resource_size" json:"max_resource_size" want:"a size like 10Mi"`
	// SkipInvalidResources records an object that cannot be stored as an
	// error in the manifest and goes on, instead of failing the backup.
	SkipInvalidResources bool `yaml:"skip_invalid_resources" json:"skip_invalid_resources"`
}

// Performance bounds the resources a backup or restore may use.
type Performance struct {
	Limits       Limits       `yaml:"limits" json:"limits"`
	Optimization Optimization `yaml:"optimization" json:"optimization"`
}

// Limits caps concurrency, memory and CPU.
type Limits struct {
	MaxConcurrentOperations int               `yaml:"max_concurrent_operations" json:"max_concurrent_operations" want:"a positive integer like 10"`
	MemoryLimit             resource.Quantity `yaml:"memory_limit" json:"memory_limit" want:"a size like 2Gi"`
	CPULimit                resource.Quantity `yaml:"cpu_limit" json:"cpu_limit" want:"a CPU quantity like 2 or 500m"`
}

// Optimization switches batching and compression.
type Optimization struct {
	BatchProcessing bool `yaml:"batch_processing" json:"batch_processing"`
	Compression     bool `yaml:"compression" json:"compression"`
}

// Notifications says whom to tell when a backup ends.
type Notifications struct {
	Enabled bool `yaml:"enabled" json:"enabled"`
	// PerCluster sends a notification per cluster instead of per run.
	PerCluster bool    `yaml:"per_cluster" json:"per_cluster"`
	Webhook    Webhook `yaml:"webhook" json:"webhook"`
	Slack      Slack   `yaml:"slack" json:"slack"`
}

// Webhook receives a JSON document per finished backup.
type Webhook struct {
	// URL often carries a token in its path or query, hence secret.
	URL       string `yaml:"url,omitempty" json:"url,omitempty" secret:"url"`
	OnSuccess bool   `yaml:"on_success" json:"on_success"`
	OnFailure bool   `yaml:"on_failure" json:"on_failure"`
}

// Slack posts to an incoming webhook.
type Slack struct {
	// WebhookURL is a Slack incoming-webhook URL, whose path is its token.
	WebhookURL string `yaml:"webhook_url,omitempty" json:"webhook_url,omitempty" secret:"url"`
	Channel    string `yaml:"channel,omitempty" json:"channel,omitempty"`
}

// Observability configures metrics, logs and traces.
type Observability struct {
	Metrics Metrics `yaml:"metrics" json:"metrics"`
	Logging Logging `yaml:"logging" json:"logging"`
	Tracing Tracing `yaml:"tracing" json:"tracing"`
}

// Metrics is the Prometheus endpoint of long-running commands.
type Metrics struct {
	Enabled bool   `yaml:"enabled" json:"enabled"`
	Port    int    `yaml:"port" json:"port" want:"a TCP port like 8080"`
	Path    string `yaml:"path" json:"path"`
}

// Logging selects the level and format of logs on stderr.
type Logging struct {
	Level  string `yaml:"level" json:"level"`
	Format string `yaml:"format" json:"format"`
}

// Tracing sends OpenTelemetry traces to a collector.
type Tracing struct {
	Enabled  bool   `yaml:"enabled" json:"enabled"`
	Endpoint string `yaml:"endpoint,omitempty" json:"endpoint,omitempty"`
}

// Values of Backup.ClusterResources.
const (
	ClusterResourcesAuto = "auto"
	ClusterResourcesOn   = "on"
	ClusterResourcesOff  = "off"
)

// Accepted values of the enumerations, in the order messages list them.
var (
	clusterResourcesValues = []string{ClusterResourcesAuto, ClusterResourcesOn, ClusterResourcesOff}
	logLevels              = []string{"debug", "info", "warn", "error"}
	logFormats             = []string{"text", "json"}
)

// DefaultBucket is the bucket used when neither storage.url nor
// storage.bucket is given.
const DefaultBucket = "cluster-backups"

// Default returns the configuration of a user without kbackup.yaml and
// without environment variables. Every call returns a new value.
func Default() *Config {
	c := &Config{
		Storage: Storage{Bucket: DefaultBucket},
		Backup: Backup{
			Behavior: BackupBehavior{
				// The seed used 50; 500 is client-go's own page size for
				// informers and keeps a 10k-object LIST to 20 requests.
				BatchSize:            500,
				MaxResourceSize:      resource.MustParse("10Mi"),
				SkipInvalidResources: true,
			},
			ClusterResources: ClusterResourcesAuto,
		},
		Performance: Performance{
			Limits: Limits{
				MaxConcurrentOperations: 10,
				MemoryLimit:             resource.MustParse("2Gi"),
				CPULimit:                resource.MustParse("2"),
			},
			Optimization: Optimization{BatchProcessing: true, Compression: true},
		},
		Notifications: Notifications{
			Webhook: Webhook{OnSuccess: true, OnFailure: true},
			Slack:   Slack{Channel: "#backup-notifications"},
		},
		Observability: Observability{
			Metrics: Metrics{Enabled: true, Port: 8080, Path: "/metrics"},
			Logging: Logging{Level: "info", Format: "json"},
		},
		Sources: map[string]string{},
		origins: map[string]origin{},
	}
	c.fillDefaultSources()
	return c
}

// defaultEnvironment is what an item of environments starts from.
func defaultEnvironment() Environment {
	return Environment{Replicas: 1}
}

// LookupEnvironment returns the environment called name.
func (c *Config) LookupEnvironment(name string) (*Environment, bool) {
	for i := range c.Environments {
		if c.Environments[i].Name == name {
			return &c.Environments[i], true
		}
	}
	return nil, false
}

// EnvironmentNames returns the names of the environments in file order.
func (c *Config) EnvironmentNames() []string {
	names := make([]string, 0, len(c.Environments))
	for _, e := range c.Environments {
		names = append(names, e.Name)
	}
	return names
}
