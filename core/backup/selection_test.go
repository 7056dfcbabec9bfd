package backup

import (
	"os"
	"strings"
	"testing"
)

// docs/backup.md lists every default exclusion with its reason, so users
// can find out why a type is missing from their backup.
func TestDefaultExclusionsAreDocumented(t *testing.T) {
	doc, err := os.ReadFile("../../docs/backup.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range DefaultExclusions {
		row := "| `" + e.GroupResource.String() + "` | "
		if !strings.Contains(string(doc), row) {
			t.Errorf("docs/backup.md has no row for %s", e.GroupResource)
		}
		if e.Reason == "" {
			t.Errorf("%s is excluded without a reason", e.GroupResource)
		}
	}
}
