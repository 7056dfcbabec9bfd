package scheduler

import (
	"testing"
	"time"

	"github.com/kbackup/kbackup/core/fleet"
)

func slotsOf(t *testing.T, spec, zone string) Slots {
	t.Helper()
	s := fleet.Schedule{Name: "s", Cron: spec, TimeZone: zone}
	c, err := s.Parse()
	if err != nil {
		t.Fatal(err)
	}
	return NewSlots(c)
}

// Two processes asking at different moments name the same slots: an @every
// schedule is aligned, not counted from the moment it is asked.
func TestEverySlotsAreAligned(t *testing.T) {
	s := slotsOf(t, "@every 15s", "")
	base := time.Date(2026, 11, 29, 20, 0, 0, 0, time.UTC)
	for _, at := range []time.Duration{0, 3 * time.Second, 14*time.Second + 999*time.Millisecond} {
		if got, want := s.Next(base.Add(at)), base.Add(15*time.Second); !got.Equal(want) {
			t.Errorf("Next(%s) = %s, want %s", base.Add(at), got, want)
		}
	}
	if got := s.Interval(base); got != 15*time.Second {
		t.Errorf("Interval = %s", got)
	}
}

func TestLastSlotWithinTheCatchUpWindow(t *testing.T) {
	s := slotsOf(t, "0 2 * * *", "Europe/Paris")
	now := time.Date(2026, 11, 29, 1, 30, 0, 0, time.UTC) // 02:30 in Paris
	last, ok := s.Last(now, time.Hour)
	if want := time.Date(2026, 11, 29, 1, 0, 0, 0, time.UTC); !ok || !last.Equal(want) {
		t.Errorf("Last = %s %v, want %s", last, ok, want)
	}
	if _, ok := s.Last(now, 20*time.Minute); ok {
		t.Error("a slot 30 minutes old is outside a 20-minute window")
	}
	if _, ok := s.Last(now, 0); ok {
		t.Error("no window, no catch-up")
	}
	if got := s.Interval(now); got != 24*time.Hour {
		t.Errorf("Interval = %s", got)
	}
	// A slot exactly at now is the latest one.
	at := time.Date(2026, 11, 29, 1, 0, 0, 0, time.UTC)
	if last, ok := s.Last(at, time.Minute); !ok || !last.Equal(at) {
		t.Errorf("Last at the slot itself = %s %v", last, ok)
	}
}
