package ui

import (
	"fmt"
	"io"

	"github.com/kbackup/kbackup/core/repo"
)

// DeleteReport is what `backup delete -o json` prints.
type DeleteReport struct {
	Backup  string `json:"backup"`
	Cluster string `json:"cluster"`
	DryRun  bool   `json:"dryRun"`
	// Manifest is the key of the deleted manifest; empty in a dry run.
	Manifest string `json:"manifest,omitempty"`
	// Packs are the keys of the packs deleted, or to be deleted.
	Packs        []string `json:"packs"`
	BytesDeleted int64    `json:"bytesDeleted"`
	// Referenced counts the packs kept because another backup names them;
	// KeptYoung those kept because they are younger than the grace period.
	Referenced     int    `json:"referenced"`
	KeptYoung      int    `json:"keptYoung"`
	SkippedBecause string `json:"skippedBecause,omitempty"`
}

// NewDeleteReport describes what a delete did or would do.
func NewDeleteReport(m *repo.Manifest, r *repo.GCReport, dryRun bool) DeleteReport {
	out := DeleteReport{
		Backup: m.ID, Cluster: m.Cluster.Name, DryRun: dryRun, Manifest: r.DeletedManifest,
		Packs: []string{}, BytesDeleted: r.BytesDeleted, Referenced: r.Referenced, KeptYoung: r.KeptYoung,
		SkippedBecause: r.SkippedBecause,
	}
	for _, o := range r.Deleted {
		out.Packs = append(out.Packs, o.Key)
	}
	return out
}

// RenderDeletePlan says what deleting a backup will remove, before asking.
func RenderDeletePlan(w io.Writer, m *repo.Manifest, plan *repo.GCReport) error {
	_, err := fmt.Fprintf(w, "Backup %s of cluster %s (%s, %s, started %s) will be deleted, with %s (%s) that no other backup uses.\n",
		m.ID, m.Cluster.Name, m.Phase, Count(m.Stats.Objects, "object"), m.StartedAt.Format("2006-01-02 15:04:05Z07:00"),
		Count(len(plan.Deleted), "pack"), Bytes(plan.BytesDeleted))
	return err
}

// RenderDeleteReport says what a delete did, or, in a dry run, would do.
func RenderDeleteReport(w io.Writer, s *Styles, m *repo.Manifest, r *repo.GCReport, dryRun bool) error {
	p := &printer{w: w}
	if dryRun {
		p.line("Deleting backup %s of cluster %s would remove its manifest and %s (%s) that no other backup uses.",
			m.ID, m.Cluster.Name, Count(len(r.Deleted), "pack"), Bytes(r.BytesDeleted))
	} else {
		p.line("Deleted backup %s of cluster %s: removed %s (%s).", s.Strong.Render(m.ID), m.Cluster.Name, Count(len(r.Deleted), "pack"), Bytes(r.BytesDeleted))
	}
	p.line("  Kept: %s that other backups use, %s younger than the grace period (a running backup may use them).",
		Count(r.Referenced, "pack"), Count(r.KeptYoung, "pack"))
	if r.SkippedBecause != "" {
		p.line("  No pack removed: %s", r.SkippedBecause)
	}
	return p.err
}
