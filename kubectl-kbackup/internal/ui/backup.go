package ui

import (
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/kbackup/kbackup/core/backup"
	"github.com/kbackup/kbackup/core/repo"
)

// BackupSummary is a backup as `backup list -o json` shows it: the manifest
// without its packs, which can be thousands.
type BackupSummary struct {
	ID   string `json:"id"`
	Name string `json:"name,omitempty"`
	// RunID is the run that made the backup (in its log lines too).
	RunID       string               `json:"runId,omitempty"`
	Cluster     repo.ClusterIdentity `json:"cluster"`
	Phase       repo.Phase           `json:"phase"`
	StartedAt   time.Time            `json:"startedAt"`
	CompletedAt time.Time            `json:"completedAt"`
	// Duration is CompletedAt - StartedAt, as Go writes durations (4.5s).
	Duration        string               `json:"duration"`
	Stats           repo.Stats           `json:"stats"`
	StorageLocation string               `json:"storageLocation,omitempty"`
	Labels          map[string]string    `json:"labels,omitempty"`
	Errors          []repo.ResourceError `json:"errors,omitempty"`
	Warnings        []string             `json:"warnings,omitempty"`
	Skipped         []repo.SkippedObject `json:"skipped,omitempty"`
}

// NewBackupSummary summarises a manifest.
func NewBackupSummary(m *repo.Manifest) BackupSummary {
	return BackupSummary{
		ID:              m.ID,
		Name:            m.Name,
		RunID:           m.RunID,
		Cluster:         m.Cluster,
		Phase:           m.Phase,
		StartedAt:       m.StartedAt,
		CompletedAt:     m.CompletedAt,
		Duration:        took(m).String(),
		Stats:           m.Stats,
		StorageLocation: m.StorageLocation,
		Labels:          m.Labels,
		Errors:          m.Errors,
		Warnings:        m.Warnings,
		Skipped:         m.Skipped,
	}
}

func took(m *repo.Manifest) time.Duration {
	if m.CompletedAt.IsZero() {
		return -1
	}
	return m.CompletedAt.Sub(m.StartedAt).Round(time.Millisecond)
}

// BackupList is what `backup list -o json` prints.
type BackupList struct {
	Items []BackupSummary `json:"items"`
}

// BackupResult is what `backup create -o json` prints: the backup, and
// where it went.
type BackupResult struct {
	BackupSummary
	// Location is the repository the backup was written to.
	Location string `json:"location"`
	// FallbackUsed says the primary location could not take the backup;
	// FailedLocations say why, in the order tried.
	FallbackUsed    bool             `json:"fallbackUsed"`
	FailedLocations []FailedLocation `json:"failedLocations,omitempty"`
}

// FailedLocation is a location a backup could not be written to.
type FailedLocation struct {
	Location string `json:"location"`
	Error    string `json:"error"`
}

// NewBackupResult describes a finished backup.
func NewBackupResult(res *backup.Result) BackupResult {
	out := BackupResult{
		BackupSummary: NewBackupSummary(res.Manifest),
		Location:      res.Location,
		FallbackUsed:  res.UsedFallback(),
	}
	for _, a := range res.Attempts {
		out.FailedLocations = append(out.FailedLocations, FailedLocation{Location: a.Location.String(), Error: a.Err.Error()})
	}
	return out
}

// RenderBackupResult writes the summary `backup create` ends with.
func RenderBackupResult(w io.Writer, s *Styles, res *backup.Result) error {
	m := res.Manifest
	st := m.Stats
	p := &printer{w: w}
	p.line("Backup %s of cluster %s: %s", s.Strong.Render(m.ID), m.Cluster.Name, s.Status(string(m.Phase)))
	kv := &keyValues{}
	kv.add("Objects", objectsText(m))
	kv.add("Stored", fmt.Sprintf("%s in %s (%s uncompressed)", Bytes(st.BytesStored), Count(st.Packs, "pack"), Bytes(st.RawBytes)))
	kv.add("Uploaded", fmt.Sprintf("%s: %s uploaded, %d reused", Bytes(st.BytesUploaded), Count(st.PacksUploaded, "pack"), st.PacksReused))
	kv.add("Duration", Duration(took(m)))
	kv.add("Location", res.Location)
	if m.RunID != "" {
		kv.add("Run", m.RunID)
	}
	if res.UsedFallback() {
		var why []string
		for _, a := range res.Attempts {
			why = append(why, fmt.Sprintf("%s: %v", a.Location, a.Err))
		}
		kv.add("Fallback", s.Warn.Render("used, since these locations could not take the backup:\n"+strings.Join(why, "\n")))
	}
	kv.write(p, "  ")
	renderProblems(p, s, m)
	if !s.Plain {
		p.line("%s", s.Muted.Render(fmt.Sprintf("See it with: kubectl kbackup backup describe %s", m.ID)))
	}
	return p.err
}

