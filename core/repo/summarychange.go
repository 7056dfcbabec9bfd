package repo

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/cenkalti/backoff/v5"

	"github.com/kbackup/kbackup/core/storage"
)

// The pending-change protocol (docs/repository-format.md §10b and §11)
// makes a cluster's summary trustworthy without listing its manifests:
// every writer that changes a cluster's manifests or writes its summary
// first stores a pending change, _fleet/summaries/<cluster>.<id>.pending, and
// deletes it only after it has written the summary and seen, by a listing
// of the manifests made after that write, that the stored summary names
// exactly the manifests. So while a cluster has no pending change, its
// journaled summary is current; the listing of _fleet/summaries/ tells a
// reader which clusters it must check against their manifests.

// pendingChanges are the pending changes this process stored, by cluster:
// true once the change they announce is done (the manifest is written or
// deleted), so that the next verified summary of the cluster may remove
// them.
type pendingChanges struct {
	mu   sync.Mutex
	keys map[string]map[string]bool // cluster → key → done
}

func (p *pendingChanges) add(cluster, key string, done bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.keys == nil {
		p.keys = map[string]map[string]bool{}
	}
	if p.keys[cluster] == nil {
		p.keys[cluster] = map[string]bool{}
	}
	p.keys[cluster][key] = done
}

// finished are the keys of the cluster's changes that are done.
func (p *pendingChanges) finished(cluster string) []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []string
	for k, done := range p.keys[cluster] {
		if done {
			out = append(out, k)
		}
	}
	return out
}

func (p *pendingChanges) forget(cluster string, keys []string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, k := range keys {
		delete(p.keys[cluster], k)
	}
}

// putPendingChange stores a pending change of a cluster's manifests under
// a new ID (or id, when given) and remembers it as not yet done.
func (r *Repository) putPendingChange(ctx context.Context, cluster, id string) (string, error) {
	if id == "" {
		id = NewID(time.Now())
	}
	key := r.layout.PendingChange(cluster, id)
	data, err := marshalJSON(newMarker(cluster, id))
	if err != nil {
		return "", err
	}
	r.pending.add(cluster, key, false)
	if err := r.backend.Put(ctx, key, data); err != nil {
		r.pending.forget(cluster, []string{key})
		return "", fmt.Errorf("announcing a change of cluster %s's backups in its summary: %w", cluster, err)
	}
	return key, nil
}

// settleSummary brings a cluster's summary up to date and, once a listing
// of the manifests made after its last write shows it current, deletes
// the pending changes this process finished for the cluster and those in
// expired. update proposes the next summary from the stored one (nil when
// there is none) and the listing of the manifests; nil means rebuilding it
// from the manifests. With update nil, a stored summary that is journaled
// and names exactly the listed manifests is kept as it is (a reader).
//
// A summary that cannot be written or verified is returned as built, and
// its pending changes stay: readers check it against the manifests.
func (r *Repository) settleSummary(ctx context.Context, cluster string,
	update func(stored *ClusterSummary, listed []storage.ObjectInfo) *ClusterSummary, expired []string,
) (*ClusterSummary, SummaryState, error) {
	done := r.pending.finished(cluster)
	own := ""
	var state SummaryState
	var built *ClusterSummary
	// Writers of one cluster at once overwrite each other's summaries; each
	// waits a random, growing while before trying again, so that one of
	// them writes last and sees its summary current. Four attempts without
	// waiting left a pending change now and then under load.
	wait := &backoff.ExponentialBackOff{InitialInterval: 20 * time.Millisecond, RandomizationFactor: 0.5,
		Multiplier: 2, MaxInterval: time.Second}
	for attempt := range settleAttempts {
		if attempt >= 2 {
			select {
			case <-ctx.Done():
				return built, state, nil
			case <-time.After(wait.NextBackOff()):
			}
		}
		infos, objects, err := r.manifestKeys(ctx, cluster)
		if err != nil {
			return nil, "", err
		}
		listed := make([]string, len(infos))
		for i, info := range infos {
			listed[i] = info.Name
		}
		slices.Sort(listed)
		stored, err := r.ReadSummary(ctx, cluster)
		st := SummaryCurrent
		switch {
		case errors.Is(err, storage.ErrNotFound):
			st, stored = SummaryMissing, nil
		case errors.Is(err, ErrCorrupt), errors.Is(err, ErrUnsupportedFormat):
			st, stored = SummaryCorrupt, nil
		case err != nil:
			return nil, "", err
		case !stored.Journaled || stored.Unreadable > 0 || !slices.Equal(stored.ids(), listed):
			st = SummaryStale
		}
		if attempt == 0 {
			state = st
		}
		if st == SummaryCurrent && (update == nil || attempt > 0) {
			r.clearPendingChanges(ctx, cluster, append(append(done, expired...), own))
			return stored, state, nil
		}
		var next *ClusterSummary
		if update != nil && attempt == 0 {
			next = update(stored, objects)
		}
		if next == nil {
			if next, err = r.buildSummary(ctx, cluster); err != nil {
				return nil, "", err
			}
		}
		built = next
		if own == "" && len(done) == 0 {
			// A summary written without a pending change of its own
			// could overwrite a newer one after its writer verified it.
			if own, err = r.putPendingChange(ctx, cluster, ""); err != nil {
				return built, state, nil
			}
		}
		next.Journaled = true
		if err := r.writeSummary(ctx, next); err != nil {
			return built, state, nil // a cache: the next reader rebuilds it
		}
	}
	return built, state, nil
}

