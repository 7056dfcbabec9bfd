package ui

import (
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/kbackup/kbackup/core/fleet"
	"github.com/kbackup/kbackup/core/fleetview"
	"github.com/kbackup/kbackup/core/prune"
	"github.com/kbackup/kbackup/core/retention"
)

// RenderClusterEntries writes the registry as a table.
func RenderClusterEntries(w io.Writer, s *Styles, entries []*fleet.ClusterEntry, now time.Time) error {
	if len(entries) == 0 {
		_, err := fmt.Fprintln(w, "No clusters are registered.")
		return err
	}
	t := &Table{Headers: []string{"NAME", "ENVIRONMENT", "REGION", "PRIORITY", "PROVIDER", "KUBERNETES", "RETENTION", "LAST SEEN"}}
	for _, e := range entries {
		t.AddRow(e.Name, orDash(e.Environment), orDash(e.Region), strconv.Itoa(e.Priority), orDash(e.Provider),
			orDash(e.KubernetesVersion), retentionText(e.Retention), Age(e.LastSeen, now))
	}
	return t.Render(w, s)
}

// RenderClusterEntry writes one registry entry as kubectl describe would.
func RenderClusterEntry(w io.Writer, s *Styles, e *fleet.ClusterEntry, now time.Time) error {
	p := &printer{w: w}
	kv := &keyValues{}
	kv.add("Name", e.Name)
	kv.add("UID", e.UID)
	kv.add("Server", orDash(e.Server))
	kv.add("Kubernetes", fmt.Sprintf("%s, distribution %s, provider %s", orDash(e.KubernetesVersion), orDash(e.Distribution), orDash(e.Provider)))
	kv.add("Environment", orDash(e.Environment))
	kv.add("Region", orDash(e.Region))
	kv.add("Priority", strconv.Itoa(e.Priority))
	kv.add("Labels", orDash(labelsText(e.Labels)))
	kv.add("Retention", retentionText(e.Retention))
	kv.add("First seen", fmt.Sprintf("%s (%s ago)", e.FirstSeen.Format(time.RFC3339), Age(e.FirstSeen, now)))
	kv.add("Last seen", fmt.Sprintf("%s (%s ago)", e.LastSeen.Format(time.RFC3339), Age(e.LastSeen, now)))
	kv.write(p, "")
	return p.err
}

func retentionText(r *fleet.RetentionRules) string {
	if r == nil {
		return "-"
	}
	rules, err := retention.FromFleet(nil, *r)
	if err != nil {
		return "invalid"
	}
	return rules.String()
}

// RenderFleetStatus writes `kubectl kbackup clusters`: a row per cluster,
// stale ones marked.
func RenderFleetStatus(w io.Writer, s *Styles, clusters []fleetview.ClusterStatus, now time.Time) error {
	if len(clusters) == 0 {
		_, err := fmt.Fprintln(w, "No clusters in the repository.")
		return err
	}
	t := &Table{Headers: []string{"CLUSTER", "ENVIRONMENT", "REGION", "LAST BACKUP", "LAST SUCCESSFUL", "BACKUPS", "STORED", "FRESHNESS"}}
	for _, c := range clusters {
		name := c.Name
		if !c.Registered {
			name += " (unregistered)"
		}
		last := "-"
		if c.LastBackup != nil {
			last = Age(c.LastBackup.StartedAt, now) + " " + s.Status(string(c.LastBackup.Phase))
		}
		good := "-"
		if c.LastGood != nil {
			good = Age(c.LastGood.StartedAt, now)
		}
		fresh := s.Good.Render("ok")
		if c.Stale {
			fresh = s.Bad.Render("STALE: " + c.StaleReason)
		}
		if c.Error != "" {
			fresh += " " + s.Bad.Render("error: "+c.Error)
		}
		t.AddRow(name, orDash(c.Environment), orDash(c.Region), last, good, strconv.Itoa(c.Backups), Bytes(c.BytesStored), fresh)
	}
	return t.Render(w, s)
}

// RenderPrunePlan writes what a prune keeps and removes, each backup with
// the rules that keep it, then what it frees.
func RenderPrunePlan(w io.Writer, s *Styles, plans []*prune.ClusterPlan, done bool) error {
	p := &printer{w: w}
	var removed int
	var freed int64
	for _, c := range plans {
		if c.Policy != nil {
			p.line("%s %s: %s (from %s)", s.Header.Render("Cluster"), s.Strong.Render(c.Cluster), c.Policy.Description, c.Policy.Source)
		} else {
			p.line("%s %s", s.Header.Render("Cluster"), s.Strong.Render(c.Cluster))
		}
		if c.Skipped != "" {
			p.line("  %s", s.Warn.Render("kept whole: "+c.Skipped))
		}
		if len(c.Decisions) == 0 {
			p.line("  no backups")
			continue
		}
		t := &Table{Headers: []string{"  BACKUP", "STARTED", "PHASE", "ACTION", "KEPT BY"}}
		for _, d := range c.Decisions {
			action := s.Good.Render("keep")
			if !d.Keep {
				action = s.Bad.Render("remove")
				if !done {
					removed++
				}
			}
			reasons := make([]string, len(d.Reasons))
			for i, r := range d.Reasons {
				reasons[i] = r.String()
			}
			t.AddRow("  "+d.ID, d.StartedAt.UTC().Format(time.RFC3339), s.Status(string(d.Phase)), action, orDash(strings.Join(reasons, ", ")))
		}
		if p.err == nil {
			p.err = t.Render(w, s)
		}
		freed += c.BytesFreed
		if done {
			removed += len(c.Removed)
		}
		if c.GCSkipped != "" {
			p.line("  %s", s.Warn.Render("packs not collected: "+c.GCSkipped))
		}
	}
	if done {
		p.line("Removed %s, freed %s.", Count(removed, "backup"), Bytes(freed))
	} else {
		p.line("Would remove %s and free %s.", Count(removed, "backup"), Bytes(freed))
	}
	return p.err
}

// PruneReport is prune's -o json|yaml document.
type PruneReport struct {
	// RunID is the prune's run ID, in its log lines too.
	RunID      string               `json:"runId,omitempty"`
	DryRun     bool                 `json:"dryRun"`
	Clusters   []*prune.ClusterPlan `json:"clusters"`
	Removed    int                  `json:"removed"`
	BytesFreed int64                `json:"bytesFreed"`
}

// NewPruneReport sums the plans up.
func NewPruneReport(plans []*prune.ClusterPlan, dryRun bool) PruneReport {
	r := PruneReport{DryRun: dryRun, Clusters: plans}
	for _, p := range plans {
		r.BytesFreed += p.BytesFreed
		if dryRun {
			r.Removed += len(p.ToRemove())
		} else {
			r.Removed += len(p.Removed)
		}
	}
	return r
}
