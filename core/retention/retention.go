// Package retention decides which backups a retention policy keeps, with
// restic's forget rules: a backup is kept when any rule keeps it, and each
// kept backup says which rules keep it. It is pure: backups in, decisions
// out; core/prune reads the repository and deletes.
package retention

import (
	"cmp"
	"fmt"
	"slices"
	"time"

	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/kbackup/kbackup/core/fleet"
)

// Rules are the rules of fleet.RetentionRules, parsed. A count of 0 turns
// its rule off; Within 0 turns keep-within off.
type Rules struct {
	Last, Hourly, Daily, Weekly, Monthly int
	Within                               time.Duration
}

// Empty says whether no rule is set: such rules keep nothing, and
// Apply refuses them rather than remove every backup.
func (r Rules) Empty() bool { return r == Rules{} }

// FromFleet parses stored or configured rules; errors are field errors
// under p (keep_daily, keep_within).
func FromFleet(p *field.Path, in fleet.RetentionRules) (Rules, error) {
	if errs := in.Validate(p); len(errs) > 0 {
		return Rules{}, errs.ToAggregate()
	}
	r := Rules{Last: in.KeepLast, Hourly: in.KeepHourly, Daily: in.KeepDaily, Weekly: in.KeepWeekly, Monthly: in.KeepMonthly}
	if in.KeepWithin != "" {
		d, err := fleet.ParseWithin(in.KeepWithin)
		if err != nil {
			return Rules{}, field.Invalid(p.Child("keep_within"), in.KeepWithin, err.Error())
		}
		r.Within = d
	}
	return r, nil
}

// Days is the seed's "keep N days": keep-within N×24h.
func Days(n int) Rules { return Rules{Within: time.Duration(n) * 24 * time.Hour} }

// String writes the rules as flags would set them, for messages.
func (r Rules) String() string {
	var out []string
	for _, c := range []struct {
		name string
		n    int
	}{{"last", r.Last}, {"hourly", r.Hourly}, {"daily", r.Daily}, {"weekly", r.Weekly}, {"monthly", r.Monthly}} {
		if c.n > 0 {
			out = append(out, fmt.Sprintf("keep %s %d", c.name, c.n))
		}
	}
	if r.Within > 0 {
		out = append(out, "keep within "+FormatDuration(r.Within))
	}
	if len(out) == 0 {
		return "no rule"
	}
	return joinComma(out)
}

// FormatDuration writes whole days as 90d, the rest as time.Duration does.
func FormatDuration(d time.Duration) string {
	const day = 24 * time.Hour
	if d%day == 0 {
		return fmt.Sprintf("%dd", d/day)
	}
	return d.String()
}

func joinComma(s []string) string {
	out := ""
	for i, x := range s {
		if i > 0 {
			out += ", "
		}
		out += x
	}
	return out
}

// Backup is what the rules look at.
type Backup struct {
	ID   string
	Time time.Time
	// Failed backups never count towards a keep-N rule (last, hourly,
	// daily, weekly, monthly) and take no bucket; keep-within keeps
	// them while they are young.
	Failed bool
}

// Rule names a rule in a Reason.
type Rule string

// The rules.
const (
	RuleLast    Rule = "last"
	RuleHourly  Rule = "hourly"
	RuleDaily   Rule = "daily"
	RuleWeekly  Rule = "weekly"
	RuleMonthly Rule = "monthly"
	RuleWithin  Rule = "within"
)

// Reason is one rule that keeps a backup: the rule and, for the bucket
// rules, the bucket (2026-03-01 for daily, 2026-W09 for weekly).
type Reason struct {
	Rule   Rule   `json:"rule"`
	Bucket string `json:"bucket,omitempty"`
}

func (r Reason) String() string {
	if r.Bucket == "" {
		return string(r.Rule)
	}
	return string(r.Rule) + " " + r.Bucket
}

// Decision is what the rules say of one backup.
type Decision struct {
	Backup
	Keep bool
	// Reasons are the rules that keep it, in the order of Rules' fields;
	// empty when it is removed.
	Reasons []Reason
}

// Apply decides, for every backup, whether the rules keep it, as restic's
// forget does. Backups are taken newest first (by Time, then ID); each
// keep-N bucket rule keeps the newest backup of each of the N newest
// buckets (hours, days, ISO weeks, months in loc) that have a backup that
// did not fail; keep-last keeps the N newest that did not fail; keep-within
// keeps every backup no older than Within before the newest backup that did
// not fail (before the newest backup when all failed), so that backups
// that stopped do not make the old ones expire. The result is newest
// first. Empty rules are an error: they would remove everything.
func Apply(backups []Backup, rules Rules, loc *time.Location) ([]Decision, error) {
	if rules.Empty() {
		return nil, fmt.Errorf("no retention rule is set; a policy that keeps nothing would remove every backup")
	}
	if rules.Last < 0 || rules.Hourly < 0 || rules.Daily < 0 || rules.Weekly < 0 || rules.Monthly < 0 || rules.Within < 0 {
		return nil, fmt.Errorf("retention rules must not be negative: %+v", rules)
	}
	if loc == nil {
		loc = time.UTC
	}
	out := make([]Decision, len(backups))
	for i, b := range backups {
		out[i] = Decision{Backup: b}
	}
	slices.SortStableFunc(out, func(a, b Decision) int {
		return cmp.Or(b.Time.Compare(a.Time), cmp.Compare(b.ID, a.ID))
	})

	type bucketRule struct {
		rule   Rule
		n      int
		bucket func(time.Time) string
	}
	rules2 := []bucketRule{
		{RuleLast, rules.Last, func(t time.Time) string { return "" }},
		{RuleHourly, rules.Hourly, func(t time.Time) string { return t.Format("2006-01-02 15h") }},
		{RuleDaily, rules.Daily, func(t time.Time) string { return t.Format("2006-01-02") }},
		{RuleWeekly, rules.Weekly, func(t time.Time) string {
			y, w := t.ISOWeek()
			return fmt.Sprintf("%d-W%02d", y, w)
		}},
		{RuleMonthly, rules.Monthly, func(t time.Time) string { return t.Format("2006-01") }},
	}
	for _, br := range rules2 {
		if br.n == 0 {
			continue
		}
		kept, last := 0, "\x00"
		for i := range out {
			if kept == br.n {
				break
			}
			if out[i].Failed {
				continue
			}
			bucket := br.bucket(out[i].Time.In(loc))
			if br.rule != RuleLast && bucket == last {
				continue // an older backup of a bucket already kept
			}
			last = bucket
			kept++
			out[i].Keep = true
			out[i].Reasons = append(out[i].Reasons, Reason{Rule: br.rule, Bucket: bucket})
		}
	}
	if rules.Within > 0 && len(out) > 0 {
		ref := out[0].Time
		if i := slices.IndexFunc(out, func(d Decision) bool { return !d.Failed }); i >= 0 {
			ref = out[i].Time
		}
		limit := ref.Add(-rules.Within)
		for i := range out {
			if !out[i].Time.Before(limit) {
				out[i].Keep = true
				out[i].Reasons = append(out[i].Reasons, Reason{Rule: RuleWithin, Bucket: FormatDuration(rules.Within)})
			}
		}
	}
	return out, nil
}
