package backup

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/sony/gobreaker/v2"
	"golang.org/x/sync/errgroup"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/kbackup/kbackup/core/kube"
	"github.com/kbackup/kbackup/core/repo"
	"github.com/kbackup/kbackup/core/storage"
)

// Result is a committed backup.
type Result struct {
	Manifest *repo.Manifest
	Identity *kube.Identity
	// Location is where the backup went.
	Location string
	// Attempts are the locations of the run tried before Location, and
	// why each failed; empty when the primary took the backup.
	Attempts []repo.OpenAttempt
}

// UsedFallback reports whether the backup went somewhere other than the
// primary location.
func (r *Result) UsedFallback() bool { return len(r.Attempts) > 0 }

// ErrBackupExists is returned when the backup's ID is taken.
var ErrBackupExists = errors.New("backup already exists")

// Run backs up the cluster client talks to, into the repository that target
// chooses. The target is the storage of a whole run, shared by the backups
// of every cluster in it: it opens and probes each location once, and when
// the storage dies under a backup, the backup starts again at the target's
// next fallback, and so do the run's later backups.
//
// Run returns an error, and leaves no manifest, when the backup could not be
// stored at all; a backup in which some resource types failed is committed
// as PartiallyFailed (or Failed, when nothing could be read) and returned
// without error.
func Run(ctx context.Context, client *kube.Client, target *repo.Chooser, opts Options) (*Result, error) {
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	opts = opts.withDefaults()
	// A failed name claim or type stops the LISTs in flight: the error
	// says so once, without a client-go line per LIST.
	ctx = kube.QuietCancellations(ctx)
	started := opts.Now().UTC()

	// Who the cluster is and what it serves are independent questions,
	// asked at once. Identity's error is the one to report when both fail:
	// it says plainly that the cluster is unreachable or refuses us.
	var (
		identity          *kube.Identity
		found             *kube.Resources
		idErr, discErr    error
		wg                sync.WaitGroup
		discCtx, stopDisc = context.WithCancel(ctx)
	)
	defer stopDisc()
	wg.Go(func() {
		identity, idErr = kube.DetectIdentity(ctx, client, kube.DetectOptions{Name: opts.ClusterName, NameSource: opts.ClusterNameSource})
		if idErr != nil {
			stopDisc()
		}
	})
	wg.Go(func() { found, discErr = client.Discover(discCtx) })
	wg.Wait()
	if idErr != nil {
		return nil, idErr
	}
	if discErr != nil {
		return nil, discErr
	}
	sel, err := selectResources(found, opts)
	if err != nil {
		return nil, err
	}
	id := opts.Name
	if id == "" {
		id = repo.NewID(started)
	}

	breaker := opts.APIBreaker
	if breaker == nil {
		breaker = NewAPIBreaker(client.Server)
	}
	for {
		r, err := target.Repository(ctx)
		if err != nil {
			return nil, err
		}
		b := &run{
			client: client, repo: r, opts: opts, sel: sel, identity: identity,
			id: id, started: started, discoveryFailed: found.Failed,
			breaker: breaker,
		}
		manifest, err := b.execute(ctx)
		if err == nil {
			return &Result{Manifest: manifest, Identity: identity, Location: r.Location().String(), Attempts: target.Attempts()}, nil
		}
		if !errors.Is(err, storage.ErrStorageUnavailable) || ctx.Err() != nil || !target.Fail(r, err) {
			return nil, err
		}
		// The storage died under the backup: take the whole backup again
		// to the next fallback. The packs already written stay unreferenced
		// at the failed location until its garbage collection.
		opts.Progress(Event{Kind: EventStorageSwitched, BackupID: id, Message: fmt.Sprintf("%s failed during the backup (%v); starting again at the next fallback", r.Location(), err)})
	}
}

// run is one attempt at a backup into one repository.
type run struct {
	client          *kube.Client
	repo            *repo.Repository
	opts            Options
	sel             *resourceSelection
	identity        *kube.Identity
	id              string
	started         time.Time
	discoveryFailed map[schema.GroupVersion]error

	breaker *gobreaker.CircuitBreaker[any]

	// prepared is closed once prepare has run; prepareErr and known are
	// its results, read only after it is closed.
	prepared   chan struct{}
	prepareErr error
	known      *repo.PackSet
	// knownSince is when known was read (repo.RecordBackup).
	knownSince time.Time

	mu       sync.Mutex
	packs    []repo.PackEntry
	errs     []repo.ResourceError
	skipped  []repo.SkippedObject
	stats    repo.Stats
	typesOK  int
	typesRun int
}

