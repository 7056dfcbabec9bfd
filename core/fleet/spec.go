// Package fleet holds the types of kbackup's fleet and their rules: the
// cluster entries of the registry, the backup spec, schedules and
// retention policies. It is pure: no I/O, no cluster, no storage. The
// repository stores these types under _fleet/ (core/repo); kbackup.yaml
// (core/config), the plugin's flags and the Terraform provider turn into
// them.
//
// Validation returns k8s.io/apimachinery field errors whose paths are the
// snake_case names that kbackup.yaml and the Terraform provider give the
// fields (spec.include_namespaces[2], schedule.retention.keep_daily), so
// that each front end can map a path to its own flag or attribute. Stored
// as JSON under _fleet/, the fields are camelCase like the rest of the
// repository format.
package fleet

import (
	"maps"
	"slices"
	"strings"

	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/kbackup/kbackup/core/selection"
)

// ClusterResources says whether cluster-scoped resources are backed up
// (selection.ClusterResources).
type ClusterResources = selection.ClusterResources

const (
	ClusterResourcesAuto = selection.ClusterResourcesAuto
	ClusterResourcesOn   = selection.ClusterResourcesOn
	ClusterResourcesOff  = selection.ClusterResourcesOff
)

// MaxPageSize is the largest LIST page a spec may ask for.
const MaxPageSize = 10000

// BackupSpec is what a backup takes: the one shape that the plugin's flags,
// kbackup.yaml's backup section, a schedule in the repository and a
// Terraform resource all turn into. The zero value backs up the whole
// cluster with the defaults.
type BackupSpec struct {
	// Selection is what the backup reads: namespaces, resource types (as
	// users write them, resolved against the cluster's discovery when the
	// backup runs; empty includes every type but the default exclusions,
	// events and leases), a label selector, and the cluster-scoped rule.
	// It is the selection restore, diff and export take too.
	selection.Selection
	// MaxResourceSize skips objects whose stored YAML is larger than this
	// many bytes; 0 means the default (10 MiB), negative means no limit.
	MaxResourceSize int64 `json:"maxResourceSize,omitempty"`
	// SkipInvalid records objects that cannot be stored as skipped and
	// goes on; otherwise their type fails.
	SkipInvalid bool `json:"skipInvalid,omitempty"`
	// Labels are the backup's own labels, recorded in its manifest.
	Labels map[string]string `json:"labels,omitempty"`
}

// Validate checks the spec without a cluster; p is where the spec is
// ("spec", "schedule.spec"). Resource types are only checked for form:
// which exist is the cluster's to say.
func (s BackupSpec) Validate(p *field.Path) field.ErrorList {
	errs := s.Selection.Validate(p)
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
