package repo

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/kbackup/kbackup/core/storage"
)

// GCOptions tune CollectGarbage.
type GCOptions struct {
	// DryRun reports what would be deleted and deletes nothing.
	DryRun bool
	// Without are backup IDs whose manifests count as deleted: with
	// DryRun, it tells what deleting those backups would free.
	Without []string
}

// GCReport says what garbage collection did, or would do.
type GCReport struct {
	Cluster string
	DryRun  bool
	// DeletedManifest is the key of the manifest DeleteBackup removed.
	DeletedManifest string
	// Deleted are the packs removed (or, in a dry run, to be removed).
	Deleted      []storage.ObjectInfo
	BytesDeleted int64
	// KeptYoung counts unreferenced packs kept because they are younger
	// than the grace period: they may belong to a backup not yet
	// committed.
	KeptYoung int
	// Referenced counts the packs some manifest names.
	Referenced int
	// SkippedBecause is set when no pack was collected because a backup of
	// the cluster is in progress.
	SkippedBecause string
}

// DeleteBackup deletes a backup's manifest, then collects the cluster's
// garbage (CollectGarbage): packs that no remaining manifest names, older
// than Options.GCGracePeriod, unless a backup of the cluster is in progress
// (a marker younger than Options.InProgressTTL), in which case no pack is
// removed and the report says why.
//
// The cluster's summary is written after, under the pending-change
// protocol (ManifestChange); deleting several backups of a cluster under
// one ManifestChange writes it once.
func (r *Repository) DeleteBackup(ctx context.Context, cluster, backupID string) (*GCReport, error) {
	if err := ValidateClusterName(cluster); err != nil {
		return nil, err
	}
	if err := ValidateBackupID(backupID); err != nil {
		return nil, err
	}
	change, err := r.BeginManifestChange(ctx, cluster)
	if err != nil {
		return nil, err
	}
	report, err := change.DeleteBackup(ctx, backupID)
	// The summary is a cache: while its pending change stays, readers
	// check it against the manifests.
	_, _ = change.End(ctx)
	return report, err
}

func (r *Repository) deleteBackup(ctx context.Context, cluster, backupID string) (*GCReport, error) {
	if err := ValidateBackupID(backupID); err != nil {
		return nil, err
	}
	key := r.layout.Manifest(cluster, backupID)
	if _, err := r.backend.Stat(ctx, key); err != nil {
		if errors.Is(err, storage.ErrNotFound) {
			return nil, fmt.Errorf("cluster %s has no backup %q in %s: %w",
				cluster, backupID, r.backend, &BackupNotFoundError{Cluster: cluster, ID: backupID})
		}
		return nil, err
	}
	if err := r.backend.Delete(ctx, key); err != nil {
		return nil, err
	}
	report, err := r.CollectGarbage(ctx, cluster, GCOptions{})
	if report != nil {
		report.DeletedManifest = key
	}
	if err != nil {
		return report, fmt.Errorf("deleted backup %s of cluster %s, but collecting its packs failed (the next delete or prune collects them): %w", backupID, cluster, err)
	}
	return report, nil
}

// CollectGarbage removes a cluster's packs that no manifest names and that
// are older than the grace period, under the protocol of
// docs/repository-format.md §11: it writes a collection marker (which
// backups starting meanwhile wait for) and keeps it fresh, removes nothing
// while a backup of the cluster is in progress, nothing when any manifest
// of the cluster cannot be read, since then it cannot know which packs are
// in use, and stops deleting when its own marker may have been taken for
// dead. A dry run writes no marker.
func (r *Repository) CollectGarbage(ctx context.Context, cluster string, opts GCOptions) (*GCReport, error) {
	if err := ValidateClusterName(cluster); err != nil {
		return nil, err
	}
	report := &GCReport{Cluster: cluster, DryRun: opts.DryRun}
	if opts.DryRun {
		if reason, err := r.runningBackup(ctx, cluster); err != nil || reason != "" {
			report.SkippedBecause = reason
			return report, err
		}
		return report, r.findGarbage(ctx, cluster, opts, report)
	}
	id := NewID(time.Now())
	l, err := r.writeLease(ctx, r.layout.CollectionMarker(cluster, id), fmt.Sprintf("garbage collection %s of cluster %s", id, cluster), newMarker(cluster, id))
	if err != nil {
		return report, fmt.Errorf("starting garbage collection of cluster %s: %w", cluster, err)
	}
	defer func() {
		// A marker that cannot be removed expires with its TTL; until
		// then backups of the cluster wait for it.
		releaseCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer cancel()
		_ = l.release(releaseCtx)
	}()
	// The marker is stored: a backup that starts from now on waits for
	// it. One that started before has a marker of its own by now.
	if reason, err := r.runningBackup(ctx, cluster); err != nil || reason != "" {
		report.SkippedBecause = reason
		return report, err
	}
	if err := r.findGarbage(ctx, cluster, opts, report); err != nil || len(report.Deleted) == 0 {
		return report, err
	}
	// Backups of an older kbackup do not wait for collection markers: look
	// at the in-progress markers again right before deleting.
	if reason, err := r.runningBackup(ctx, cluster); err != nil || reason != "" {
		report.SkippedBecause = reason
		report.Deleted, report.BytesDeleted = nil, 0
		return report, err
	}
	return report, r.deleteAll(ctx, l, report)
}

