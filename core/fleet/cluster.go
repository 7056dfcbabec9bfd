package fleet

import (
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// ClusterEntry is a cluster's entry in the fleet registry,
// _fleet/clusters/<name>.json: the identity that owns the name, and the
// fleet's settings for it. Its JSON keys are those of repository format 1.
type ClusterEntry struct {
	FormatVersion int    `json:"formatVersion"`
	Name          string `json:"name"`

	// Identity: UID is the kube-system namespace UID of the cluster that
	// owns the name; the rest is what detection saw when it last wrote.
	UID               string `json:"uid"`
	Provider          string `json:"provider,omitempty"`
	Distribution      string `json:"distribution,omitempty"`
	KubernetesVersion string `json:"kubernetesVersion,omitempty"`
	Server            string `json:"server,omitempty"`

	// Environment is the environment of the seed's configuration (dev,
	// test, preprod, prod), which picks schedules and retention days.
	Environment string            `json:"environment,omitempty"`
	Region      string            `json:"region,omitempty"`
	Labels      map[string]string `json:"labels,omitempty"`
	// Priority orders clusters in fleet operations; higher first.
	Priority int `json:"priority,omitempty"`
	// Retention is the cluster's own retention rules, which win over its
	// environment's and the repository's (core/retention.Resolve).
	Retention *RetentionRules `json:"retention,omitempty"`

	FirstSeen time.Time `json:"firstSeen"`
	LastSeen  time.Time `json:"lastSeen"`
}

// Validate checks the entry; p is where it is ("cluster").
func (e *ClusterEntry) Validate(p *field.Path) field.ErrorList {
	errs := ValidateClusterName(p.Child("name"), e.Name)
	if e.UID == "" {
		errs = append(errs, field.Required(p.Child("uid"), "the kube-system namespace UID of the cluster that owns the name"))
	}
	if e.Environment != "" {
		errs = append(errs, validateEnvironment(p.Child("environment"), e.Environment)...)
	}
	if e.Region != "" {
		for _, problem := range validation.IsDNS1123Label(e.Region) {
			errs = append(errs, field.Invalid(p.Child("region"), e.Region, problem+"; want a region like eu-west-1"))
		}
	}
	errs = append(errs, ValidateLabels(p.Child("labels"), e.Labels)...)
	if e.Retention != nil {
		errs = append(errs, e.Retention.Validate(p.Child("retention"))...)
		if e.Retention.Empty() {
			errs = append(errs, field.Required(p.Child("retention"), "rules that keep something: keep_last, keep_daily, keep_within...; or leave retention out"))
		}
	}
	return errs
}

// ValidateClusterName checks a cluster name: a DNS-1123 label (lower-case
// letters, digits and '-', at most 63 characters), so it can be a key
// segment, that does not start with '_' (reserved by the repository
// format).
func ValidateClusterName(p *field.Path, name string) field.ErrorList {
	switch {
	case name == "":
		return field.ErrorList{field.Required(p, "a cluster name like prod-eu")}
	case strings.HasPrefix(name, "_"):
		return field.ErrorList{field.Invalid(p, name, "starts with '_', which the repository format reserves; want a name like prod-eu")}
	}
	if problems := validation.IsDNS1123Label(name); len(problems) > 0 {
		return field.ErrorList{field.Invalid(p, name, strings.Join(problems, "; "))}
	}
	return nil
}

// validateEnvironment checks an environment name: a DNS-1123 label, like
// dev or prod.
func validateEnvironment(p *field.Path, env string) field.ErrorList {
	if problems := validation.IsDNS1123Label(env); len(problems) > 0 {
		return field.ErrorList{field.Invalid(p, env, strings.Join(problems, "; ")+"; want an environment like dev or prod")}
	}
	return nil
}
