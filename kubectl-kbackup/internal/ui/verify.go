package ui

import (
	"fmt"
	"io"
	"strings"

	"github.com/kbackup/kbackup/core/verify"
)

// RenderVerifyReport writes what a verification found: the packs that are
// missing, corrupt or unreadable with the backups they break, the verdict
// of each backup, and the counts.
func RenderVerifyReport(w io.Writer, s *Styles, rep *verify.Report) error {
	p := &printer{w: w}
	if len(rep.Problems) > 0 {
		p.line("%s", s.Bad.Render(fmt.Sprintf("Packs with problems (%d):", len(rep.Problems))))
		if p.err != nil {
			return p.err
		}
		t := &Table{Headers: []string{"KEY", "STATUS", "BACKUPS"}}
		for _, pr := range rep.Problems {
			var backups []string
			for _, b := range pr.Backups {
				backups = append(backups, b.Cluster+"/"+b.ID)
			}
			t.AddRow(pr.Key, s.Status(string(pr.Status)), strings.Join(backups, ", "))
		}
		if err := t.Render(w, s); err != nil {
			return err
		}
		p.line("%s", s.Muted.Render("Errors:"))
		for _, pr := range rep.Problems {
			p.line("  %s", pr.Error)
		}
	}
	if len(rep.Backups) > 0 {
		p.line("%s", s.Header.Render("Backups:"))
		if p.err != nil {
			return p.err
		}
		t := &Table{Headers: []string{"CLUSTER", "ID", "PACKS", "MISSING", "CORRUPT", "UNREADABLE", "RESULT"}}
		for _, b := range rep.Backups {
			result := s.Status("OK")
			if !b.OK() {
				result = s.Bad.Render("cannot be fully restored")
			}
			t.AddRow(b.Cluster, b.ID, fmt.Sprint(b.Packs), countCell(b.Missing), countCell(b.Corrupt), countCell(b.Unreadable), result)
		}
		if err := t.Render(indented(w), s); err != nil {
			return err
		}
	}
	if len(rep.ManifestErrors) > 0 {
		p.line("%s", s.Bad.Render(fmt.Sprintf("Manifests that cannot be read (%d); their backups cannot be restored:", len(rep.ManifestErrors))))
		for _, e := range rep.ManifestErrors {
			p.line("  %s", e)
		}
	}
	verdict := s.Good.Render("every pack is there and matches its SHA-256")
	if !rep.Healthy() {
		verdict = s.Bad.Render("problems found")
	}
	p.line("Checked %s (%s) of %s in %s: %d OK, %d missing, %d corrupt, %d unreadable: %s.",
		Count(rep.Packs, "pack"), Bytes(rep.Bytes), Count(len(rep.Backups), "backup"), Duration(rep.Duration),
		rep.OK, rep.Missing, rep.Corrupt, rep.Unreadable, verdict)
	return p.err
}
