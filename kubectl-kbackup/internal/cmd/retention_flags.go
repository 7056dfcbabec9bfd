package cmd

import (
	"fmt"
	"time"

	"github.com/spf13/pflag"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/kbackup/kbackup/core/fleet"
)

// retentionFlags are --keep-last … --keep-within, which prune, backup
// create --prune and cluster register share.
type retentionFlags struct {
	rules fleet.RetentionRules
	// given says whether any of them was set.
	given bool
}

func (f *retentionFlags) addFlags(fs *pflag.FlagSet, what string) {
	fs.IntVar(&f.rules.KeepLast, "keep-last", 0, what+": keep the newest N backups that did not fail.")
	fs.IntVar(&f.rules.KeepHourly, "keep-hourly", 0, what+": keep the newest backup of each of the last N hours that have one.")
	fs.IntVar(&f.rules.KeepDaily, "keep-daily", 0, what+": keep the newest backup of each of the last N days that have one.")
	fs.IntVar(&f.rules.KeepWeekly, "keep-weekly", 0, what+": keep the newest backup of each of the last N ISO weeks that have one.")
	fs.IntVar(&f.rules.KeepMonthly, "keep-monthly", 0, what+": keep the newest backup of each of the last N months that have one.")
	fs.StringVar(&f.rules.KeepWithin, "keep-within", "", what+": keep every backup younger than this before the newest good backup, such as 720h or 90d.")
}

func (f *retentionFlags) complete(fs *pflag.FlagSet) {
	for _, name := range []string{"keep-last", "keep-hourly", "keep-daily", "keep-weekly", "keep-monthly", "keep-within"} {
		if fs.Changed(name) {
			f.given = true
		}
	}
}

// retentionFlagNames map the rules' field paths to their flags.
var retentionFlagNames = map[string]string{
	"flags.keep_last":    "--keep-last",
	"flags.keep_hourly":  "--keep-hourly",
	"flags.keep_daily":   "--keep-daily",
	"flags.keep_weekly":  "--keep-weekly",
	"flags.keep_monthly": "--keep-monthly",
	"flags.keep_within":  "--keep-within",
	"flags":              "the retention flags",
}

// validate checks the rules given; errors name the flags.
func (f *retentionFlags) validate() error {
	if !f.given {
		return nil
	}
	errs := f.rules.Validate(field.NewPath("flags"))
	if len(errs) == 0 && f.rules.Empty() {
		errs = append(errs, field.Required(field.NewPath("flags"), "a rule that keeps something, such as --keep-daily 7 or --keep-within 720h"))
	}
	return flagErrors(errs.ToAggregate(), retentionFlagNames)
}

// ruleset returns the rules given, nil when none were.
func (f *retentionFlags) ruleset() *fleet.RetentionRules {
	if !f.given {
		return nil
	}
	r := f.rules
	return &r
}

// loadTimeZone reads --time-zone.
func loadTimeZone(name string) (*time.Location, error) {
	if name == "" || name == "UTC" {
		return time.UTC, nil
	}
	errs := fleet.ValidateCron(field.NewPath("cron"), field.NewPath("time_zone"), "@daily", name)
	if len(errs) > 0 {
		return nil, fmt.Errorf("--time-zone %q is not a time zone of the IANA database; want one like Europe/Paris or UTC", name)
	}
	return time.LoadLocation(name)
}
