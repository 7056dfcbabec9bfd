package repo

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/kbackup/kbackup/core/storage"
)

// ClusterSummary is _fleet/summaries/<cluster>.json: what a cluster's
// manifests say, in one small object, so that a view of the whole fleet
// reads one object per cluster instead of every manifest. It is a cache:
// the manifests are the truth. A summary is current when its backup IDs
// are exactly the manifests listed under the cluster; a reader that finds
// it missing or not current rebuilds it from the manifests
// (CurrentSummary). They are under _fleet/ rather than beside each
// cluster's manifests so that one listing finds every cluster that has
// backups, registered or not.
type ClusterSummary struct {
	FormatVersion int    `json:"formatVersion"`
	Cluster       string `json:"cluster"`
	// UpdatedAt is when the summary was written, by the writer's clock.
	UpdatedAt time.Time `json:"updatedAt"`
	// Backups are the cluster's backups, oldest first.
	Backups []BackupSummary `json:"backups"`
	// BytesStored is the stored size of the packs the backups reference,
	// each pack counted once however many backups share it.
	BytesStored int64 `json:"bytesStored"`
	// Packs is the number of those packs.
	Packs int `json:"packs"`
	// Unreadable counts manifests that could not be read when the summary
	// was built; their backups are not in Backups.
	Unreadable int `json:"unreadable,omitempty"`
	// Journaled says the summary was written under the pending-change
	// protocol (docs/repository-format.md §10b): while no pending change
	// of the cluster is stored, it names exactly the cluster's manifests,
	// and a reader may use it without listing them.
	Journaled bool `json:"journaled,omitempty"`
	// Entry is a copy of what a view of the fleet shows of the cluster's
	// registry entry, valid while the entry's ETag is the one recorded.
	Entry *SummaryEntry `json:"entry,omitempty"`
}

// SummaryEntry is the part of a registry entry that a view of the fleet
// shows, with the ETag of the entry it was copied from.
type SummaryEntry struct {
	ETag        string `json:"etag"`
	Environment string `json:"environment,omitempty"`
	Region      string `json:"region,omitempty"`
	Priority    int    `json:"priority,omitempty"`
}

// BackupSummary is one backup in a ClusterSummary.
type BackupSummary struct {
	ID          string    `json:"id"`
	Phase       Phase     `json:"phase"`
	StartedAt   time.Time `json:"startedAt"`
	CompletedAt time.Time `json:"completedAt"`
	Objects     int       `json:"objects"`
	// BytesStored is the manifest's: every pack it references.
	BytesStored int64 `json:"bytesStored"`
}

func summarize(m *Manifest) BackupSummary {
	return BackupSummary{ID: m.ID, Phase: m.Phase, StartedAt: m.StartedAt, CompletedAt: m.CompletedAt, Objects: m.Stats.Objects, BytesStored: m.Stats.BytesStored}
}

// Latest is the newest backup, and the newest that did not fail; nil
// when there is none.
func (s *ClusterSummary) Latest() (last, lastGood *BackupSummary) {
	for i := len(s.Backups) - 1; i >= 0; i-- {
		b := &s.Backups[i]
		if last == nil {
			last = b
		}
		if b.Phase != PhaseFailed {
			return last, b
		}
	}
	return last, nil
}

func (s *ClusterSummary) ids() []string {
	ids := make([]string, len(s.Backups))
	for i, b := range s.Backups {
		ids[i] = b.ID
	}
	slices.Sort(ids)
	return ids
}

