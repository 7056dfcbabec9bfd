package config

import (
	"fmt"
	"strings"

	"github.com/robfig/cron/v3"
)

// scheduleHint is what a schedule looks like, for messages.
const scheduleHint = `5 fields like "0 2 * * *" (minute hour day-of-month month day-of-week), or @daily`

// ValidateSchedule checks a backup schedule: a standard 5-field cron spec or
// a descriptor (@daily, @every 6h), as github.com/robfig/cron/v3 parses them.
// Both front ends use it, so the file and Terraform accept the same specs.
func ValidateSchedule(spec string) error {
	s := strings.TrimSpace(spec)
	if s == "" {
		return fmt.Errorf("the schedule is empty; want %s", scheduleHint)
	}
	// A TZ= prefix would make the result depend on the time zone database
	// of the machine that checks it (and cron v3 panics on "TZ=x" with no
	// spec after it); schedules are in UTC.
	if strings.HasPrefix(s, "TZ=") || strings.HasPrefix(s, "CRON_TZ=") {
		return fmt.Errorf("%q: time zones are not supported, schedules run in UTC; want %s", clip(spec), scheduleHint)
	}
	if _, err := cron.ParseStandard(s); err != nil {
		return fmt.Errorf("%q is not a cron schedule (%v); want %s", clip(spec), err, scheduleHint)
	}
	return nil
}

// maxRetentionDays keeps retention well inside time.Duration, which ends
// after about 106,000 days.
const maxRetentionDays = 36500

// ValidateRetentionDays checks a retention period in days.
func ValidateRetentionDays(days int) error {
	switch {
	case days < 1:
		return fmt.Errorf("%d days: retention must be at least 1 day; want a number of days like 90", days)
	case days > maxRetentionDays:
		return fmt.Errorf("%d days is more than 100 years; want at most %d", days, maxRetentionDays)
	}
	return nil
}