func objectsText(m *repo.Manifest) string {
	st := m.Stats
	text := fmt.Sprintf("%s of %s in %s", Count(st.Objects, "object"), Count(st.ResourceTypes, "type"), Count(st.Namespaces, "namespace"))
	if m.Options.IncludedClusterResources {
		text += ", and cluster-scoped"
	}
	if st.SkippedObjects > 0 {
		text += fmt.Sprintf("; %d skipped", st.SkippedObjects)
	}
	return text
}

// renderProblems lists a backup's errors, skipped objects and warnings.
func renderProblems(p *printer, s *Styles, m *repo.Manifest) {
	if len(m.Errors) > 0 {
		p.line("%s", s.Bad.Render(fmt.Sprintf("Errors (%d):", len(m.Errors))))
		for _, e := range m.Errors {
			where := e.Resource
			if e.Namespace != "" {
				where += " in namespace " + e.Namespace
			}
			p.line("  %s: %s", where, e.Message)
		}
	}
	if len(m.Skipped) > 0 {
		p.line("%s", s.Warn.Render(fmt.Sprintf("Skipped (%d):", len(m.Skipped))))
		for _, sk := range m.Skipped {
			p.line("  %s %s: %s", sk.Resource, qualified(sk.Namespace, sk.Name), sk.Reason)
		}
	}
	if len(m.Warnings) > 0 {
		p.line("%s", s.Muted.Render("Warnings:"))
		for _, w := range m.Warnings {
			p.line("  %s", w)
		}
	}
}

func qualified(namespace, name string) string {
	if namespace == "" {
		return name
	}
	return namespace + "/" + name
}

// RenderBackupList writes backups as a table, oldest first.
func RenderBackupList(w io.Writer, s *Styles, manifests []*repo.Manifest, now time.Time) error {
	t := &Table{Headers: []string{"ID", "CLUSTER", "PHASE", "OBJECTS", "TYPES", "STORED", "UPLOADED", "AGE", "DURATION"}}
	for _, m := range manifests {
		t.AddRow(m.ID, m.Cluster.Name, s.Status(string(m.Phase)),
			fmt.Sprint(m.Stats.Objects), fmt.Sprint(m.Stats.ResourceTypes),
			Bytes(m.Stats.BytesStored), Bytes(m.Stats.BytesUploaded),
			Age(m.StartedAt, now), Duration(took(m)))
	}
	return t.Render(w, s)
}

// printer writes lines and keeps the first error. Every line goes through
// Sanitize, since most of what is shown comes from a repository or a cluster.
type printer struct {
	w   io.Writer
	err error
}

func (p *printer) line(format string, args ...any) {
	if p.err == nil {
		_, p.err = io.WriteString(p.w, Sanitize(fmt.Sprintf(format, args...))+"\n")
	}
}

// keyValues writes "Key:  value" lines with the values aligned, as kubectl
// describe does; a value of several lines is indented under its first.
type keyValues struct {
	keys, values []string
}

func (kv *keyValues) add(key, value string) {
	kv.keys = append(kv.keys, key)
	kv.values = append(kv.values, value)
}

func (kv *keyValues) write(p *printer, indent string) {
	width := 0
	for _, k := range kv.keys {
		width = max(width, len(k)+1)
	}
	for i, k := range kv.keys {
		pad := strings.Repeat(" ", width-(len(k)+1)+2)
		value := strings.ReplaceAll(kv.values[i], "\n", "\n"+indent+strings.Repeat(" ", width+2))
		p.line("%s%s:%s%s", indent, k, pad, value)
	}
}
