package ui

import (
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/kbackup/kbackup/core/backup"
	"github.com/kbackup/kbackup/core/fleetrun"
)

// FleetRunResult is what `backup create --contexts/--all-contexts/--fleet
// -o json` prints: the run, and one entry per cluster as the table shows.
type FleetRunResult struct {
	RunID       string    `json:"runId"`
	StartedAt   time.Time `json:"startedAt"`
	CompletedAt time.Time `json:"completedAt"`
	// Duration is CompletedAt - StartedAt, as Go writes durations.
	Duration    string               `json:"duration"`
	Concurrency int                  `json:"concurrency"`
	Completed   int                  `json:"completed"`
	Clusters    []FleetClusterResult `json:"clusters"`
	// StorageFailures are the repository locations that failed during the
	// run; later backups went to the next fallback.
	StorageFailures []FailedLocation `json:"storageFailures,omitempty"`
	// NotReached are registered clusters that no context of the kubeconfig
	// reaches (--fleet); Unregistered are contexts whose cluster is not in
	// the registry, left out.
	NotReached   []string `json:"notReached,omitempty"`
	Unregistered []string `json:"unregistered,omitempty"`
}

// FleetClusterResult is one cluster of a fleet run.
type FleetClusterResult struct {
	Cluster       string `json:"cluster"`
	Context       string `json:"context,omitempty"`
	Environment   string `json:"environment,omitempty"`
	Priority      int    `json:"priority,omitempty"`
	Result        string `json:"result"`
	BackupID      string `json:"backupId,omitempty"`
	Objects       int    `json:"objects"`
	BytesUploaded int64  `json:"bytesUploaded"`
	Duration      string `json:"duration"`
	Attempts      int    `json:"attempts"`
	Location      string `json:"location,omitempty"`
	FallbackUsed  bool   `json:"fallbackUsed,omitempty"`
	Error         string `json:"error,omitempty"`
}

// NewFleetRunResult turns a run's result into its document.
func NewFleetRunResult(res *fleetrun.Result, match *fleetrun.RegistryMatch) FleetRunResult {
	out := FleetRunResult{
		RunID: res.RunID, StartedAt: res.StartedAt, CompletedAt: res.CompletedAt,
		Duration: res.CompletedAt.Sub(res.StartedAt).Round(time.Millisecond).String(), Concurrency: res.Concurrency,
		Completed: res.Count(fleetrun.Completed), Clusters: []FleetClusterResult{},
	}
	for _, c := range res.Clusters {
		out.Clusters = append(out.Clusters, FleetClusterResult{
			Cluster: c.Cluster, Context: c.Context, Environment: c.Environment, Priority: c.Priority, Result: string(c.Result),
			BackupID: c.BackupID, Objects: c.Objects, BytesUploaded: c.BytesUploaded, Duration: c.Duration.Round(time.Millisecond).String(),
			Attempts: c.Attempts, Location: c.Location, FallbackUsed: c.FallbackUsed, Error: c.Error,
		})
	}
	for _, f := range res.StorageAttempts {
		out.StorageFailures = append(out.StorageFailures, FailedLocation{Location: f.Location, Error: f.Error})
	}
	if match != nil {
		out.NotReached, out.Unregistered = match.NotReached, match.Unregistered
	}
	return out
}

// RenderFleetRun writes the run's table, one row per cluster, and a line
// that sums it up.
func RenderFleetRun(w io.Writer, s *Styles, r FleetRunResult) error {
	t := &Table{Headers: []string{"CLUSTER", "ENVIRONMENT", "RESULT", "OBJECTS", "UPLOADED", "DURATION", "ERROR"}}
	for _, c := range r.Clusters {
		objects, uploaded := "-", "-"
		if c.BackupID != "" {
			objects, uploaded = fmt.Sprint(c.Objects), Bytes(c.BytesUploaded)
		}
		t.AddRow(c.Cluster, orDash(c.Environment), s.Status(c.Result), objects, uploaded, c.Duration, oneLine(c.Error))
	}
	if err := t.Render(w, s); err != nil {
		return err
	}
	p := &printer{w: w}
	p.line("")
	p.line("Run %s: %d of %s completed in %s.", r.RunID, r.Completed, Count(len(r.Clusters), "cluster"), r.Duration)
	for _, f := range r.StorageFailures {
		p.line("Storage %s failed during the run (%s); the backups after it went to the next fallback.", f.Location, oneLine(f.Error))
	}
	for _, c := range r.Clusters {
		if c.FallbackUsed {
			p.line("Cluster %s was backed up to the fallback %s.", c.Cluster, c.Location)
		}
	}
	if len(r.NotReached) > 0 {
		p.line("Registered but reached by no context of the kubeconfig, not backed up: %s.", strings.Join(r.NotReached, ", "))
	}
	if len(r.Unregistered) > 0 {
		p.line("Contexts whose cluster is not registered, left out: %s.", strings.Join(r.Unregistered, ", "))
	}
	return p.err
}

