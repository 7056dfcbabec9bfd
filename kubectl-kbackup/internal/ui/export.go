package ui

import (
	"fmt"
	"io"
	"strings"

	"github.com/kbackup/kbackup/core/export"
)

// RenderExport writes what an export wrote (or, with --check, would
// write): the files created, updated and deleted, the Secrets left out or
// written (names and key names only), the objects left out per reason, and
// a summary line.
func RenderExport(w io.Writer, s *Styles, res *export.Result) error {
	p := &printer{w: w}
	verb := map[string]string{"created": "Created", "updated": "Updated", "deleted": "Deleted"}
	if res.Check {
		verb = map[string]string{"created": "Would create", "updated": "Would update", "deleted": "Would delete"}
	}
	for _, group := range []struct {
		key   string
		paths []string
	}{{"created", res.Created}, {"updated", res.Updated}, {"deleted", res.Deleted}} {
		if len(group.paths) == 0 {
			continue
		}
		p.line("%s", s.Header.Render(fmt.Sprintf("%s (%d):", verb[group.key], len(group.paths))))
		for _, path := range group.paths {
			p.line("  %s", Sanitize(path))
		}
	}
	if len(res.Secrets) > 0 {
		title := fmt.Sprintf("Secrets left out (%d), listed with how to supply each in SECRETS.md:", len(res.Secrets))
		if res.SecretsIncluded {
			title = fmt.Sprintf("Secrets written with their values (%d):", len(res.Secrets))
		}
		p.line("%s", s.Header.Render(title))
		if p.err != nil {
			return p.err
		}
		t := &Table{Headers: []string{"NAMESPACE", "NAME", "TYPE", "KEYS"}}
		for _, sec := range res.Secrets {
			t.AddRow(sec.Namespace, sec.Name, sec.Type, strings.Join(sec.Keys, ","))
		}
		if err := t.Render(indented(w), s); err != nil {
			return err
		}
	}
	if len(res.Left) > 0 {
		reasons := map[string]int{}
		var order []string
		for _, l := range res.Left {
			key := l.Resource + "\x00" + l.Reason
			if reasons[key] == 0 {
				order = append(order, key)
			}
			reasons[key]++
		}
		p.line("%s", s.Muted.Render(fmt.Sprintf("Left out (%d), made in the target by a controller or the API server:", len(res.Left))))
		if p.err != nil {
			return p.err
		}
		t := &Table{Headers: []string{"TYPE", "OBJECTS", "WHY"}}
		for _, key := range order {
			resource, reason, _ := strings.Cut(key, "\x00")
			t.AddRow(resource, fmt.Sprint(reasons[key]), reason)
		}
		if err := t.Render(indented(w), s); err != nil {
			return err
		}
	}
	for _, warn := range res.Warnings {
		p.line("%s %s", s.Bad.Render("Warning:"), Sanitize(warn))
	}
	what := fmt.Sprintf("%s (%d cluster-scoped) of %s", Count(res.Objects, "object"), res.ClusterObjects, Count(len(res.Namespaces), "namespace"))
	changes := fmt.Sprintf("%d created, %d updated, %d deleted, %d unchanged", len(res.Created), len(res.Updated), len(res.Deleted), res.Unchanged)
	switch {
	case res.Check && res.Drift:
		p.line("Check of %s against backup %s of cluster %s: %s: %s.", Sanitize(res.Dir), res.Backup, Sanitize(res.Cluster), s.Bad.Render("drift"), changes)
	case res.Check:
		p.line("Check of %s against backup %s of cluster %s: %s, %s.", Sanitize(res.Dir), res.Backup, Sanitize(res.Cluster), s.Good.Render("up to date"), what)
	default:
		p.line("Exported %s from backup %s of cluster %s into %s (%s, %s): %s.", what, res.Backup, Sanitize(res.Cluster),
			Sanitize(res.Dir), res.Format, Count(res.Files, "file"), changes)
	}
	return p.err
}
