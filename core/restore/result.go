package restore

import (
	"cmp"
	"iter"
	"slices"
	"strings"
	"time"
)

// RecordFormatVersion is the version of the restore record, Result as
// stored at <cluster>/_restores/<id>.json.
const RecordFormatVersion = 1

// Outcome is what happened to one object.
type Outcome string

const (
	// Created: the object did not exist and was created (or, in a dry
	// run, would have been, and the server accepted it).
	Created Outcome = "Created"
	// Updated: the object existed, differed, and was updated by
	// server-side apply (policy update).
	Updated Outcome = "Updated"
	// Unchanged: the object exists and equals the backup after cleaning.
	Unchanged Outcome = "Unchanged"
	// Skipped: left alone; Reason says why (it exists and differs under
	// policy skip, its controller recreates it, no cluster takes it back,
	// ...).
	Skipped Outcome = "Skipped"
	// Failed: the target refused it, or it could not be sent; Error says
	// why.
	Failed Outcome = "Failed"
)

// Outcomes in the order tables show them.
var Outcomes = []Outcome{Created, Updated, Unchanged, Skipped, Failed}

// Phase is how a restore ended.
type Phase string

const (
	// PhaseCompleted: no object failed.
	PhaseCompleted Phase = "Completed"
	// PhasePartiallyFailed: some objects failed; the rest were restored.
	PhasePartiallyFailed Phase = "PartiallyFailed"
	// PhaseFailed: every object that was tried failed, or the restore was
	// cancelled.
	PhaseFailed Phase = "Failed"
)

// ObjectResult is what happened to one object.
type ObjectResult struct {
	Stage    Stage  `json:"stage"`
	Resource string `json:"resource"`
	Kind     string `json:"kind"`
	// Namespace is the object's namespace in the target; SourceNamespace
	// its namespace in the backup, when a mapping changed it.
	Namespace       string  `json:"namespace,omitempty"`
	SourceNamespace string  `json:"sourceNamespace,omitempty"`
	Name            string  `json:"name"`
	Outcome         Outcome `json:"outcome"`
	// Reason says why an object was skipped, or how it came to be
	// Unchanged or Updated.
	Reason string `json:"reason,omitempty"`
	// Error is the target's answer to a Failed object.
	Error string `json:"error,omitempty"`
	// Diff is, for an object that existed and differed, the unified diff
	// from the backup (cleaned, mapped) to the live object as it was.
	Diff string `json:"diff,omitempty"`
	// Notes are changes made to fit the target: owner references
	// re-pointed or dropped, a claim's volume name dropped.
	Notes []string `json:"notes,omitempty"`
	// Duration of the requests for this object, retries included.
	Duration time.Duration `json:"durationNanos,omitempty"`
}

// Counts are objects per outcome.
type Counts struct {
	Total     int `json:"total"`
	Created   int `json:"created"`
	Updated   int `json:"updated"`
	Unchanged int `json:"unchanged"`
	Skipped   int `json:"skipped"`
	Failed    int `json:"failed"`
}

// Add counts one outcome.
func (c *Counts) Add(o Outcome) {
	c.Total++
	switch o {
	case Created:
		c.Created++
	case Updated:
		c.Updated++
	case Unchanged:
		c.Unchanged++
	case Skipped:
		c.Skipped++
	case Failed:
		c.Failed++
	}
}

// Of returns the count of one outcome.
func (c Counts) Of(o Outcome) int {
	switch o {
	case Created:
		return c.Created
	case Updated:
		return c.Updated
	case Unchanged:
		return c.Unchanged
	case Skipped:
		return c.Skipped
	case Failed:
		return c.Failed
	}
	return 0
}

// GroupCounts are the outcomes of one resource type in one namespace ("" for
// cluster-scoped).
type GroupCounts struct {
	Namespace string `json:"namespace,omitempty"`
	Resource  string `json:"resource"`
	Counts
}

// StageResult is one stage as it ran.
type StageResult struct {
	Stage     Stage         `json:"stage"`
	Objects   int           `json:"objects"`
	StartedAt time.Time     `json:"startedAt"`
	Duration  time.Duration `json:"durationNanos"`
	// Waited is how long the stage waited after its objects (for
	// CustomResourceDefinitions to be Established).
	Waited time.Duration `json:"waitedNanos,omitempty"`
}

