package config

import (
	"strings"
	"testing"
)

func TestValidateSchedule(t *testing.T) {
	valid := []string{"0 2 * * *", "*/15 * * * *", "30 1 * * 1-5", "0 0 1 * *", "0 3 * * SUN", "@daily", "@weekly", "@every 6h", "  0 2 * * *  "}
	for _, spec := range valid {
		if err := ValidateSchedule(spec); err != nil {
			t.Errorf("ValidateSchedule(%q) = %v, want nil", spec, err)
		}
	}
	invalid := []struct{ spec, want string }{
		{"", "the schedule is empty"},
		{"   ", "the schedule is empty"},
		{"0 2 * *", "expected exactly 5 fields, found 4"},
		{"0 0 2 * * *", "expected exactly 5 fields, found 6"}, // no seconds field
		{"60 2 * * *", "above maximum"},
		{"0 2 * * MON-", "is not a cron schedule"},
		{"@fortnightly", "is not a cron schedule"},
		{"@every soon", "is not a cron schedule"},
		{"TZ=UTC 0 2 * * *", "time zones are not supported"},
		{"CRON_TZ=Europe/Paris 0 2 * * *", "time zones are not supported"},
		{"TZ=", "time zones are not supported"}, // cron v3 itself panics on this
	}
	for _, tt := range invalid {
		err := ValidateSchedule(tt.spec)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("ValidateSchedule(%q) = %v, want an error containing %q", tt.spec, err, tt.want)
		}
		if err != nil && !strings.Contains(err.Error(), `want 5 fields like "0 2 * * *"`) {
			t.Errorf("ValidateSchedule(%q) = %v, want it to say what is accepted", tt.spec, err)
		}
	}
}

func TestValidateRetentionDays(t *testing.T) {
	for _, days := range []int{1, 7, 90, 36500} {
		if err := ValidateRetentionDays(days); err != nil {
			t.Errorf("ValidateRetentionDays(%d) = %v", days, err)
		}
	}
	for _, tt := range []struct {
		days int
		want string
	}{
		{0, "0 days: retention must be at least 1 day; want a number of days like 90"},
		{-7, "-7 days: retention must be at least 1 day"},
		{36501, "36501 days is more than 100 years; want at most 36500"},
	} {
		if err := ValidateRetentionDays(tt.days); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("ValidateRetentionDays(%d) = %v, want %q", tt.days, err, tt.want)
		}
	}
}

func FuzzValidateSchedule(f *testing.F) {
	for _, s := range []string{"0 2 * * *", "@every 1h", "TZ=", "*/0 * * * *", "0-60/-1 * * * *"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, spec string) {
		_ = ValidateSchedule(spec) // must not panic
	})
}
