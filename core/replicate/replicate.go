// Package replicate copies backups from one repository into another (a
// second region, another provider), so that the target is a repository of
// its own that verify, restore and the dashboard read like any other.
//
// The copy follows the format's commit order (docs/repository-format.md):
// for each backup, oldest first, the packs the target lacks, then the
// manifest, so that the target is valid at every moment: it never holds a
// manifest whose packs are not all there. A copy that is interrupted leaves
// packs without a manifest, which the next run finds stored and does not
// send again (resumable), and which the target's garbage collection
// protects for its grace period. While a cluster is copied, an in-progress
// marker in the target holds its garbage collection off.
//
// The source is untrusted input: every manifest, registry entry, schedule
// and retention policy is parsed and validated by core/repo, and every pack
// is checked against its manifest entry (size, zstd, SHA-256) before it is
// written. What fails a check is not copied and is reported; the backups it
// does not touch are copied.
//
// Nothing is deleted from the target: backups pruned from the source stay
// in the copy until the target's own retention removes them.
package replicate

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/kbackup/kbackup/core/catalog"
	"github.com/kbackup/kbackup/core/fleet"
	"github.com/kbackup/kbackup/core/repo"
	"github.com/kbackup/kbackup/core/storage"
)

// DefaultConcurrency is how many packs are copied at once.
const DefaultConcurrency = 8

// Options say what to copy.
type Options struct {
	// Clusters are the clusters whose backups are copied; empty means every
	// cluster of the source's registry, and then the fleet's schedules and
	// retention policies too (Fleet).
	Clusters []string
	// Concurrency bounds the packs copied at once (default 8).
	Concurrency int
	// Progress receives an event per backup copied or skipped, from one
	// goroutine.
	Progress func(Event)
}

// Event is progress for a front end.
type Event struct {
	Cluster string
	// Backup is the backup's ID.
	Backup string
	// Copied is false when the target already held the backup.
	Copied bool
	// PacksCopied and BytesCopied are this backup's.
	PacksCopied int
	BytesCopied int64
}

// Report is what a replication did.
type Report struct {
	Source string `json:"source"`
	Target string `json:"target"`
	// Fleet says whether the whole registry was copied, with the
	// schedules and retention policies.
	Fleet    bool            `json:"fleet"`
	Clusters []ClusterReport `json:"clusters"`
	// SchedulesCopied and RetentionPoliciesCopied count the fleet objects
	// written (those that differed or were missing).
	SchedulesCopied         int `json:"schedulesCopied"`
	RetentionPoliciesCopied int `json:"retentionPoliciesCopied"`

	PacksCopied      int   `json:"packsCopied"`
	PacksSkipped     int   `json:"packsSkipped"`
	BytesCopied      int64 `json:"bytesCopied"`
	ManifestsCopied  int   `json:"manifestsCopied"`
	ManifestsSkipped int   `json:"manifestsSkipped"`
	// Problems are what was not copied, and why: a manifest or pack of the
	// source that failed its checks, a cluster name the target gives
	// another cluster.
	Problems []string `json:"problems,omitempty"`
	Duration string   `json:"duration"`
}

// ClusterReport is one cluster's part.
type ClusterReport struct {
	Cluster          string `json:"cluster"`
	PacksCopied      int    `json:"packsCopied"`
	PacksSkipped     int    `json:"packsSkipped"`
	BytesCopied      int64  `json:"bytesCopied"`
	ManifestsCopied  int    `json:"manifestsCopied"`
	ManifestsSkipped int    `json:"manifestsSkipped"`
	// ManifestsFailed are the source's backups that could not be copied
	// (unreadable manifest, corrupt or missing pack).
	ManifestsFailed int `json:"manifestsFailed"`
	RestoresCopied  int `json:"restoresCopied"`
	// Error is why the cluster was not (fully) copied.
	Error string `json:"error,omitempty"`
}

// ErrSameRepository: the target is the source.
var ErrSameRepository = errors.New("the target is the source repository")

// ErrIncompatible: the target stores packs otherwise than the source.
var ErrIncompatible = errors.New("the target's settings differ from the source's")

