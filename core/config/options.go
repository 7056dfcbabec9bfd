package config

import (
	"fmt"
	"os"
	"strings"

	"github.com/kbackup/kbackup/core/backup"
	"github.com/kbackup/kbackup/core/fleet"
	"github.com/kbackup/kbackup/core/repo"
	"github.com/kbackup/kbackup/core/selection"
	"github.com/kbackup/kbackup/core/storage"
)

// This file is the one place where kbackup.yaml turns into the options of
// core: the repository (RepositoryOptions) and the backup (BackupOptions).
// Both front ends call it; repo and backup never read a Config.

// RepositoryOptions returns the repository a configuration names, and its
// fallbacks, for both front ends:
//
//   - storage.url when set (from the file, KBACKUP_STORAGE or a flag), with
//     storage.region, ca_file and insecure_skip_tls_verify filling in what
//     the URL leaves out;
//   - else the spelled-out storage.bucket, prefix, endpoint and region, when
//     any of bucket, prefix or endpoint was set by something other than the
//     defaults;
//   - else the local repository storage.DefaultLocation, so that a user with a
//     cluster and no bucket can back up at once.
//
// Each of storage.fallback_buckets becomes a fallback on the primary's S3
// server, with its prefix and TLS settings; a local primary has none.
//
// The S3 credentials are storage.access_key_id and secret_access_key when
// the configuration sets them. When they came from AWS_ACCESS_KEY_ID and
// AWS_SECRET_ACCESS_KEY, they are left to the S3 client's own chain, which
// reads the same variables and AWS_SESSION_TOKEN with them.
//
// Options.Create is left false; a backup sets it.
func RepositoryOptions(cfg *Config) (primary repo.Options, fallbacks []repo.Options, err error) {
	s := cfg.Storage
	var loc storage.Location
	switch {
	case s.URL != "":
		if loc, err = storage.ParseURL(s.URL); err != nil {
			return repo.Options{}, nil, err
		}
		if loc.Scheme == storage.SchemeS3 {
			if loc.Region == "" {
				loc.Region = s.Region
			}
			if loc.CAFile == "" {
				loc.CAFile = s.CAFile
			}
			loc.InsecureSkipTLSVerify = loc.InsecureSkipTLSVerify || s.InsecureSkipTLSVerify
		}
	case setByUser(cfg, "storage.bucket", s.Bucket) || setByUser(cfg, "storage.prefix", s.Prefix) || setByUser(cfg, "storage.endpoint", s.Endpoint):
		loc = storage.Location{
			Scheme:                storage.SchemeS3,
			Bucket:                s.Bucket,
			Prefix:                s.Prefix,
			Endpoint:              s.Endpoint,
			Region:                s.Region,
			CAFile:                s.CAFile,
			InsecureSkipTLSVerify: s.InsecureSkipTLSVerify,
		}
	default:
		if loc, err = storage.DefaultLocation(); err != nil {
			return repo.Options{}, nil, err
		}
	}
	if loc, err = loc.Normalized(); err != nil {
		return repo.Options{}, nil, err
	}

	var creds storage.Credentials
	if !fromEnv(cfg, "storage.access_key_id") || !fromEnv(cfg, "storage.secret_access_key") {
		creds = storage.Credentials{AccessKeyID: s.AccessKeyID, SecretAccessKey: s.SecretAccessKey}
	}
	primary = repo.Options{Location: loc, Credentials: creds, AutoCreateBucket: s.AutoCreateBucket}
	if primary.Storage.Encryption, err = encryption(s.Encryption); err != nil {
		return repo.Options{}, nil, err
	}
	primary.AcceptUnverifiedEncryption = s.Encryption.AcceptUnverified
	if loc.IsLocal() {
		return primary, nil, nil
	}
	for _, bucket := range s.FallbackBuckets {
		fb := primary
		fb.Location.Bucket = bucket
		if err := fb.Location.Validate(); err != nil {
			return repo.Options{}, nil, err
		}
		fallbacks = append(fallbacks, fb)
	}
	return primary, fallbacks, nil
}