// findGarbage fills the report with the cluster's packs that no manifest
// names (but those of opts.Without) and that are older than the grace
// period.
func (r *Repository) findGarbage(ctx context.Context, cluster string, opts GCOptions, report *GCReport) error {
	manifests, err := r.readManifests(ctx, cluster)
	if err != nil {
		return fmt.Errorf("not collecting garbage of cluster %s, since not every manifest can be read: %w", cluster, err)
	}
	referenced := map[string]bool{}
	for _, m := range manifests {
		if slices.Contains(opts.Without, m.ID) {
			continue
		}
		for _, p := range m.Packs {
			referenced[p.Key] = true
		}
	}
	now := time.Now()
	for obj, err := range r.backend.List(ctx, r.layout.Cluster(cluster)) {
		if err != nil {
			return err
		}
		info, err := r.layout.Parse(obj.Key)
		if err != nil || info.Kind != KindPack || info.Cluster != cluster {
			continue
		}
		switch rel := packPath(info.Cluster, info.Namespace, info.Resource, info.SHA256); {
		case referenced[rel]:
			report.Referenced++
		case now.Sub(obj.ModTime) < r.opts.GCGracePeriod:
			report.KeptYoung++
		default:
			report.Deleted = append(report.Deleted, obj)
			report.BytesDeleted += obj.Size
		}
	}
	return nil
}

// deleteAll deletes the report's packs concurrently; the report keeps
// only the packs actually deleted. Before each delete it checks that the
// collection's marker is still held, and looks at the pack again: one
// written since the listing (uploaded again by a writer that does not
// follow the protocol) is younger than the grace period and kept.
func (r *Repository) deleteAll(ctx context.Context, l *lease, report *GCReport) error {
	deleted := make([]bool, len(report.Deleted))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(r.opts.Concurrency)
	var (
		mu        sync.Mutex
		keptYoung int
	)
	for i, obj := range report.Deleted {
		g.Go(func() error {
			if err := l.held(); err != nil {
				return fmt.Errorf("stopped collecting garbage of cluster %s: %w", report.Cluster, err)
			}
			current, err := r.backend.Stat(gctx, obj.Key)
			switch {
			case errors.Is(err, storage.ErrNotFound):
				return nil
			case err != nil:
				return err
			case time.Since(current.ModTime) < r.opts.GCGracePeriod:
				mu.Lock()
				keptYoung++
				mu.Unlock()
				return nil
			}
			if err := l.held(); err != nil {
				return fmt.Errorf("stopped collecting garbage of cluster %s: %w", report.Cluster, err)
			}
			if err := r.backend.Delete(gctx, obj.Key); err != nil {
				return err
			}
			mu.Lock()
			deleted[i] = true
			mu.Unlock()
			return nil
		})
	}
	err := g.Wait()
	kept := report.Deleted[:0]
	report.BytesDeleted = 0
	report.KeptYoung += keptYoung
	for i, obj := range report.Deleted {
		if deleted[i] {
			kept = append(kept, obj)
			report.BytesDeleted += obj.Size
		}
	}
	report.Deleted = kept
	return err
}

// runningBackup says which backup of the cluster is in progress, "" when
// none has a fresh marker.
func (r *Repository) runningBackup(ctx context.Context, cluster string) (string, error) {
	running, err := r.InProgressBackups(ctx, cluster)
	if err != nil {
		return "", err
	}
	for _, b := range running {
		if !b.Stale {
			return fmt.Sprintf("backup %s of cluster %s has been in progress since %s (marker %s, expires after %s)",
				b.BackupID, cluster, b.Since.UTC().Format(time.RFC3339), b.Key, r.opts.InProgressTTL), nil
		}
	}
	return "", nil
}
