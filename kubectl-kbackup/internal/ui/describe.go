package ui

import (
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/kbackup/kbackup/core/catalog"
	"github.com/kbackup/kbackup/core/repo"
)

// PackDetail is one pack of a backup as `describe --details` read it: the
// names of its objects, or why it could not be read.
type PackDetail = catalog.PackContent

// RenderBackupDescription writes a backup as `kubectl describe` writes an
// object: identity, phase, options, statistics, what it holds per namespace
// and type, and its problems. details, when not nil, adds every pack's
// objects as read from the repository.
func RenderBackupDescription(w io.Writer, s *Styles, m *repo.Manifest, details []PackDetail, now time.Time) error {
	p := &printer{w: w}
	kv := &keyValues{}
	kv.add("ID", m.ID)
	if m.Name != "" && m.Name != m.ID {
		kv.add("Name", m.Name)
	}
	c := m.Cluster
	if m.RunID != "" {
		kv.add("Run", m.RunID)
	}
	kv.add("Cluster", fmt.Sprintf("%s (name from %s)", c.Name, orDash(c.NameSource)))
	kv.add("Cluster UID", c.UID)
	kv.add("Server", orDash(c.Server))
	kv.add("Kubernetes", fmt.Sprintf("%s, distribution %s, provider %s", orDash(c.KubernetesVersion), orDash(c.Distribution), orDash(c.Provider)))
	kv.add("Phase", s.Status(string(m.Phase)))
	kv.add("Started", fmt.Sprintf("%s (%s ago)", m.StartedAt.Format(time.RFC3339), Age(m.StartedAt, now)))
	if !m.CompletedAt.IsZero() {
		kv.add("Completed", fmt.Sprintf("%s (took %s)", m.CompletedAt.Format(time.RFC3339), Duration(took(m))))
	}
	kv.add("Location", orDash(m.StorageLocation))
	if len(m.Labels) > 0 {
		kv.add("Labels", labelsText(m.Labels))
	}
	kv.write(p, "")

	p.line("%s", s.Header.Render("Options:"))
	o := m.Options
	opts := &keyValues{}
	opts.add("Namespaces", selectionText(o.IncludeNamespaces, o.ExcludeNamespaces, "all"))
	opts.add("Resources", selectionText(o.IncludeResources, o.ExcludeResources, "all but those left out by default"))
	opts.add("Label selector", orDash(o.LabelSelector))
	clusterScoped := "left out"
	if o.IncludedClusterResources {
		clusterScoped = "included"
	}
	opts.add("Cluster resources", fmt.Sprintf("%s (%s)", orDash(string(o.ClusterResources)), clusterScoped))
	if o.MaxResourceSize > 0 {
		opts.add("Max resource size", Bytes(o.MaxResourceSize))
	}
	opts.add("Skip invalid", fmt.Sprint(o.SkipInvalid))
	if o.BatchSize > 0 {
		opts.add("Page size", fmt.Sprint(o.BatchSize))
	}
	opts.write(p, "  ")

	p.line("%s", s.Header.Render("Statistics:"))
	st := m.Stats
	stats := &keyValues{}
	stats.add("Objects", objectsText(m))
	stats.add("Stored", fmt.Sprintf("%s in %s (%s uncompressed)", Bytes(st.BytesStored), Count(st.Packs, "pack"), Bytes(st.RawBytes)))
	stats.add("Uploaded", fmt.Sprintf("%s: %s uploaded, %d reused from earlier backups", Bytes(st.BytesUploaded), Count(st.PacksUploaded, "pack"), st.PacksReused))
	stats.write(p, "  ")

	p.line("%s", s.Header.Render("Contents:"))
	if p.err != nil {
		return p.err
	}
	t := &Table{Headers: []string{"NAMESPACE", "RESOURCE", "OBJECTS", "STORED"}}
	for _, c := range catalog.Counts(m) {
		t.AddRow(namespaceText(c.Namespace), c.Resource, fmt.Sprint(c.Objects), Bytes(c.Bytes))
	}
	if err := t.Render(indented(w), s); err != nil {
		return err
	}
	renderProblems(p, s, m)

	if details != nil {
		p.line("%s", s.Header.Render("Objects (every pack read from the repository and checked):"))
		for _, d := range details {
			status := s.Good.Render("ok")
			if d.Err != nil {
				status = s.Bad.Render("CORRUPT or unreadable: " + d.Err.Error())
			}
			p.line("  %s %s, pack %s: %s", namespaceText(d.Pack.Namespace), d.Pack.Resource, d.Pack.Key, status)
			for _, name := range d.Objects {
				p.line("    %s", name)
			}
		}
	}
	return p.err
}

// namespaceText names cluster-scoped objects in a NAMESPACE column as
// kubectl leaves them: empty would be unreadable in a plain table.
func namespaceText(ns string) string {
	if ns == "" {
		return "<cluster>"
	}
	return ns
}

func selectionText(include, exclude []string, all string) string {
	text := all
	if len(include) > 0 {
		text = strings.Join(include, ", ")
	}
	if len(exclude) > 0 {
		text += "; except " + strings.Join(exclude, ", ")
	}
	return text
}

func labelsText(labels map[string]string) string {
	var parts []string
	for k, v := range labels {
		parts = append(parts, k+"="+v)
	}
	slices.Sort(parts)
	return strings.Join(parts, ",")
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// indented writes through w with every line indented by two spaces.
func indented(w io.Writer) io.Writer { return &indentWriter{w: w, start: true} }

type indentWriter struct {
	w     io.Writer
	start bool
}

func (iw *indentWriter) Write(b []byte) (int, error) {
	var out []byte
	for _, c := range b {
		if iw.start {
			out = append(out, ' ', ' ')
			iw.start = false
		}
		out = append(out, c)
		if c == '\n' {
			iw.start = true
		}
	}
	if _, err := iw.w.Write(out); err != nil {
		return 0, err
	}
	return len(b), nil
}
