package fleet

import (
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strconv"
	"time"

	"k8s.io/apimachinery/pkg/util/validation/field"
)

// MaxRetentionDays keeps retention well inside time.Duration, which ends
// after about 106,000 days.
const MaxRetentionDays = 36500

// RetentionRules say which backups are kept; a backup is kept when any rule
// keeps it. KeepLast keeps the newest n; KeepHourly, KeepDaily, KeepWeekly
// and KeepMonthly keep the newest backup of each of the last n hours, days,
// weeks and months that have one; KeepWithin keeps every backup younger
// than a duration (90d, 36h, 1d12h).
type RetentionRules struct {
	KeepLast    int    `json:"keepLast,omitempty"`
	KeepHourly  int    `json:"keepHourly,omitempty"`
	KeepDaily   int    `json:"keepDaily,omitempty"`
	KeepWeekly  int    `json:"keepWeekly,omitempty"`
	KeepMonthly int    `json:"keepMonthly,omitempty"`
	KeepWithin  string `json:"keepWithin,omitempty"`
}

// Empty says whether no rule is set. (Not IsZero: the types that embed the
// rules would take it as theirs, and json's omitzero with it.)
func (r RetentionRules) Empty() bool { return r == RetentionRules{} }

// Validate checks the rules; p is where they are.
func (r RetentionRules) Validate(p *field.Path) field.ErrorList {
	var errs field.ErrorList
	for _, c := range []struct {
		name string
		n    int
	}{{"keep_last", r.KeepLast}, {"keep_hourly", r.KeepHourly}, {"keep_daily", r.KeepDaily}, {"keep_weekly", r.KeepWeekly}, {"keep_monthly", r.KeepMonthly}} {
		if c.n < 0 {
			errs = append(errs, field.Invalid(p.Child(c.name), c.n, "must not be negative; want a count like 7, or leave it out"))
		}
	}
	if r.KeepWithin != "" {
		if _, err := ParseWithin(r.KeepWithin); err != nil {
			errs = append(errs, field.Invalid(p.Child("keep_within"), r.KeepWithin, err.Error()))
		}
	}
	return errs
}

// RetentionPolicy is a named retention policy, _fleet/retention/<name>.json:
// rules for every backup it governs, and, as the seed's
// retention_policies, a number of days per environment.
type RetentionPolicy struct {
	Name string `json:"name"`
	RetentionRules
	// DaysByEnvironment keeps the backups of an environment's clusters
	// for that many days (dev: 7, prod: 90); for the clusters of an
	// environment named here it replaces KeepWithin.
	DaysByEnvironment map[string]int `json:"daysByEnvironment,omitempty"`
	// Clusters scopes the policy to these clusters: its rules are theirs,
	// narrower than their environment's days and the repository's
	// policy. A cluster is named by one policy at most.
	Clusters []string `json:"clusters,omitempty"`
}

// Validate checks the policy; p is where it is ("retention").
func (r *RetentionPolicy) Validate(p *field.Path) field.ErrorList {
	errs := ValidateName(p.Child("name"), r.Name)
	errs = append(errs, r.RetentionRules.Validate(p)...)
	for _, env := range slices.Sorted(maps.Keys(r.DaysByEnvironment)) {
		errs = append(errs, validateEnvironment(p.Child("days_by_environment").Key(env), env)...)
		errs = append(errs, ValidateRetentionDays(p.Child("days_by_environment").Key(env), r.DaysByEnvironment[env])...)
	}
	if r.RetentionRules.Empty() && len(r.DaysByEnvironment) == 0 {
		errs = append(errs, field.Required(p, "a policy keeps something: set keep_last, keep_daily, keep_within or days_by_environment"))
	}
	seen := map[string]bool{}
	for i, c := range r.Clusters {
		errs = append(errs, ValidateClusterName(p.Child("clusters").Index(i), c)...)
		if seen[c] {
			errs = append(errs, field.Duplicate(p.Child("clusters").Index(i), c))
		}
		seen[c] = true
	}
	if len(r.Clusters) > 0 {
		if r.Name == DefaultRetentionPolicyName {
			errs = append(errs, field.Invalid(p.Child("clusters"), r.Clusters, "the policy named "+DefaultRetentionPolicyName+" is the whole repository's: give the clusters' rules another name"))
		}
		if len(r.DaysByEnvironment) > 0 || r.RetentionRules.Empty() {
			errs = append(errs, field.Invalid(p.Child("clusters"), r.Clusters, "a policy scoped to clusters sets rules (keep_last, keep_daily, keep_within, ...), not days_by_environment, which is for the repository's policy"))
		}
	}
	return errs
}

// DefaultRetentionPolicyName is the stored retention policy that is the
// whole repository's (retention.DefaultPolicyName).
const DefaultRetentionPolicyName = "default"

// RetentionRef is a schedule's retention: the name of a stored policy, or
// rules of its own, not both.
type RetentionRef struct {
	// Policy names a policy under _fleet/retention/.
	Policy string `json:"policy,omitempty"`
	RetentionRules
}

// Validate checks the reference; p is where it is ("schedule.retention").
func (r RetentionRef) Validate(p *field.Path) field.ErrorList {
	var errs field.ErrorList
	if r.Policy != "" {
		errs = append(errs, ValidateName(p.Child("policy"), r.Policy)...)
		if !r.RetentionRules.Empty() {
			errs = append(errs, field.Invalid(p.Child("policy"), r.Policy, "a schedule names a retention policy or sets rules of its own, not both"))
		}
	}
	return append(errs, r.RetentionRules.Validate(p)...)
}

// ValidateRetentionDays checks a retention period in days, such as the
// seed's retention_policies per environment.
func ValidateRetentionDays(p *field.Path, days int) field.ErrorList {
	switch {
	case days < 1:
		return field.ErrorList{field.Invalid(p, days, "is too short: retention must be at least 1 day; want a number of days like 90")}
	case days > MaxRetentionDays:
		return field.ErrorList{field.Invalid(p, days, fmt.Sprintf("is more than 100 years; want at most %d", MaxRetentionDays))}
	}
	return nil
}

var withinPattern = regexp.MustCompile(`^(?:(\d+)d)?(.*)$`)

// ParseWithin parses a keep_within duration: days (90d), then anything
// time.ParseDuration takes (36h, 1d12h, 90m). It must be positive and at
// most MaxRetentionDays.
func ParseWithin(s string) (time.Duration, error) {
	bad := fmt.Errorf("not a duration; want one like 90d, 36h or 1d12h")
	m := withinPattern.FindStringSubmatch(s)
	if m == nil || (m[1] == "" && m[2] == "") {
		return 0, bad
	}
	var d time.Duration
	if m[1] != "" {
		days, err := strconv.Atoi(m[1])
		if err != nil || days > MaxRetentionDays {
			return 0, fmt.Errorf("more than 100 years; want at most %dd", MaxRetentionDays)
		}
		d = time.Duration(days) * 24 * time.Hour
	}
	if m[2] != "" {
		rest, err := time.ParseDuration(m[2])
		if err != nil || rest < 0 {
			return 0, bad
		}
		d += rest
	}
	switch {
	case d <= 0:
		return 0, fmt.Errorf("must be positive; want a duration like 90d")
	case d > MaxRetentionDays*24*time.Hour:
		return 0, fmt.Errorf("more than 100 years; want at most %dd", MaxRetentionDays)
	}
	return d, nil
}
