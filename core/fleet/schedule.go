package fleet

import (
	"fmt"
	"regexp"
	"strings"
	"time"
	_ "time/tzdata" // time zones do not depend on the checking machine's database

	"github.com/robfig/cron/v3"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// Schedule is a named schedule of backups, _fleet/schedules/<name>.json:
// when (a cron expression in a time zone), which clusters (an
// environment, or all), what (the backup spec) and how long the backups
// are kept (a retention policy).
type Schedule struct {
	Name string `json:"name"`
	// Cron is a standard 5-field cron expression or a descriptor (@daily,
	// @every 6h), as github.com/robfig/cron/v3 parses them; it may start
	// with CRON_TZ=<zone>.
	Cron string `json:"cron"`
	// TimeZone is the IANA time zone the expression is read in (Europe/Paris);
	// empty means UTC, or the expression's CRON_TZ= when it has one. Giving
	// both is an error.
	TimeZone string `json:"timeZone,omitempty"`
	// Cluster restricts the schedule to one registered cluster (what a
	// Terraform kbackup_schedule declares); empty means no restriction.
	Cluster string `json:"cluster,omitempty"`
	// Environment restricts the schedule to the clusters of one
	// environment; empty means every cluster of the registry.
	Environment string `json:"environment,omitempty"`
	// Spec is what each backup takes.
	Spec BackupSpec `json:"spec"`
	// Retention says how long the schedule's backups are kept.
	Retention RetentionRef `json:"retention,omitzero"`
	// Suspend stops new runs without removing the schedule.
	Suspend bool `json:"suspend,omitempty"`
}

// Validate checks the schedule; p is where it is ("schedule").
func (s *Schedule) Validate(p *field.Path) field.ErrorList {
	errs := ValidateName(p.Child("name"), s.Name)
	errs = append(errs, ValidateCron(p.Child("cron"), p.Child("time_zone"), s.Cron, s.TimeZone)...)
	if s.Environment != "" {
		errs = append(errs, validateEnvironment(p.Child("environment"), s.Environment)...)
	}
	if s.Cluster != "" {
		errs = append(errs, ValidateClusterName(p.Child("cluster"), s.Cluster)...)
		if s.Environment != "" {
			errs = append(errs, field.Invalid(p.Child("environment"), s.Environment,
				"the schedule already names cluster "+s.Cluster+"; want either a cluster or an environment"))
		}
	}
	errs = append(errs, s.Spec.Validate(p.Child("spec"))...)
	errs = append(errs, s.Retention.Validate(p.Child("retention"))...)
	return errs
}

// AppliesTo says whether the schedule covers the named cluster of the
// given environment: not suspended, and matching its cluster or
// environment when it names one.
func (s *Schedule) AppliesTo(cluster, environment string) bool {
	switch {
	case s.Suspend:
		return false
	case s.Cluster != "":
		return s.Cluster == cluster
	case s.Environment != "":
		return s.Environment == environment
	}
	return true
}

// Parse returns the schedule's cron schedule, in its time zone.
func (s *Schedule) Parse() (cron.Schedule, error) {
	if errs := ValidateCron(field.NewPath("cron"), field.NewPath("time_zone"), s.Cron, s.TimeZone); len(errs) > 0 {
		return nil, errs.ToAggregate()
	}
	spec := strings.TrimSpace(s.Cron)
	if s.TimeZone != "" {
		spec = "CRON_TZ=" + s.TimeZone + " " + spec
	}
	return cron.ParseStandard(spec)
}

// CronHint is what a schedule looks like, for messages.
const CronHint = `5 fields like "0 2 * * *" (minute hour day-of-month month day-of-week), or @daily, optionally after CRON_TZ=Europe/Paris`

var namePattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_-]{0,127}$`)

// ValidateName checks the name of a schedule or retention policy, which is
// a key segment: 1 to 128 letters, digits, '-' and '_', starting with a
// letter or digit.
func ValidateName(p *field.Path, name string) field.ErrorList {
	if name == "" {
		return field.ErrorList{field.Required(p, "a name like nightly")}
	}
	if !namePattern.MatchString(name) {
		return field.ErrorList{field.Invalid(p, name, "want 1 to 128 letters, digits, '-' and '_', starting with a letter or digit")}
	}
	return nil
}

// ValidateCron checks a cron expression (at p) and its time zone (at tzPath):
// a standard 5-field expression or a descriptor (@daily, @every 6h), as
// github.com/robfig/cron/v3 parses them, optionally after CRON_TZ=<zone>
// (or TZ=<zone>), or with the zone given apart in timeZone; a zone must be
// in the IANA time zone database. Every front end uses it, so the file, the
// repository and Terraform accept the same schedules.
func ValidateCron(p, tzPath *field.Path, spec, timeZone string) field.ErrorList {
	s := strings.TrimSpace(spec)
	if s == "" {
		return field.ErrorList{field.Required(p, "the schedule is empty; want "+CronHint)}
	}
	var errs field.ErrorList
	if zone, rest, ok := cutZone(s); ok {
		if timeZone != "" {
			errs = append(errs, field.Invalid(tzPath, timeZone, fmt.Sprintf("the cron expression already names the time zone %s; want the time zone in one place: CRON_TZ= or time_zone", zone)))
		}
		if err := checkZone(zone); err != "" {
			errs = append(errs, field.Invalid(p, clip(spec), "has "+err))
		}
		s = strings.TrimSpace(rest)
		if s == "" {
			return append(errs, field.Invalid(p, clip(spec), "has a time zone and no schedule; want "+CronHint))
		}
	}
	if timeZone != "" {
		if err := checkZone(timeZone); err != "" {
			errs = append(errs, field.Invalid(tzPath, timeZone, "is "+err))
		}
	}
	if _, err := cron.ParseStandard(s); err != nil {
		errs = append(errs, field.Invalid(p, clip(spec), fmt.Sprintf("is not a cron schedule (%v); want %s", err, CronHint)))
	}
	return errs
}

// cutZone splits "CRON_TZ=Europe/Paris 0 2 * * *" into its zone and the rest.
func cutZone(s string) (zone, rest string, ok bool) {
	for _, prefix := range []string{"CRON_TZ=", "TZ="} {
		if after, found := strings.CutPrefix(s, prefix); found {
			zone, rest, _ = strings.Cut(after, " ")
			return zone, rest, true
		}
	}
	return "", "", false
}

// checkZone says what is wrong with a time zone name, after "has" or
// "is", or "".
func checkZone(zone string) string {
	if zone == "" {
		return "an empty time zone; want one like Europe/Paris or UTC"
	}
	// time.LoadLocation reads files by name: refuse anything that is not
	// a zone name first.
	if strings.Contains(zone, "..") || strings.HasPrefix(zone, "/") || strings.EqualFold(zone, "local") {
		return fmt.Sprintf("the time zone %q, which is not an IANA time zone; want one like Europe/Paris or UTC", zone)
	}
	if _, err := time.LoadLocation(zone); err != nil {
		return fmt.Sprintf("the time zone %q, which is not in the time zone database; want one like Europe/Paris or UTC", zone)
	}
	return ""
}

// clip shortens a long value for a message.
func clip(s string) string {
	const max = 80
	if len(s) > max {
		return s[:max] + "…"
	}
	return s
}