func (b *run) clusterIdentity() repo.ClusterIdentity {
	return repo.ClusterIdentity{
		Name:              b.identity.Name,
		UID:               b.identity.UID,
		Provider:          b.identity.Provider,
		Distribution:      b.identity.Distribution,
		KubernetesVersion: b.identity.KubernetesVersion,
		Server:            b.identity.Server,
		NameSource:        b.identity.NameSource,
	}
}

func (b *run) execute(ctx context.Context) (*repo.Manifest, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	// The repository is prepared while the types are already being read: its
	// round trips (the name claim, the ID check, the in-progress marker, the
	// known packs) would otherwise delay every LIST. Packs wait for it.
	b.prepared = make(chan struct{})
	var release func(context.Context) error
	go func() {
		defer close(b.prepared)
		release, b.prepareErr = b.prepare(ctx)
		if b.prepareErr != nil {
			cancel()
		}
	}()
	defer func() {
		<-b.prepared
		if release != nil {
			// The marker only holds off garbage collection; a failure to
			// remove it expires with its TTL.
			releaseCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
			defer cancel()
			_ = release(releaseCtx)
		}
	}()

	total := len(b.sel.resources)
	b.opts.Progress(Event{Kind: EventStarted, BackupID: b.id, TypesTotal: total})
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(b.opts.Concurrency)
	for _, res := range b.sel.resources {
		g.Go(func() error {
			tb := newTypeBackup(b, res)
			err := tb.run(gctx)
			if err != nil && (isStorageError(err) || errors.Is(err, errNotPrepared)) {
				return err // the repository failed: the attempt fails
			}
			b.finishType(tb, err)
			return nil
		})
	}
	err := g.Wait()
	<-b.prepared
	if b.prepareErr != nil {
		return nil, b.prepareErr
	}
	if err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}

	manifest := b.manifest()
	if err := b.repo.CommitBackup(ctx, manifest); err != nil {
		return nil, err
	}
	// The summary is a cache that readers rebuild when it is not current:
	// failing to update it does not fail a committed backup.
	_ = b.repo.RecordBackup(ctx, manifest, b.knownSince)
	b.opts.Progress(Event{Kind: EventCommitted, BackupID: b.id, TypesDone: total, TypesTotal: total, ObjectsDone: manifest.Stats.Objects, BytesUploaded: manifest.Stats.BytesUploaded})
	return manifest, nil
}

// prepare claims the cluster's name, makes sure the backup's ID is free,
// marks the backup in progress and reads which packs are stored already.
func (b *run) prepare(ctx context.Context) (release func(context.Context) error, err error) {
	cluster := b.identity.Name
	if _, err := b.repo.ClaimCluster(ctx, b.clusterIdentity(), repo.ClaimOptions{Override: b.opts.ForceClusterName}); err != nil {
		return nil, err
	}
	if _, err := b.repo.ReadManifest(ctx, cluster, b.id); err == nil {
		return nil, fmt.Errorf("%w: cluster %s already has a backup %s in %s; choose another name", ErrBackupExists, cluster, b.id, b.repo.Location())
	} else if !errors.Is(err, storage.ErrNotFound) {
		return nil, err
	}
	if release, err = b.repo.BeginBackup(ctx, cluster, b.id); err != nil {
		return nil, err
	}
	b.knownSince = time.Now()
	if b.known, err = b.repo.KnownPacks(ctx, cluster); err != nil {
		return release, err
	}
	return release, nil
}

// errNotPrepared stops a type whose packs cannot be written because the
// repository could not be prepared; execute returns why.
var errNotPrepared = errors.New("repository not prepared")

// waitPrepared blocks until the repository is prepared for packs.
func (b *run) waitPrepared(ctx context.Context) error {
	select {
	case <-b.prepared:
	case <-ctx.Done():
		return ctx.Err()
	}
	if b.prepareErr != nil {
		return errNotPrepared
	}
	return nil
}

