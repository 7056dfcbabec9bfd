// Package fleet holds the types of kbackup's fleet and their rules: the
// cluster entries of the registry, the backup spec, schedules and
// retention policies. It is pure: no I/O, no cluster, no storage. The
// repository stores these types under _fleet/ (core/repo); kbackup.yaml
// (core/config), the plugin's flags and the Terraform provider turn into
// them.
//
// Validation returns k8s.io/apimachinery field errors whose paths are the
// snake_case names of the JSON fields (spec.include_namespaces[2],
// schedule.retention.keep_daily), so that each front end can map a path to
// its own flag or attribute.
package fleet

import (
	"fmt"
	"maps"
	"path"
	"slices"
	"strings"

	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// ClusterResources says whether cluster-scoped resources are backed up.
type ClusterResources string

const (
	// ClusterResourcesAuto backs up cluster-scoped resources when every
	// namespace is selected (IncludeNamespaces empty or "*"), as a whole
	// cluster backup should, and leaves them out of a namespace backup.
	ClusterResourcesAuto ClusterResources = "auto"
	ClusterResourcesOn   ClusterResources = "on"
	ClusterResourcesOff  ClusterResources = "off"
)

// MaxPageSize is the largest LIST page a spec may ask for.
const MaxPageSize = 10000

// BackupSpec is what a backup takes: the one shape that the plugin's flags,
// kbackup.yaml's backup section, a schedule in the repository and a
// Terraform resource all turn into. The zero value backs up the whole
// cluster with the defaults.
type BackupSpec struct {
	// IncludeNamespaces and ExcludeNamespaces are names or shell patterns
	// (team-*); empty includes every namespace.
	IncludeNamespaces []string `json:"include_namespaces,omitempty"`
	ExcludeNamespaces []string `json:"exclude_namespaces,omitempty"`
	// IncludeResources and ExcludeResources are resource types as users
	// write them (deployments.apps, deploy, Deployment, cm); empty includes
	// every type but the default exclusions (events, leases). They are
	// resolved against the cluster's discovery when the backup runs.
	IncludeResources []string `json:"include_resources,omitempty"`
	ExcludeResources []string `json:"exclude_resources,omitempty"`
	// LabelSelector keeps only the objects it matches (app=web,tier!=cache).
	LabelSelector string `json:"label_selector,omitempty"`
	// ClusterResources is auto (the default), on or off.
	ClusterResources ClusterResources `json:"cluster_resources,omitempty"`
	// MaxResourceSize skips objects whose stored YAML is larger than this
	// many bytes; 0 means the default (10 MiB), negative means no limit.
	MaxResourceSize int64 `json:"max_resource_size,omitempty"`
	// SkipInvalid records objects that cannot be stored as skipped and
	// goes on; otherwise their type fails.
	SkipInvalid bool `json:"skip_invalid,omitempty"`
	// Labels are the backup's own labels, recorded in its manifest.
	Labels map[string]string `json:"labels,omitempty"`
}

// Validate checks the spec without a cluster; p is where the spec is
// ("spec", "schedule.spec"). Resource types are only checked for form:
// which exist is the cluster's to say.
func (s BackupSpec) Validate(p *field.Path) field.ErrorList {
	var errs field.ErrorList
	errs = append(errs, validateNamespacePatterns(p.Child("include_namespaces"), s.IncludeNamespaces)...)
	errs = append(errs, validateNamespacePatterns(p.Child("exclude_namespaces"), s.ExcludeNamespaces)...)
	errs = append(errs, validateResourceNames(p.Child("include_resources"), s.IncludeResources)...)
	errs = append(errs, validateResourceNames(p.Child("exclude_resources"), s.ExcludeResources)...)
	if s.LabelSelector != "" {
		if _, err := labels.Parse(s.LabelSelector); err != nil {
			errs = append(errs, field.Invalid(p.Child("label_selector"), s.LabelSelector,
				fmt.Sprintf("not a label selector (%v); want one like app=web,tier!=cache", err)))
		}
	}
	switch s.ClusterResources {
	case "", ClusterResourcesAuto, ClusterResourcesOn, ClusterResourcesOff:
	default:
		errs = append(errs, field.NotSupported(p.Child("cluster_resources"), s.ClusterResources,
			[]ClusterResources{ClusterResourcesAuto, ClusterResourcesOn, ClusterResourcesOff}))
	}
	errs = append(errs, ValidateLabels(p.Child("labels"), s.Labels)...)
	return errs
}

// ValidateLabels checks label keys and values, as Kubernetes does.
func ValidateLabels(p *field.Path, l map[string]string) field.ErrorList {
	var errs field.ErrorList
	for _, k := range slices.Sorted(maps.Keys(l)) {
		if problems := validation.IsQualifiedName(k); len(problems) > 0 {
			errs = append(errs, field.Invalid(p.Key(k), k,
				strings.Join(problems, "; ")+"; want a label key like team or example.com/team"))
		}
		if problems := validation.IsValidLabelValue(l[k]); len(problems) > 0 {
			errs = append(errs, field.Invalid(p.Key(k), l[k], strings.Join(problems, "; ")+"; want a value like gold"))
		}
	}
	return errs
}

// validateNamespacePatterns checks namespace names and shell patterns:
// DNS-1123 label characters and the pattern characters * ? [ ].
func validateNamespacePatterns(p *field.Path, patterns []string) field.ErrorList {
	var errs field.ErrorList
	for i, ns := range patterns {
		if _, err := path.Match(ns, ""); err != nil || ns == "" || strings.Trim(ns, "abcdefghijklmnopqrstuvwxyz0123456789-*?[]^!") != "" {
			errs = append(errs, field.Invalid(p.Index(i), ns,
				"not a namespace name or pattern; want lower-case letters, digits and '-', with * ? [ ] as wildcards, like payments or shop-*"))
		}
	}
	return errs
}

// validateResourceNames checks that resource types are single words of the
// characters a resource, kind or short name can have.
func validateResourceNames(p *field.Path, names []string) field.ErrorList {
	var errs field.ErrorList
	for i, r := range names {
		if r == "" || r == "*" {
			if r == "" {
				errs = append(errs, field.Invalid(p.Index(i), r, "empty; want a resource type like deployments.apps, deploy or Deployment"))
			}
			continue
		}
		if strings.Trim(r, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-.") != "" {
			errs = append(errs, field.Invalid(p.Index(i), r, "not a resource type; want one like deployments.apps, configmaps, deploy or Deployment"))
		}
	}
	return errs
}