// BackupRef names the backup a restore came from.
type BackupRef struct {
	Cluster   string    `json:"cluster"`
	ID        string    `json:"id"`
	StartedAt time.Time `json:"startedAt"`
	// Location is the repository, without credentials.
	Location string `json:"location,omitempty"`
}

// TargetRef names the cluster restored into.
type TargetRef struct {
	// Name is the target's cluster name, under which the record is kept.
	Name              string `json:"name"`
	UID               string `json:"uid"`
	Server            string `json:"server,omitempty"`
	KubernetesVersion string `json:"kubernetesVersion,omitempty"`
	ContextName       string `json:"contextName,omitempty"`
}

// Result is what a restore did, object by object. Stored as JSON, it is the
// restore record.
type Result struct {
	FormatVersion int    `json:"formatVersion"`
	ID            string `json:"id"`
	// RunID is the ID of the command that ran the restore, which its log
	// lines carry too.
	RunID       string    `json:"runId,omitempty"`
	Backup      BackupRef `json:"backup"`
	Target      TargetRef `json:"target"`
	DryRun      bool      `json:"dryRun,omitempty"`
	Phase       Phase     `json:"phase"`
	Options     Options   `json:"options"`
	StartedAt   time.Time `json:"startedAt"`
	CompletedAt time.Time `json:"completedAt"`
	// Totals count every object; Counts per namespace and type, sorted.
	Totals   Counts        `json:"totals"`
	Counts   []GroupCounts `json:"counts"`
	Stages   []StageResult `json:"stages"`
	Warnings []string      `json:"warnings,omitempty"`
	// Objects lists every object of the plan, in the order applied.
	Objects []ObjectResult `json:"objects"`
	// RecordKey is where the record was written ("" for a dry run or when
	// writing failed).
	RecordKey string `json:"-"`
}

// Duration is how long the restore took.
func (r *Result) Duration() time.Duration { return r.CompletedAt.Sub(r.StartedAt) }

// Rate is the objects applied per second (created, updated and unchanged,
// over the time spent applying).
func (r *Result) Rate() float64 {
	d := r.Duration().Seconds()
	if d <= 0 {
		return 0
	}
	return float64(r.Totals.Created+r.Totals.Updated+r.Totals.Unchanged) / d
}

// With returns the results of one outcome.
func (r *Result) With(o Outcome) []ObjectResult {
	var out []ObjectResult
	for _, obj := range r.Objects {
		if obj.Outcome == o {
			out = append(out, obj)
		}
	}
	return out
}

// groupCounts sums outcomes per namespace and type, sorted by namespace
// (cluster-scoped first) and type.
func groupCounts(objs iter.Seq[ObjectResult]) (Counts, []GroupCounts) {
	var totals Counts
	byKey := map[[2]string]*GroupCounts{}
	for o := range objs {
		totals.Add(o.Outcome)
		key := [2]string{o.Namespace, o.Resource}
		g, ok := byKey[key]
		if !ok {
			g = &GroupCounts{Namespace: o.Namespace, Resource: o.Resource}
			byKey[key] = g
		}
		g.Add(o.Outcome)
	}
	groups := make([]GroupCounts, 0, len(byKey))
	for _, g := range byKey {
		groups = append(groups, *g)
	}
	slices.SortFunc(groups, func(a, b GroupCounts) int {
		return cmp.Or(strings.Compare(a.Namespace, b.Namespace), strings.Compare(a.Resource, b.Resource))
	})
	return totals, groups
}

// SizeHint is about the size of the record's JSON, a little over rather
// than under, so that the repository encodes it into one buffer
// (repo.RecordSizeHinter).
func (r *Result) SizeHint() int {
	n := 4096 + 128*len(r.Counts) + 256*len(r.Stages)
	for _, w := range r.Warnings {
		n += len(w) + 8
	}
	for _, o := range r.Objects {
		// The keys and punctuation of an object result take about 160 bytes.
		n += 192 + len(o.Stage) + len(o.Resource) + len(o.Kind) + len(o.Namespace) + len(o.SourceNamespace) +
			len(o.Name) + len(o.Outcome) + len(o.Reason) + len(o.Error) + len(o.Diff)
		for _, note := range o.Notes {
			n += len(note) + 8
		}
	}
	return n
}