// isStorageError tells a failure of the repository, which fails the whole
// backup, from a failure of one resource type, which does not.
func isStorageError(err error) bool {
	var op *storage.OpError
	return errors.As(err, &op) || errors.Is(err, storage.ErrStorageUnavailable)
}

// finishType records a type's packs, skipped objects and error.
func (b *run) finishType(tb *typeBackup, err error) {
	b.mu.Lock()
	b.typesRun++
	if err != nil {
		b.errs = append(b.errs, repo.ResourceError{Resource: tb.res.String(), Message: err.Error()})
	} else {
		b.typesOK++
		b.packs = append(b.packs, tb.packs...)
		b.stats.Objects += tb.objects
		b.stats.PacksUploaded += tb.uploaded
		b.stats.BytesUploaded += tb.bytesUploaded
	}
	b.skipped = append(b.skipped, tb.skipped...)
	event := Event{
		Kind: EventTypeDone, BackupID: b.id, Resource: tb.res.String(), Objects: tb.objects, Err: err,
		TypesDone: b.typesRun, TypesTotal: len(b.sel.resources),
		ObjectsDone: b.stats.Objects, BytesUploaded: b.stats.BytesUploaded,
	}
	b.mu.Unlock()
	b.opts.Progress(event)
}

// manifest assembles the commit record of the backup.
func (b *run) manifest() *repo.Manifest {
	slices.SortFunc(b.packs, func(x, y repo.PackEntry) int { return strings.Compare(x.Key, y.Key) })
	slices.SortFunc(b.errs, func(x, y repo.ResourceError) int { return strings.Compare(x.Resource, y.Resource) })
	slices.SortFunc(b.skipped, func(x, y repo.SkippedObject) int {
		return strings.Compare(x.Resource+"/"+x.Namespace+"/"+x.Name, y.Resource+"/"+y.Namespace+"/"+y.Name)
	})
	stats := b.stats
	stats.Packs = len(b.packs)
	stats.PacksReused = stats.Packs - stats.PacksUploaded
	stats.SkippedObjects = len(b.skipped)
	namespaces, types := map[string]bool{}, map[string]bool{}
	for _, p := range b.packs {
		stats.BytesStored += p.Size
		stats.RawBytes += p.RawSize
		if p.Namespace != "" {
			namespaces[p.Namespace] = true
		}
		types[p.Resource] = true
	}
	stats.Namespaces = len(namespaces)
	stats.ResourceTypes = len(types)

	phase := repo.PhaseCompleted
	switch {
	case b.typesOK == 0 && len(b.errs) > 0:
		phase = repo.PhaseFailed
	case len(b.errs) > 0 || slices.ContainsFunc(b.skipped, func(s repo.SkippedObject) bool { return !s.ByPolicy }):
		phase = repo.PhasePartiallyFailed
	}
	var warnings []string
	for gv, err := range b.discoveryFailed {
		warnings = append(warnings, fmt.Sprintf("API group %s could not be discovered, so its resources are not in this backup: %v", gv, err))
	}
	if len(b.sel.excluded) > 0 {
		warnings = append(warnings, "left out by default (name them in the included resource types, include_resources, to back them up): "+strings.Join(b.sel.excluded, ", "))
	}
	slices.Sort(warnings)

	o := b.opts
	return &repo.Manifest{
		FormatVersion: repo.FormatVersion,
		ID:            b.id,
		Name:          o.Name,
		RunID:         o.RunID,
		Cluster:       b.clusterIdentity(),
		Phase:         phase,
		Options: repo.BackupOptions{
			Selection:                o.Selection,
			IncludedClusterResources: b.sel.clusterScoped,
			MaxResourceSize:          max(o.MaxResourceSize, 0),
			SkipInvalid:              o.SkipInvalid,
			BatchSize:                int(o.PageSize),
		},
		StartedAt:       b.started,
		CompletedAt:     o.Now().UTC(),
		Stats:           stats,
		Errors:          b.errs,
		Warnings:        warnings,
		Skipped:         b.skipped,
		Packs:           b.packs,
		StorageLocation: b.repo.Location().String(),
		Labels:          o.Labels,
	}
}