// FallbackOptions returns the repository a fallback URL (--fallback-storage)
// names. It gets the primary's static keys only when it is on the primary's
// S3 server and names no profile: keys are never sent to a server they were
// not given for. Elsewhere it uses its URL's profile=, or the S3 client's
// usual chain (AWS_* variables, the shared credentials file).
func FallbackOptions(primary repo.Options, url string) (repo.Options, error) {
	loc, err := storage.ParseURL(url)
	if err != nil {
		return repo.Options{}, err
	}
	fb := repo.Options{Location: loc}
	p := primary.Location
	if loc.Scheme == storage.SchemeS3 && p.Scheme == storage.SchemeS3 && loc.EndpointURL() == p.EndpointURL() && loc.Profile == "" {
		fb.Credentials = primary.Credentials
	}
	return fb, nil
}

// encryption turns storage.encryption into storage's, reading the SSE-C key
// from its file or value.
func encryption(e StorageEncryption) (storage.Encryption, error) {
	out := storage.Encryption{KMSKeyID: e.KMSKeyID}
	if e.Mode != "none" {
		out.Mode = e.Mode
	}
	var raw []byte
	switch {
	case e.CustomerKeyFile != "":
		data, err := os.ReadFile(e.CustomerKeyFile)
		if err != nil {
			return storage.Encryption{}, fmt.Errorf("storage.encryption.customer_key_file: %w", err)
		}
		raw = data
	case e.CustomerKey != "":
		raw = []byte(e.CustomerKey)
	}
	if raw != nil {
		key, err := storage.ParseCustomerKey(raw)
		if err != nil {
			return storage.Encryption{}, fmt.Errorf("storage.encryption.customer_key: %w", err)
		}
		out.CustomerKey = key
	}
	return out, out.Validate()
}

// setByUser says whether a storage field holds a value that the file, the
// environment or a flag gave, rather than a default.
func setByUser(cfg *Config, key, value string) bool {
	return value != "" && cfg.Sources[key] != "" && cfg.Sources[key] != "default"
}

// fromEnv says whether a value came from an environment variable of its
// own (not through ${VAR} in the file, which reads "kbackup.yaml:3 via env").
func fromEnv(cfg *Config, key string) bool {
	return strings.HasPrefix(cfg.Sources[key], "env ")
}

// BackupOptions returns the backup options kbackup.yaml asks for; callers
// override them with flags.
func BackupOptions(cfg *Config) backup.Options {
	b := cfg.Backup
	return backup.Options{
		ClusterName:       cfg.Cluster.Name,
		ClusterNameSource: NameSource(cfg.Sources["cluster.name"]),
		BackupSpec:        BackupSpec(cfg),
		PageSize:          int64(b.Behavior.BatchSize),
		Concurrency:       cfg.Performance.Limits.MaxConcurrentOperations,
	}
}

// BackupSpec returns the backup spec of kbackup.yaml's backup section.
func BackupSpec(cfg *Config) fleet.BackupSpec {
	b := cfg.Backup
	return fleet.BackupSpec{
		Selection: selection.Selection{IncludeNamespaces: b.IncludeNamespaces, ExcludeNamespaces: b.ExcludeNamespaces, IncludeResources: b.IncludeResources, ExcludeResources: b.ExcludeResources, LabelSelector: b.LabelSelector, ClusterResources: fleet.ClusterResources(b.ClusterResources)}, MaxResourceSize: b.Behavior.MaxResourceSize.Value(), SkipInvalid: b.Behavior.SkipInvalidResources,
	}
}

// NameSource turns the source of a configuration value ("flag
// --cluster-name", "env CLUSTER_NAME", "kbackup.yaml:3 via env X") into the
// neutral form that identities and manifests record: "explicit" for a value
// a front end set (a flag, a Terraform attribute), "env" for an environment
// variable of its own, "config" for the file and the defaults.
func NameSource(source string) string {
	switch {
	case strings.HasPrefix(source, "flag"):
		return "explicit"
	case strings.HasPrefix(source, "env"):
		return "env"
	}
	return "config"
}
