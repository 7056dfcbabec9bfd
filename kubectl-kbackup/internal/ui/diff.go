package ui

import (
	"fmt"
	"io"
	"strings"

	"github.com/kbackup/kbackup/core/diff"
)

// RenderUnifiedDiff writes a unified diff, its lines coloured on a terminal:
// added lines green, removed lines red, hunk headers cyan, file headers
// bold.
func RenderUnifiedDiff(w io.Writer, s *Styles, text string) error {
	p := &printer{w: w}
	for _, line := range strings.Split(strings.TrimSuffix(text, "\n"), "\n") {
		switch {
		case strings.HasPrefix(line, "+++"), strings.HasPrefix(line, "---"):
			line = s.Strong.Render(line)
		case strings.HasPrefix(line, "+"):
			line = s.DiffAdd.Render(line)
		case strings.HasPrefix(line, "-"):
			line = s.DiffDel.Render(line)
		case strings.HasPrefix(line, "@@"):
			line = s.DiffHunk.Render(line)
		}
		p.line("%s", line)
	}
	return p.err
}

// sideText says what one side of a diff is.
func sideText(side diff.Side) string {
	if side.Kind == "live" {
		where := side.Server
		if side.Cluster != "" {
			where = "context " + side.Cluster + ", " + side.Server
		}
		return "the live cluster (" + where + ")"
	}
	return fmt.Sprintf("backup %s of cluster %s", side.BackupID, side.Cluster)
}

// RenderDiff writes a diff report: unless summaryOnly, the unified diff of
// every object that differs, then a table of added, removed, changed and
// unchanged objects for each namespace and type with differences, and the
// totals.
func RenderDiff(w io.Writer, s *Styles, rep *diff.Report, summaryOnly bool) error {
	p := &printer{w: w}
	if !summaryOnly {
		for _, e := range rep.Entries {
			p.line("%s %s %s", s.Status(string(e.Change)), e.Resource, qualified(e.Namespace, e.Name))
			if p.err == nil {
				p.err = RenderUnifiedDiff(w, s, e.Diff)
			}
			p.line("")
		}
	}
	p.line("Diff from %s to %s:", sideText(rep.From), sideText(rep.To))
	if p.err != nil {
		return p.err
	}
	t := rep.Totals
	if !rep.HasChanges() {
		p.line("%s", s.Good.Render(fmt.Sprintf("No differences: %s compared, all unchanged.", Count(t.Unchanged, "object"))))
	} else {
		table := &Table{Headers: []string{"NAMESPACE", "RESOURCE", "ADDED", "REMOVED", "CHANGED", "UNCHANGED"}}
		quiet := 0
		for _, c := range rep.Counts {
			if c.Added+c.Removed+c.Changed == 0 {
				quiet++
				continue
			}
			table.AddRow(namespaceText(c.Namespace), c.Resource, countCell(c.Added), countCell(c.Removed), countCell(c.Changed), countCell(c.Unchanged))
		}
		table.AddRow("TOTAL", "", fmt.Sprint(t.Added), fmt.Sprint(t.Removed), fmt.Sprint(t.Changed), fmt.Sprint(t.Unchanged))
		if err := table.Render(w, s); err != nil {
			return err
		}
		if quiet > 0 {
			what := fmt.Sprintf("%d more namespace/type pairs have", quiet)
			if quiet == 1 {
				what = "1 more namespace/type pair has"
			}
			p.line("%s", s.Muted.Render(fmt.Sprintf("(%s no differences; -o json lists every count)", what)))
		}
		p.line("Added: only in %s. Removed: only in %s. Changed: in both, different after cleaning (docs/restore.md §3).", sideText(rep.To), sideText(rep.From))
	}
	renderWarnings(p, s, rep.Warnings)
	return p.err
}
