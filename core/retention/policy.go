package retention

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/kbackup/kbackup/core/fleet"
)

// DefaultPolicyName is the stored retention policy that is the
// repository's: its rules govern every cluster that has no narrower
// policy, and its days_by_environment each environment's clusters.
const DefaultPolicyName = fleet.DefaultRetentionPolicyName

// Sources are where a cluster's retention can come from, narrowest first:
// rules given for this run (flags), the cluster's registry entry, the
// stored policy scoped to the cluster (its clusters name it), the days of
// its environment (kbackup.yaml's retention_policies, then the
// repository's default policy's days_by_environment), the repository's
// default policy's rules.
type Sources struct {
	// Given are rules for this run only; nil when none were given.
	Given *fleet.RetentionRules
	// Entry is the cluster's registry entry; nil for a cluster only seen
	// in backups.
	Entry *fleet.ClusterEntry
	// Scoped are the stored policies whose clusters name the cluster: one
	// at most, more is an error.
	Scoped []*fleet.RetentionPolicy
	// Default is the stored policy named DefaultPolicyName; nil when there
	// is none.
	Default *fleet.RetentionPolicy
	// ConfigDays is kbackup.yaml's retention_policies: days per environment.
	ConfigDays map[string]int
	// Environments are the environments kbackup.yaml defines; when there
	// are any, an environment named by a policy must be one of them.
	Environments []string
}

// Policy is the retention that governs a cluster, and where it came from.
type Policy struct {
	Rules Rules `json:"-"`
	// Source names where the rules are, as a field path a user can find:
	// "flags", "cluster.retention" of the registry entry,
	// "retention_policies.prod" of kbackup.yaml,
	// "retention.days_by_environment.prod" or "retention" of the
	// repository's default policy, "retention/<name>" of a policy scoped
	// to the cluster.
	Source string `json:"source"`
	// Description is Rules in words ("keep daily 7, keep within 90d").
	Description string `json:"rules"`
}

// Resolve picks the narrowest retention that governs the cluster. It
// checks every source it is given, used or not, so that an invalid policy
// is reported before anything is deleted; errors name the field.
func Resolve(cluster string, s Sources) (Policy, error) {
	var errs field.ErrorList
	var given, entry, scoped, def *Rules
	scopedName := ""
	check := func(p *field.Path, in fleet.RetentionRules) *Rules {
		r, err := FromFleet(p, in)
		if err != nil {
			errs = append(errs, in.Validate(p)...)
			return nil
		}
		return &r
	}
	if s.Given != nil {
		given = check(field.NewPath("flags"), *s.Given)
	}
	env := ""
	if s.Entry != nil {
		env = s.Entry.Environment
		if s.Entry.Retention != nil {
			entry = check(field.NewPath("cluster", "retention"), *s.Entry.Retention)
		}
		if env != "" && len(s.Environments) > 0 && !slices.Contains(s.Environments, env) {
			errs = append(errs, field.NotSupported(field.NewPath("cluster", "environment"), env, s.Environments))
		}
	}
	switch len(s.Scoped) {
	case 0:
	case 1:
		scopedName = s.Scoped[0].Name
		p := field.NewPath("retention/" + scopedName)
		errs = append(errs, s.Scoped[0].Validate(p)...)
		scoped = check(p, s.Scoped[0].RetentionRules)
	default:
		names := make([]string, len(s.Scoped))
		for i, sp := range s.Scoped {
			names[i] = sp.Name
		}
		errs = append(errs, field.Invalid(field.NewPath("retention", "clusters"), cluster,
			fmt.Sprintf("cluster %s is named by the retention policies %s: a cluster is named by one policy at most", cluster, strings.Join(names, ", "))))
	}
	if s.Default != nil {
		p := field.NewPath("retention")
		errs = append(errs, s.Default.Validate(p)...)
		if !s.Default.RetentionRules.Empty() {
			def = check(p, s.Default.RetentionRules)
		}
		if len(s.Environments) > 0 {
			for _, e := range slices.Sorted(maps.Keys(s.Default.DaysByEnvironment)) {
				if !slices.Contains(s.Environments, e) {
					errs = append(errs, field.NotSupported(p.Child("days_by_environment").Key(e), e, s.Environments))
				}
			}
		}
	}
	for _, e := range slices.Sorted(maps.Keys(s.ConfigDays)) {
		errs = append(errs, fleet.ValidateRetentionDays(field.NewPath("retention_policies").Key(e), s.ConfigDays[e])...)
	}
	if len(errs) > 0 {
		return Policy{}, fmt.Errorf("the retention policy of cluster %s is not valid: %w", cluster, dedupe(errs).ToAggregate())
	}
	pick := func(r Rules, source string) (Policy, error) {
		return Policy{Rules: r, Source: source, Description: r.String()}, nil
	}
	switch {
	case given != nil && !given.Empty():
		return pick(*given, "flags")
	case entry != nil:
		return pick(*entry, "cluster.retention")
	case scoped != nil:
		return pick(*scoped, "retention/"+scopedName)
	}
	if env != "" {
		if days, ok := s.ConfigDays[env]; ok {
			return pick(Days(days), "retention_policies."+env)
		}
		if s.Default != nil {
			if days, ok := s.Default.DaysByEnvironment[env]; ok {
				return pick(Days(days), "retention.days_by_environment."+env)
			}
		}
	}
	if def != nil {
		return pick(*def, "retention")
	}
	where := "no registry entry"
	if s.Entry != nil {
		where = "no retention of its own"
		if env == "" {
			where += " and no environment"
		} else {
			where += fmt.Sprintf(" and environment %s has no retention days", env)
		}
	}
	return Policy{}, &NoPolicyError{Cluster: cluster, Why: where}
}

// NoPolicyError says that no source gives a cluster a retention policy:
// nothing of that cluster is removed.
type NoPolicyError struct {
	Cluster string
	Why     string
}

func (e *NoPolicyError) Error() string {
	return fmt.Sprintf("cluster %s has no retention policy (%s, and the repository has no retention policy named %s); "+
		"give rules such as keep_daily 7 or keep_within 90d, set the cluster's retention in its registry entry, "+
		"or days for its environment in retention_policies", e.Cluster, e.Why, DefaultPolicyName)
}

func dedupe(errs field.ErrorList) field.ErrorList {
	seen := map[string]bool{}
	var out field.ErrorList
	for _, e := range errs {
		if k := e.Error(); !seen[k] {
			seen[k] = true
			out = append(out, e)
		}
	}
	slices.SortStableFunc(out, func(a, b *field.Error) int { return strings.Compare(a.Field, b.Field) })
	return out
}