// Run copies the clusters opts names (or the whole fleet) from src into
// dst. dst must be open (repo.Open with Create, for a new target). It
// copies what it can and returns the report with an error that names every
// problem; the report is returned with any error but a failure to start.
func Run(ctx context.Context, src, dst *repo.Repository, opts Options) (*Report, error) {
	started := time.Now()
	if opts.Concurrency <= 0 {
		opts.Concurrency = DefaultConcurrency
	}
	if src.Config().ID == dst.Config().ID {
		return nil, fmt.Errorf("%w: %s and %s are both repository %s; replicate into another location", ErrSameRepository, src, dst, src.Config().ID)
	}
	// Packs are copied byte for byte: the target must store them as the
	// source does. Both were validated when opened; a later format may
	// allow other settings.
	sc, dc := src.Config(), dst.Config()
	if sc.FormatVersion != dc.FormatVersion || sc.Settings.Compression != dc.Settings.Compression || sc.Settings.Hash != dc.Settings.Hash {
		return nil, fmt.Errorf("%w: %s has format %d (%s, %s) and %s format %d (%s, %s); replicate into a repository of the same settings",
			ErrIncompatible, src, sc.FormatVersion, sc.Settings.Compression, sc.Settings.Hash, dst, dc.FormatVersion, dc.Settings.Compression, dc.Settings.Hash)
	}
	rep := &Report{Source: src.Location().String(), Target: dst.Location().String(), Fleet: len(opts.Clusters) == 0}
	clusters := slices.Clone(opts.Clusters)
	if rep.Fleet {
		var err error
		if clusters, err = src.Clusters(ctx); err != nil {
			return nil, fmt.Errorf("listing the clusters of %s: %w", src, err)
		}
	}
	var errs []error
	for _, cluster := range clusters {
		cr, err := copyCluster(ctx, src, dst, cluster, opts)
		if err != nil {
			cr.Error = err.Error()
			rep.Problems = append(rep.Problems, fmt.Sprintf("cluster %s: %v", cluster, err))
			errs = append(errs, fmt.Errorf("cluster %s: %w", cluster, err))
		}
		rep.Clusters = append(rep.Clusters, cr)
		rep.PacksCopied += cr.PacksCopied
		rep.PacksSkipped += cr.PacksSkipped
		rep.BytesCopied += cr.BytesCopied
		rep.ManifestsCopied += cr.ManifestsCopied
		rep.ManifestsSkipped += cr.ManifestsSkipped
		if ctx.Err() != nil {
			break
		}
	}
	if rep.Fleet && ctx.Err() == nil {
		if err := copyFleetObjects(ctx, src, dst, rep); err != nil {
			rep.Problems = append(rep.Problems, err.Error())
			errs = append(errs, err)
		}
	}
	rep.Duration = time.Since(started).Round(time.Millisecond).String()
	return rep, errors.Join(errs...)
}

// copyCluster copies one cluster: its registry entry, then each backup the
// target lacks (packs, then manifest), then its restore records, and
// brings the target's summary up to date.
func copyCluster(ctx context.Context, src, dst *repo.Repository, cluster string, opts Options) (ClusterReport, error) {
	cr := ClusterReport{Cluster: cluster}
	if err := repo.ValidateClusterName(cluster); err != nil {
		return cr, err
	}
	entry, err := src.GetCluster(ctx, cluster)
	switch {
	case errors.Is(err, storage.ErrNotFound):
		entry = nil // a cluster of an older repository: CommitBackup claims it
	case err != nil:
		return cr, err
	}
	srcIDs, err := src.BackupIDs(ctx, cluster)
	if err != nil {
		return cr, err
	}
	if entry == nil && len(srcIDs) == 0 {
		return cr, fmt.Errorf("%s has no cluster %s: it has neither a registry entry nor backups", src, cluster)
	}
	if entry != nil {
		if err := ensureEntry(ctx, dst, entry); err != nil {
			return cr, err
		}
	}
	dstIDs, err := dst.BackupIDs(ctx, cluster)
	if err != nil {
		return cr, err
	}
	var missing []string
	for _, id := range srcIDs {
		if _, found := slices.BinarySearch(dstIDs, id); found {
			cr.ManifestsSkipped++
			if opts.Progress != nil {
				opts.Progress(Event{Cluster: cluster, Backup: id})
			}
			continue
		}
		missing = append(missing, id)
	}
	var problems []error
	if len(missing) > 0 {
		if err := copyBackups(ctx, src, dst, cluster, missing, opts, &cr, &problems); err != nil {
			return cr, err
		}
		if entry != nil {
			// Committing claims the name, which stamps the target's entry
			// with this moment: the copy says what the source says.
			if err := dst.PutClusterEntry(ctx, entry); err != nil {
				return cr, err
			}
		}
	}
	n, err := copyRestoreRecords(ctx, src, dst, cluster)
	cr.RestoresCopied = n
	if err != nil {
		return cr, err
	}
	// A summary is a cache that readers rebuild; bringing it up to date
	// here saves the first reader of the copy the work.
	if _, _, err := dst.CurrentSummary(ctx, cluster); err != nil {
		return cr, fmt.Errorf("updating the summary of cluster %s in %s: %w", cluster, dst, err)
	}
	return cr, errors.Join(problems...)
}

