package guides

import (
	"reflect"
	"strings"
	"testing"
)

func TestParsePage(t *testing.T) {
	page := strings.Join([]string{
		"# A page",
		"```sh",
		"# a comment, not a command",
		"kb backup list        # exits 3",
		"kb export latest \\",
		"  --check",
		"cat > f <<'EOF'",
		"a: 1 # not a comment of the command",
		"EOF",
		"```",
		"",
		"```",
		"ID   PHASE",
		"...",
		"```",
		"```yaml",
		"not: a command",
		"```",
		"```console",
		"$ kb version",
		"kbackup v1",
		"$ kb verify",
		"```",
		"",
	}, "\n")
	got, err := parsePage(page)
	if err != nil {
		t.Fatal(err)
	}
	want := []step{
		{line: 4, command: "kb backup list        # exits 3", exitCode: 3},
		{line: 5, command: "kb export latest \\\n  --check"},
		{line: 7, command: "cat > f <<'EOF'\na: 1 # not a comment of the command\nEOF", want: []string{"ID   PHASE", "..."}, shown: true},
		{line: 20, command: "kb version", want: []string{"kbackup v1"}, shown: true},
		{line: 22, command: "kb verify", want: []string{}, shown: true},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("parsePage:\n got %+v\nwant %+v", got, want)
	}
}

func TestMatch(t *testing.T) {
	want := []string{
		"Backup 20260301T020000Z-1a2b3c of cluster prod-eu: Completed",
		"...",
		"  Duration:  0.3s",
		"  Location:  file:///home/you/.local/share/kbackup",
	}
	got := []string{
		"Backup 20261130T001346Z-1640f0 of cluster prod-eu: Completed",
		"  Objects:   2292 objects",
		"",
		"  Duration:  12.5s",
		"  Location:  file:///home/you/.local/share/kbackup",
	}
	pairs, err := match(want, got)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(pairs, map[int]int{0: 0, 2: 3, 3: 4}) {
		t.Errorf("pairs %v", pairs)
	}
	got[1] = "  Objects:   2293 objects"
	if _, err := match(want[:1], got[:2]); err == nil {
		t.Error("an extra line matched")
	}
	if _, err := match([]string{"Completed: 3 objects"}, []string{"Completed: 4 objects"}); err == nil {
		t.Error("a different count matched")
	}
}
