package ui

import (
	"fmt"
	"strconv"
	"time"

	"k8s.io/apimachinery/pkg/util/duration"
)

// Bytes writes a size in binary units, as people read them: 512 B, 1.5 KiB,
// 12 MiB.
func Bytes(n int64) string {
	const unit = 1024
	if n < unit {
		return strconv.FormatInt(n, 10) + " B"
	}
	value, exp := float64(n)/unit, 0
	for value >= unit && exp < 5 {
		value /= unit
		exp++
	}
	suffix := []string{"KiB", "MiB", "GiB", "TiB", "PiB", "EiB"}[exp]
	if value < 10 {
		return fmt.Sprintf("%.1f %s", value, suffix)
	}
	return fmt.Sprintf("%.0f %s", value, suffix)
}

// Age is how long ago t was, as kubectl's AGE column writes it (5m, 3h, 2d);
// "<unknown>" for the zero time.
func Age(t, now time.Time) string {
	if t.IsZero() {
		return "<unknown>"
	}
	return duration.HumanDuration(now.Sub(t))
}

// Duration writes how long something took: tenths of a second below ten
// seconds, where backups usually are, then kubectl's coarser units.
func Duration(d time.Duration) string {
	switch {
	case d < 0:
		return "<unknown>"
	case d < 10*time.Second:
		return strconv.FormatFloat(d.Seconds(), 'f', 1, 64) + "s"
	}
	return duration.HumanDuration(d)
}

// Count writes n with a noun, pluralised with s: "1 pack", "3 packs".
func Count(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return strconv.Itoa(n) + " " + noun + "s"
}