// ensureEntry writes the source's registry entry into the target, unless
// the target gives the name to another cluster (another kube-system UID).
func ensureEntry(ctx context.Context, dst *repo.Repository, entry *fleet.ClusterEntry) error {
	existing, err := dst.GetCluster(ctx, entry.Name)
	switch {
	case errors.Is(err, storage.ErrNotFound):
		return dst.PutClusterEntry(ctx, entry)
	case err != nil:
		return err
	case existing.UID != entry.UID:
		return fmt.Errorf("%w: in %s the name %s belongs to the cluster whose kube-system UID is %s, in the source to %s; not copying its backups",
			repo.ErrClusterNameTaken, dst, entry.Name, existing.UID, entry.UID)
	}
	return nil
}

// copyBackups copies the backups ids (sorted, so oldest first) under an
// in-progress marker in the target. A backup whose manifest or packs fail
// their checks is added to problems and skipped; a storage error of the
// target stops the cluster.
func copyBackups(ctx context.Context, src, dst *repo.Repository, cluster string, ids []string, opts Options, cr *ClusterReport, problems *[]error) error {
	release, err := dst.BeginBackup(ctx, cluster, repo.NewID(time.Now()))
	if err != nil {
		return fmt.Errorf("marking the copy in progress in %s: %w", dst, err)
	}
	defer func() {
		releaseCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer cancel()
		_ = release(releaseCtx)
	}()
	stored, err := dst.StoredPacks(ctx, cluster)
	if err != nil {
		return err
	}
	var mu sync.Mutex
	// counted keeps a pack shared by several backups from being counted
	// once per backup.
	counted := map[string]bool{}
	for _, id := range ids {
		if err := ctx.Err(); err != nil {
			return err
		}
		m, err := src.ReadManifest(ctx, cluster, id)
		switch {
		case errors.Is(err, storage.ErrNotFound):
			continue // deleted from the source since the listing
		case errors.Is(err, repo.ErrCorrupt), errors.Is(err, repo.ErrUnsupportedFormat):
			cr.ManifestsFailed++
			*problems = append(*problems, fmt.Errorf("backup %s not copied: %w", id, err))
			continue
		case err != nil:
			return err
		}
		var copiedPacks int
		var copiedBytes int64
		g, gctx := errgroup.WithContext(ctx)
		g.SetLimit(opts.Concurrency)
		for _, p := range catalog.Packs(m) {
			mu.Lock()
			size, have := stored[p.Key]
			mu.Unlock()
			if have && size == p.Size {
				if !counted[p.Key] {
					counted[p.Key] = true
					cr.PacksSkipped++
				}
				continue
			}
			counted[p.Key] = true
			g.Go(func() error {
				n, err := dst.CopyPackFrom(gctx, src, p.PackRef)
				if err != nil {
					return err
				}
				mu.Lock()
				stored[p.Key] = n
				copiedPacks++
				copiedBytes += n
				mu.Unlock()
				return nil
			})
		}
		err = g.Wait()
		cr.PacksCopied += copiedPacks
		cr.BytesCopied += copiedBytes
		switch {
		case errors.Is(err, repo.ErrCorrupt), errors.Is(err, storage.ErrNotFound) && ctx.Err() == nil:
			// Only what the source holds is wrong: the other backups
			// can still be copied.
			cr.ManifestsFailed++
			*problems = append(*problems, fmt.Errorf("backup %s not copied: %w", id, err))
			continue
		case err != nil:
			return err
		}
		if err := dst.CommitBackup(ctx, m); err != nil {
			if errors.Is(err, storage.ErrAlreadyExists) {
				cr.ManifestsSkipped++ // another replication committed it meanwhile
				continue
			}
			return err
		}
		cr.ManifestsCopied++
		if opts.Progress != nil {
			opts.Progress(Event{Cluster: cluster, Backup: id, Copied: true, PacksCopied: copiedPacks, BytesCopied: copiedBytes})
		}
	}
	return nil
}