func (s *ClusterSummary) sortBackups() {
	slices.SortFunc(s.Backups, func(a, b BackupSummary) int {
		if c := a.StartedAt.Compare(b.StartedAt); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
}

func (s *ClusterSummary) validate(cluster string) error {
	switch {
	case s.FormatVersion != FormatVersion:
		return fmt.Errorf("formatVersion %d; want %d", s.FormatVersion, FormatVersion)
	case s.Cluster != cluster:
		return fmt.Errorf("it summarizes cluster %q", s.Cluster)
	case s.BytesStored < 0 || s.Packs < 0 || s.Unreadable < 0:
		return errors.New("a count or size is negative")
	}
	seen := map[string]bool{}
	for i, b := range s.Backups {
		if err := ValidateBackupID(b.ID); err != nil {
			return fmt.Errorf("backups[%d]: %v", i, err)
		}
		if seen[b.ID] {
			return fmt.Errorf("backups[%d]: backup %s is listed twice", i, b.ID)
		}
		seen[b.ID] = true
		switch b.Phase {
		case PhaseCompleted, PhasePartiallyFailed, PhaseFailed:
		default:
			return fmt.Errorf("backups[%d]: phase %q", i, b.Phase)
		}
	}
	return nil
}

// ReadSummary reads a cluster's stored summary, as it is: current or not.
// storage.ErrNotFound when there is none; ErrCorrupt when it does not
// pass the checks.
func (r *Repository) ReadSummary(ctx context.Context, cluster string) (*ClusterSummary, error) {
	if err := ValidateClusterName(cluster); err != nil {
		return nil, err
	}
	key := r.layout.Summary(cluster)
	data, err := r.backend.Get(ctx, key)
	if err != nil {
		return nil, err
	}
	if v, err := formatVersionOf(data); err == nil && v > FormatVersion {
		return nil, fmt.Errorf("cluster summary %s in %s: %w: format version %d; this kbackup reads version %d",
			key, r.backend, ErrUnsupportedFormat, v, FormatVersion)
	}
	s := new(ClusterSummary)
	if err := decodeStrict(data, s); err != nil {
		return nil, fmt.Errorf("cluster summary %s in %s: %w: %v", key, r.backend, ErrCorrupt, err)
	}
	if err := s.validate(cluster); err != nil {
		return nil, fmt.Errorf("cluster summary %s in %s: %w: %v", key, r.backend, ErrCorrupt, err)
	}
	return s, nil
}

func (r *Repository) writeSummary(ctx context.Context, s *ClusterSummary) error {
	s.FormatVersion = FormatVersion
	s.UpdatedAt = time.Now().UTC()
	s.sortBackups()
	s.Entry = r.copyEntry(ctx, s.Cluster)
	data, err := marshalJSON(s)
	if err != nil {
		return err
	}
	return r.backend.Put(ctx, r.layout.Summary(s.Cluster), data)
}

// SummaryClusters lists the clusters that have a summary: with the
// registry, every cluster that has committed a backup since summaries
// exist.
func (r *Repository) SummaryClusters(ctx context.Context) ([]string, error) {
	var names []string
	for obj, err := range r.backend.List(ctx, r.layout.Summaries()) {
		if err != nil {
			return nil, err
		}
		if info, err := r.layout.Parse(obj.Key); err == nil && info.Kind == KindSummary {
			names = append(names, info.Cluster)
		}
	}
	return names, nil
}

// SummaryState says how CurrentSummary found the stored summary.
type SummaryState string

// States of a stored summary.
const (
	SummaryCurrent SummaryState = "current"
	SummaryMissing SummaryState = "missing"
	SummaryStale   SummaryState = "stale"
	SummaryCorrupt SummaryState = "corrupt"
)

// CurrentSummary returns a cluster's summary, checked against the listing
// of its manifests (one LIST and one GET when the stored one is current).
// When it is missing, unreadable, or does not cover exactly the listed
// manifests (a writer died between its manifest and its summary, two
// writers raced, a backup was deleted), it is rebuilt from the manifests
// and written back under the pending-change protocol; a failed write back
// is not an error, since the next reader rebuilds it again. Pending
// changes this process finished for the cluster are settled by it.
func (r *Repository) CurrentSummary(ctx context.Context, cluster string) (*ClusterSummary, SummaryState, error) {
	if err := ValidateClusterName(cluster); err != nil {
		return nil, "", err
	}
	return r.settleSummary(ctx, cluster, nil, nil)
}

// RebuildSummary builds a cluster's summary from its manifests and stores
// it under the pending-change protocol. Manifests that cannot be read are
// counted, not summarized.
func (r *Repository) RebuildSummary(ctx context.Context, cluster string) (*ClusterSummary, error) {
	if err := ValidateClusterName(cluster); err != nil {
		return nil, err
	}
	s, _, err := r.settleSummary(ctx, cluster, func(*ClusterSummary, []storage.ObjectInfo) *ClusterSummary { return nil }, nil)
	return s, err
}

// buildSummary builds a cluster's summary from its manifests, without
// storing it.
func (r *Repository) buildSummary(ctx context.Context, cluster string) (*ClusterSummary, error) {
	manifests, err := r.readManifests(ctx, cluster)
	var unreadable *UnreadableManifestsError
	if err != nil && !errors.As(err, &unreadable) {
		return nil, err
	}
	s := &ClusterSummary{Cluster: cluster}
	if unreadable != nil {
		s.Unreadable = len(unreadable.Manifests)
	}
	packs := map[string]bool{}
	for _, m := range manifests {
		s.Backups = append(s.Backups, summarize(m))
		for _, p := range m.Packs {
			if !packs[p.Key] {
				packs[p.Key] = true
				s.BytesStored += p.Size
				s.Packs++
			}
		}
	}
	return s, nil
}

// summaryClockSkew is how far the storage's clock and ours may disagree
// when RecordBackup decides whether a manifest is newer than the packs
// a backup was told about.
const summaryClockSkew = time.Minute

// RecordBackup adds a just committed backup to its cluster's summary and
// settles the pending change CommitBackup wrote for it. knownSince is when
// the backup read the cluster's stored packs (KnownPacks): the packs it
// uploaded are then exactly those no earlier manifest references, and the
// summary grows by them. When anything else changed the cluster's
// manifests since then, or the stored summary is not current, it rebuilds
// the summary from the manifests instead. Errors are returned for the
// caller to log: the backup is committed either way, and while the pending
// change stays, readers check the summary against the manifests.
func (r *Repository) RecordBackup(ctx context.Context, m *Manifest, knownSince time.Time) error {
	incremental := func(stored *ClusterSummary, objects []storage.ObjectInfo) *ClusterSummary {
		var others []string
		for _, obj := range objects {
			info, err := r.layout.Parse(obj.Key)
			if err != nil || info.Name == m.ID {
				continue
			}
			others = append(others, info.Name)
			if obj.ModTime.After(knownSince.Add(-summaryClockSkew)) {
				return nil
			}
		}
		slices.Sort(others)
		if stored == nil || stored.Unreadable > 0 || !slices.Equal(stored.ids(), others) ||
			stored.UpdatedAt.After(knownSince.Add(-summaryClockSkew)) {
			return nil
		}
		next := *stored
		next.Backups = append(slices.Clone(stored.Backups), summarize(m))
		next.BytesStored += m.Stats.BytesUploaded
		next.Packs += m.Stats.PacksUploaded
		return &next
	}
	_, _, err := r.settleSummary(ctx, m.Cluster.Name, incremental, nil)
	return err
}
