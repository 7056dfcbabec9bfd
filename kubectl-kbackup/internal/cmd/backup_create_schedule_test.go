package cmd

import (
	"strings"
	"testing"
)

// --schedule takes what to back up from the schedule: a selection flag
// beside it is refused, naming the flag.
func TestScheduleExcludesSelectionFlags(t *testing.T) {
	changed := func(names ...string) func(string) bool {
		return func(n string) bool {
			for _, m := range names {
				if m == n {
					return true
				}
			}
			return false
		}
	}
	if err := validateScheduleFlags("nightly", changed()); err != nil {
		t.Errorf("no selection flag: %v", err)
	}
	err := validateScheduleFlags("nightly", changed("include-namespaces", "selector"))
	if err == nil || !strings.Contains(err.Error(), "--include-namespaces, --selector") {
		t.Errorf("selection flags beside --schedule: %v", err)
	}
}