// copyRestoreRecords copies the restore records the target lacks. A
// record is any JSON document (the restore package defines it); one that
// is not JSON is not copied.
func copyRestoreRecords(ctx context.Context, src, dst *repo.Repository, cluster string) (int, error) {
	have, err := dst.ListRestores(ctx, cluster)
	if err != nil {
		return 0, err
	}
	known := map[string]bool{}
	for _, r := range have {
		known[r.ID] = true
	}
	records, err := src.ListRestores(ctx, cluster)
	if err != nil {
		return 0, err
	}
	copied := 0
	var problems []error
	for _, r := range records {
		if known[r.ID] {
			continue
		}
		var record json.RawMessage
		if err := src.ReadRestoreRecord(ctx, cluster, r.ID, &record); err != nil {
			if errors.Is(err, repo.ErrCorrupt) {
				problems = append(problems, fmt.Errorf("restore record %s not copied: %w", r.ID, err))
				continue
			}
			return copied, err
		}
		err := dst.WriteRestoreRecord(ctx, cluster, r.ID, record)
		if err != nil && !errors.Is(err, storage.ErrAlreadyExists) {
			return copied, err
		}
		copied++
	}
	return copied, errors.Join(problems...)
}

// copyFleetObjects writes the source's schedules and retention policies
// that the target lacks or holds otherwise, so that a copy of the whole
// fleet can take over from the source.
func copyFleetObjects(ctx context.Context, src, dst *repo.Repository, rep *Report) error {
	schedules, err := src.ListSchedules(ctx)
	if err != nil {
		return fmt.Errorf("reading the schedules of %s: %w", src, err)
	}
	for _, s := range schedules {
		existing, err := dst.GetSchedule(ctx, s.Name)
		if err != nil && !errors.Is(err, storage.ErrNotFound) && !errors.Is(err, repo.ErrCorrupt) {
			return err
		}
		if err == nil && sameJSON(existing, s) {
			continue
		}
		if err := dst.PutSchedule(ctx, s); err != nil {
			return fmt.Errorf("writing schedule %s to %s: %w", s.Name, dst, err)
		}
		rep.SchedulesCopied++
	}
	policies, err := src.ListRetentionPolicies(ctx)
	if err != nil {
		return fmt.Errorf("reading the retention policies of %s: %w", src, err)
	}
	for _, p := range policies {
		existing, err := dst.GetRetentionPolicy(ctx, p.Name)
		if err != nil && !errors.Is(err, storage.ErrNotFound) && !errors.Is(err, repo.ErrCorrupt) {
			return err
		}
		if err == nil && sameJSON(existing, p) {
			continue
		}
		if err := dst.PutRetentionPolicy(ctx, p); err != nil {
			return fmt.Errorf("writing retention policy %s to %s: %w", p.Name, dst, err)
		}
		rep.RetentionPoliciesCopied++
	}
	return nil
}

func sameJSON(a, b any) bool {
	x, err1 := json.Marshal(a)
	y, err2 := json.Marshal(b)
	return err1 == nil && err2 == nil && string(x) == string(y)
}