// settleAttempts bounds a summary's writes and checks; the waits between
// them add up to about 1.3 s (at most 1.9 s) while others keep changing
// the cluster.
const settleAttempts = 8

func (r *Repository) clearPendingChanges(ctx context.Context, cluster string, keys []string) {
	var cleared []string
	for _, k := range keys {
		if k == "" {
			continue
		}
		if err := r.backend.Delete(ctx, k); err == nil {
			cleared = append(cleared, k)
		}
	}
	r.pending.forget(cluster, cleared)
}

// copyEntry is what a view of the fleet needs of a cluster's registry
// entry, with the entry's ETag, read in that order: if the entry changes
// in between, the copy holds newer fields than its ETag says and is only
// ever read again, never trusted. nil when the storage gives no ETag or
// there is no readable entry.
func (r *Repository) copyEntry(ctx context.Context, cluster string) *SummaryEntry {
	info, err := r.backend.Stat(ctx, r.layout.ClusterEntry(cluster))
	if err != nil || info.ETag == "" {
		return nil
	}
	entry, err := r.GetCluster(ctx, cluster)
	if err != nil {
		return nil
	}
	return &SummaryEntry{ETag: info.ETag, Environment: entry.Environment, Region: entry.Region, Priority: entry.Priority}
}

// ManifestChange is a change of a cluster's manifests other than a
// backup's commit (deleting backups), under the pending-change protocol:
// begun by storing a pending change, ended by writing the cluster's
// summary.
type ManifestChange struct {
	r       *Repository
	cluster string
	key     string
	written time.Time
}

// BeginManifestChange stores a pending change of the cluster's manifests:
// until End, readers check the cluster's summary against its manifests.
func (r *Repository) BeginManifestChange(ctx context.Context, cluster string) (*ManifestChange, error) {
	if err := ValidateClusterName(cluster); err != nil {
		return nil, err
	}
	written := time.Now()
	key, err := r.putPendingChange(ctx, cluster, "")
	if err != nil {
		return nil, err
	}
	return &ManifestChange{r: r, cluster: cluster, key: key, written: written}, nil
}

// refresh rewrites the pending change when it is older than a sixth of the
// marker TTL, since readers delete pending changes older than the TTL.
func (c *ManifestChange) refresh(ctx context.Context) error {
	if time.Since(c.written) < c.r.markerRefreshInterval() {
		return nil
	}
	written := time.Now()
	info, err := c.r.layout.Parse(c.key)
	if err != nil {
		return err
	}
	if _, err := c.r.putPendingChange(ctx, c.cluster, info.Name); err != nil {
		return err
	}
	c.written = written
	return nil
}