// oneLine keeps a table cell on one line.
func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}

// FleetProgress draws one line per cluster of a fleet run on a terminal,
// rewritten in place as the run goes; elsewhere it draws nothing (the
// table at the end and the logs say it all).
type FleetProgress struct {
	w       io.Writer
	enabled bool

	mu    sync.Mutex
	lines []string
	names []string
	drawn int
	last  time.Time
}

// NewFleetProgress returns the drawer for w (stderr).
func NewFleetProgress(w io.Writer) *FleetProgress {
	return &FleetProgress{w: w, enabled: IsTerminal(w)}
}

// Handle draws one event. It is safe to call from several goroutines.
func (p *FleetProgress) Handle(e fleetrun.Event) {
	if !p.enabled {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	for len(p.lines) <= e.Index {
		p.lines = append(p.lines, "")
		p.names = append(p.names, "")
	}
	if e.Cluster != "" {
		p.names[e.Index] = e.Cluster
	} else if p.names[e.Index] == "" {
		p.names[e.Index] = e.Context
	}
	p.lines[e.Index] = FleetEventText(e)
	if e.Kind == fleetrun.EventDone || e.Kind == fleetrun.EventQueued || time.Since(p.last) >= 100*time.Millisecond {
		p.redrawLocked()
	}
}

// Finish draws the last state of every line.
func (p *FleetProgress) Finish() {
	if !p.enabled {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.redrawLocked()
}

func (p *FleetProgress) redrawLocked() {
	p.last = time.Now()
	width := 0
	for _, n := range p.names {
		width = max(width, len(n))
	}
	var b strings.Builder
	if p.drawn > 0 {
		fmt.Fprintf(&b, "\x1b[%dA", p.drawn) // back to the first line
	}
	for i, line := range p.lines {
		fmt.Fprintf(&b, "\r\x1b[2K%-*s  %s\n", width, p.names[i], line)
	}
	p.drawn = len(p.lines)
	_, _ = io.WriteString(p.w, b.String())
}

// FleetEventText is a cluster's progress line after event e.
func FleetEventText(e fleetrun.Event) string {
	switch e.Kind {
	case fleetrun.EventQueued:
		return "waiting"
	case fleetrun.EventConnecting:
		return "connecting"
	case fleetrun.EventRetrying:
		return fmt.Sprintf("try %d failed (%s); again in %s", e.Attempt, oneLine(e.Err.Error()), e.Wait.Round(100*time.Millisecond))
	case fleetrun.EventBackup:
		b := e.Backup
		switch b.Kind {
		case backup.EventStorageSwitched:
			return "storage switched: " + oneLine(b.Message)
		case backup.EventCommitted:
			return "committing"
		}
		return fmt.Sprintf("backing up: %d/%d types, %d objects, %s uploaded", b.TypesDone, b.TypesTotal, b.ObjectsDone, Bytes(b.BytesUploaded))
	case fleetrun.EventDone:
		r := e.Result
		if r.BackupID == "" {
			return fmt.Sprintf("%s after %s: %s", r.Result, Duration(r.Duration), oneLine(r.Error))
		}
		return fmt.Sprintf("%s: %d objects, %s uploaded in %s", r.Result, r.Objects, Bytes(r.BytesUploaded), Duration(r.Duration))
	}
	return string(e.Kind)
}
