package retention

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"
)

// at builds a backup at a time written as "2026-03-01 14:05" (UTC); a "!"
// suffix marks it failed.
func at(s string) Backup {
	failed := strings.HasSuffix(s, "!")
	s = strings.TrimSuffix(s, "!")
	t, err := time.Parse("2006-01-02 15:04", s)
	if err != nil {
		panic(err)
	}
	return Backup{ID: s, Time: t, Failed: failed}
}

func kept(ds []Decision) []string {
	var out []string
	for _, d := range ds {
		if d.Keep {
			out = append(out, d.ID)
		}
	}
	return out
}

func TestApply(t *testing.T) {
	// Two backups a day at 01:00 and 13:00 UTC, 2026-02-20 to 2026-03-03,
	// newest first; Wednesday 2026-02-25 13:00 failed.
	var series []string
	for d := time.Date(2026, 3, 3, 0, 0, 0, 0, time.UTC); !d.Before(time.Date(2026, 2, 20, 0, 0, 0, 0, time.UTC)); d = d.AddDate(0, 0, -1) {
		for _, h := range []int{13, 1} {
			s := d.Add(time.Duration(h) * time.Hour).Format("2006-01-02 15:04")
			if s == "2026-02-25 13:00" {
				s += "!"
			}
			series = append(series, s)
		}
	}
	paris, err := time.LoadLocation("Europe/Paris")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		backups []string
		rules   Rules
		loc     *time.Location
		want    []string
	}{
		{name: "last 3", backups: series, rules: Rules{Last: 3},
			want: []string{"2026-03-03 13:00", "2026-03-03 01:00", "2026-03-02 13:00"}},
		{name: "daily 3 keeps the newest of each day", backups: series, rules: Rules{Daily: 3},
			want: []string{"2026-03-03 13:00", "2026-03-02 13:00", "2026-03-01 13:00"}},
		// series[12] is the failed 2026-02-25 13:00.
		{name: "a failed newest takes no bucket: its day keeps its 01:00", backups: series[12:], rules: Rules{Daily: 2},
			want: []string{"2026-02-25 01:00", "2026-02-24 13:00"}},
		{name: "daily 3 across the failed backup", backups: series[10:], rules: Rules{Daily: 3},
			want: []string{"2026-02-26 13:00", "2026-02-25 01:00", "2026-02-24 13:00"}},
		{name: "failed backups do not count towards last", backups: series[12:], rules: Rules{Last: 2},
			want: []string{"2026-02-25 01:00", "2026-02-24 13:00"}},
		{name: "hourly 2", backups: series, rules: Rules{Hourly: 2},
			want: []string{"2026-03-03 13:00", "2026-03-03 01:00"}},
		// ISO weeks start on Monday: 2026-03-02 (Mon), 02-23 (Mon), 02-16.
		{name: "weekly 3", backups: series, rules: Rules{Weekly: 3},
			want: []string{"2026-03-03 13:00", "2026-03-01 13:00", "2026-02-22 13:00"}},
		{name: "monthly 2", backups: series, rules: Rules{Monthly: 2},
			want: []string{"2026-03-03 13:00", "2026-02-28 13:00"}},
		{name: "monthly more than there are months", backups: series, rules: Rules{Monthly: 12},
			want: []string{"2026-03-03 13:00", "2026-02-28 13:00"}},
		{name: "within 36h of the newest backup", backups: series, rules: Rules{Within: 36 * time.Hour},
			want: []string{"2026-03-03 13:00", "2026-03-03 01:00", "2026-03-02 13:00", "2026-03-02 01:00"}},
		{name: "within keeps young failed backups", backups: series[12:], rules: Rules{Within: 12 * time.Hour},
			want: []string{"2026-02-25 13:00", "2026-02-25 01:00", "2026-02-24 13:00"}},
		{name: "within counts from the newest good backup, not a newer failed one",
			backups: []string{"2026-03-10 00:00!", "2026-03-01 00:00", "2026-02-28 00:00", "2026-02-20 00:00"},
			rules:   Rules{Within: 24 * time.Hour},
			want:    []string{"2026-03-10 00:00", "2026-03-01 00:00", "2026-02-28 00:00"}},
		{name: "any rule keeps: last 1 and daily 2", backups: series, rules: Rules{Last: 1, Daily: 2},
			want: []string{"2026-03-03 13:00", "2026-03-02 13:00"}},
		// In Paris (UTC+1) 01:00 and 13:00 UTC are 02:00 and 14:00 the same
		// day; a backup at 23:30 UTC is the next day there.
		{name: "days in the time zone given",
			backups: []string{"2026-03-02 23:30", "2026-03-02 22:30", "2026-03-01 23:30"},
			rules:   Rules{Daily: 2}, loc: paris,
			want: []string{"2026-03-02 23:30", "2026-03-02 22:30"}},
		{name: "days in UTC", backups: []string{"2026-03-02 23:30", "2026-03-02 22:30", "2026-03-01 23:30"},
			rules: Rules{Daily: 2},
			want:  []string{"2026-03-02 23:30", "2026-03-01 23:30"}},
		{name: "only failed backups: keep-N keeps none", backups: []string{"2026-03-02 00:00!", "2026-03-01 00:00!"},
			rules: Rules{Last: 5}, want: nil},
		{name: "no backups", backups: nil, rules: Rules{Last: 1}, want: nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var in []Backup
			for _, s := range tc.backups {
				in = append(in, at(s))
			}
			// Apply sorts: give them oldest first.
			slices.Reverse(in)
			got, err := Apply(in, tc.rules, tc.loc)
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(in) {
				t.Fatalf("got %d decisions for %d backups", len(got), len(in))
			}
			if k := kept(got); !slices.Equal(k, tc.want) {
				t.Errorf("kept %q, want %q", k, tc.want)
			}
			for _, d := range got {
				if d.Keep != (len(d.Reasons) > 0) {
					t.Errorf("%s: keep %v with reasons %v", d.ID, d.Keep, d.Reasons)
				}
			}
		})
	}
}

func TestApplyReasons(t *testing.T) {
	in := []Backup{at("2026-03-03 13:00"), at("2026-03-03 01:00"), at("2026-03-02 13:00")}
	got, err := Apply(in, Rules{Last: 1, Daily: 2, Monthly: 1, Within: time.Hour}, time.UTC)
	if err != nil {
		t.Fatal(err)
	}
	var lines []string
	for _, d := range got {
		lines = append(lines, fmt.Sprintf("%s %v %v", d.ID, d.Keep, d.Reasons))
	}
	want := []string{
		"2026-03-03 13:00 true [last daily 2026-03-03 monthly 2026-03 within 1h0m0s]",
		"2026-03-03 01:00 false []",
		"2026-03-02 13:00 true [daily 2026-03-02]",
	}
	if !slices.Equal(lines, want) {
		t.Errorf("got\n%s\nwant\n%s", strings.Join(lines, "\n"), strings.Join(want, "\n"))
	}
}

func TestApplyRefusesEmptyAndNegativeRules(t *testing.T) {
	for _, r := range []Rules{{}, {Last: -1}, {Within: -time.Hour}} {
		if _, err := Apply([]Backup{at("2026-03-03 13:00")}, r, time.UTC); err == nil {
			t.Errorf("Apply(%+v) succeeded; want an error", r)
		}
	}
}
