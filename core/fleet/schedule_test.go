package fleet

import (
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/util/validation/field"
)

func validateCron(spec, tz string) error {
	return ValidateCron(field.NewPath("schedule", "cron"), field.NewPath("schedule", "time_zone"), spec, tz).ToAggregate()
}

func TestValidateCron(t *testing.T) {
	valid := []struct{ spec, tz string }{
		{"0 2 * * *", ""}, {"*/15 * * * *", ""}, {"30 1 * * 1-5", ""}, {"0 0 1 * *", ""}, {"0 3 * * SUN", ""},
		{"@daily", ""}, {"@weekly", ""}, {"@every 6h", ""}, {"  0 2 * * *  ", ""},
		{"CRON_TZ=Europe/Paris 0 2 * * *", ""}, {"TZ=UTC 0 2 * * *", ""}, {"0 2 * * *", "America/New_York"}, {"@daily", "Asia/Tokyo"},
	}
	for _, tt := range valid {
		if err := validateCron(tt.spec, tt.tz); err != nil {
			t.Errorf("ValidateCron(%q, %q) = %v, want nil", tt.spec, tt.tz, err)
		}
	}
	invalid := []struct{ spec, tz, want string }{
		{"", "", "schedule.cron: Required value: the schedule is empty"},
		{"   ", "", "the schedule is empty"},
		{"0 2 * *", "", "expected exactly 5 fields, found 4"},
		{"0 0 2 * * *", "", "expected exactly 5 fields, found 6"}, // no seconds field
		{"60 2 * * *", "", "above maximum"},
		{"0 2 * * MON-", "", "is not a cron schedule"},
		{"@fortnightly", "", "is not a cron schedule"},
		{"@every soon", "", "is not a cron schedule"},
		{"CRON_TZ=Mars/Olympus 0 2 * * *", "", `schedule.cron: Invalid value: "CRON_TZ=Mars/Olympus 0 2 * * *": has the time zone "Mars/Olympus", which is not in the time zone database`},
		{"CRON_TZ=../../etc/passwd 0 2 * * *", "", "not an IANA time zone"},
		{"TZ=", "", "has a time zone and no schedule"}, // cron v3 itself panics on this
		{"CRON_TZ=UTC", "", "has a time zone and no schedule"},
		{"0 2 * * *", "Europe/Pariss", `schedule.time_zone: Invalid value: "Europe/Pariss": is the time zone "Europe/Pariss", which is not in the time zone database`},
		{"0 2 * * *", "Local", "not an IANA time zone"},
		{"CRON_TZ=UTC 0 2 * * *", "Europe/Paris", "schedule.time_zone: Invalid value: \"Europe/Paris\": the cron expression already names the time zone UTC"},
	}
	for _, tt := range invalid {
		err := validateCron(tt.spec, tt.tz)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("ValidateCron(%q, %q) = %v, want an error containing %q", tt.spec, tt.tz, err, tt.want)
		}
		if err != nil && !strings.Contains(err.Error(), `want `) {
			t.Errorf("ValidateCron(%q, %q) = %v, want it to say what is accepted", tt.spec, tt.tz, err)
		}
	}
}

// A schedule runs in its time zone.
func TestScheduleParseInTimeZone(t *testing.T) {
	s := Schedule{Name: "nightly", Cron: "0 2 * * *", TimeZone: "Europe/Paris"}
	sched, err := s.Parse()
	if err != nil {
		t.Fatal(err)
	}
	next := sched.Next(time.Date(2026, 7, 1, 12, 0, 0, 0, time.UTC))
	if want := time.Date(2026, 7, 2, 0, 0, 0, 0, time.UTC); !next.Equal(want) { // 02:00 CEST
		t.Errorf("next run %s; want %s", next.UTC(), want)
	}
}

func TestValidateRetentionDays(t *testing.T) {
	for _, days := range []int{1, 7, 90, 36500} {
		if errs := ValidateRetentionDays(field.NewPath("days"), days); len(errs) > 0 {
			t.Errorf("ValidateRetentionDays(%d) = %v", days, errs)
		}
	}
	for _, tt := range []struct {
		days int
		want string
	}{
		{0, "days: Invalid value: 0: is too short: retention must be at least 1 day; want a number of days like 90"},
		{-7, "retention must be at least 1 day"},
		{36501, "is more than 100 years; want at most 36500"},
	} {
		if err := ValidateRetentionDays(field.NewPath("days"), tt.days).ToAggregate(); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("ValidateRetentionDays(%d) = %v, want %q", tt.days, err, tt.want)
		}
	}
}

func FuzzValidateCron(f *testing.F) {
	for _, s := range []string{"0 2 * * *", "@every 1h", "TZ=", "*/0 * * * *", "0-60/-1 * * * *", "CRON_TZ=x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, spec string) {
		_ = validateCron(spec, "") // must not panic
	})
}

func TestScheduleAppliesTo(t *testing.T) {
	for _, tt := range []struct {
		s            Schedule
		cluster, env string
		want         bool
	}{
		{Schedule{}, "a", "prod", true},
		{Schedule{Suspend: true}, "a", "prod", false},
		{Schedule{Cluster: "a"}, "a", "dev", true},
		{Schedule{Cluster: "a"}, "b", "dev", false},
		{Schedule{Environment: "prod"}, "a", "prod", true},
		{Schedule{Environment: "prod"}, "a", "dev", false},
	} {
		if got := tt.s.AppliesTo(tt.cluster, tt.env); got != tt.want {
			t.Errorf("%+v.AppliesTo(%q, %q) = %v, want %v", tt.s, tt.cluster, tt.env, got, tt.want)
		}
	}
	bad := Schedule{Name: "n", Cron: "@daily", Cluster: "a", Environment: "prod"}
	if err := bad.Validate(field.NewPath("schedule")).ToAggregate(); err == nil || !strings.Contains(err.Error(), "schedule.environment") {
		t.Errorf("a schedule with a cluster and an environment: %v, want an error at schedule.environment", err)
	}
	if err := (&Schedule{Name: "n", Cron: "@daily", Cluster: "Not_DNS"}).Validate(field.NewPath("schedule")).ToAggregate(); err == nil || !strings.Contains(err.Error(), "schedule.cluster") {
		t.Errorf("a schedule naming an invalid cluster: %v, want an error at schedule.cluster", err)
	}
}
