package scheduler

import (
	"time"

	"github.com/robfig/cron/v3"
)

// Slots are the times a schedule is due. They are the same in every
// process: two schedulers of one repository must name a slot alike to
// claim it once. A cron expression gives that already; "@every d", which
// robfig/cron counts from whenever it is asked, is aligned here to
// multiples of d since the zero time instead.
type Slots struct {
	cron cron.Schedule
}

// NewSlots returns the slots of a parsed schedule.
func NewSlots(c cron.Schedule) Slots { return Slots{cron: c} }

// Next is the first slot strictly after t; the zero time when there is
// none (a cron expression for a date that never comes).
func (s Slots) Next(t time.Time) time.Time {
	if d, ok := s.cron.(cron.ConstantDelaySchedule); ok {
		return t.Truncate(d.Delay).Add(d.Delay)
	}
	return s.cron.Next(t)
}

// maxCatchUpSteps bounds the walk of Last: a schedule every minute over a
// catch-up window of a day is 1,440 steps.
const maxCatchUpSteps = 100_000

// Last is the latest slot in (now-window, now], the one a scheduler that
// starts at now runs to catch up; ok is false when there is none.
func (s Slots) Last(now time.Time, window time.Duration) (slot time.Time, ok bool) {
	if window <= 0 {
		return time.Time{}, false
	}
	t := now.Add(-window)
	for range maxCatchUpSteps {
		next := s.Next(t)
		if next.IsZero() || next.After(now) {
			return slot, ok
		}
		slot, ok, t = next, true, next
	}
	return slot, ok
}

// Interval is the time between the two slots after now: what a cluster's
// last good backup may be behind by (with a cron expression whose gaps
// vary, the gap coming next).
func (s Slots) Interval(now time.Time) time.Duration {
	a := s.Next(now)
	if a.IsZero() {
		return 0
	}
	b := s.Next(a)
	if b.IsZero() {
		return 0
	}
	return b.Sub(a)
}