// DeleteBackup deletes one backup of the change's cluster, as
// Repository.DeleteBackup does, leaving the summary to End.
func (c *ManifestChange) DeleteBackup(ctx context.Context, backupID string) (*GCReport, error) {
	if err := c.refresh(ctx); err != nil {
		return nil, err
	}
	return c.r.deleteBackup(ctx, c.cluster, backupID)
}

// End writes the cluster's summary from its manifests and removes the
// pending change once the summary is seen current. The summary is a
// cache: an error leaves the pending change, and readers check the
// cluster against its manifests until a later writer settles it.
func (c *ManifestChange) End(ctx context.Context) (*ClusterSummary, error) {
	c.r.pending.add(c.cluster, c.key, true)
	return c.r.RebuildSummary(ctx, c.cluster)
}

// FleetIndex is what two listings say about every cluster: which have
// pending summary changes, and the ETag of each registry entry. Read it
// before the summaries it is used with.
type FleetIndex struct {
	pending map[string][]storage.ObjectInfo
	entries map[string]string
}

// ReadFleetIndex lists the pending summary changes, then the registry.
func (r *Repository) ReadFleetIndex(ctx context.Context) (*FleetIndex, error) {
	idx := &FleetIndex{pending: map[string][]storage.ObjectInfo{}, entries: map[string]string{}}
	for obj, err := range r.backend.List(ctx, r.layout.PendingChanges()) {
		if err != nil {
			return nil, err
		}
		if info, err := r.layout.Parse(obj.Key); err == nil && info.Kind == KindPendingChange {
			idx.pending[info.Cluster] = append(idx.pending[info.Cluster], obj)
		}
	}
	for obj, err := range r.backend.List(ctx, r.layout.ClusterEntries()) {
		if err != nil {
			return nil, err
		}
		if info, err := r.layout.Parse(obj.Key); err == nil && info.Kind == KindClusterEntry {
			idx.entries[info.Cluster] = obj.ETag
		}
	}
	return idx, nil
}

// Registered says whether the cluster had a registry entry when the index
// was read.
func (idx *FleetIndex) Registered(cluster string) bool {
	_, ok := idx.entries[cluster]
	return ok
}

// EntryCopy is the summary's copy of the cluster's registry entry when it
// was copied from the entry the index listed; nil when it must be read.
func (idx *FleetIndex) EntryCopy(s *ClusterSummary) *SummaryEntry {
	if s == nil || s.Entry == nil || s.Entry.ETag == "" {
		return nil
	}
	if etag, ok := idx.entries[s.Cluster]; !ok || etag != s.Entry.ETag {
		return nil
	}
	return s.Entry
}

// IndexedSummary returns a cluster's summary: the stored one alone (one
// GET) when it is journaled and the index shows no pending change of the
// cluster, else as CurrentSummary does, which also deletes pending
// changes older than the marker TTL once the summary is current: their
// writers died.
func (r *Repository) IndexedSummary(ctx context.Context, idx *FleetIndex, cluster string) (*ClusterSummary, SummaryState, error) {
	if err := ValidateClusterName(cluster); err != nil {
		return nil, "", err
	}
	if len(idx.pending[cluster]) == 0 {
		s, err := r.ReadSummary(ctx, cluster)
		if err == nil && s.Journaled && s.Unreadable == 0 {
			return s, SummaryCurrent, nil
		}
		if err != nil && !errors.Is(err, storage.ErrNotFound) && !errors.Is(err, ErrCorrupt) && !errors.Is(err, ErrUnsupportedFormat) {
			return nil, "", err
		}
	}
	var expired []string
	for _, obj := range idx.pending[cluster] {
		if time.Since(obj.ModTime) > r.opts.InProgressTTL {
			expired = append(expired, obj.Key)
		}
	}
	return r.settleSummary(ctx, cluster, nil, expired)
}
