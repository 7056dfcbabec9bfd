package repo

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync"
	"time"

	"github.com/kbackup/kbackup/core/storage"
)

// InProgressMarker is <cluster>/_inprogress/<backup-id>.json, written while
// a backup runs and refreshed every Options.InProgressTTL/6. Garbage
// collection leaves the cluster's packs alone while a marker younger than
// Options.InProgressTTL exists, since the running backup may reuse packs
// that no committed manifest names any more. The collection marker
// (<cluster>/_collecting/<id>.json) has the same fields, with the
// collection's ID as BackupID.
type InProgressMarker struct {
	FormatVersion int       `json:"formatVersion"`
	Cluster       string    `json:"cluster"`
	BackupID      string    `json:"backupId"`
	Host          string    `json:"host"`
	PID           int       `json:"pid"`
	StartedAt     time.Time `json:"startedAt"`
}

// ErrMarkerExpired is returned when a backup or a collection has not
// refreshed its marker for so long that others may take it for dead: a
// backup then refuses to commit, a collection stops deleting.
var ErrMarkerExpired = errors.New("marker expired")

// lease is a marker kept fresh: written once, rewritten every refresh
// interval until released. It knows how long ago it was last known to be
// stored, measured from the start of the write that stored it, by the
// local monotonic clock.
type lease struct {
	r    *Repository
	key  string
	what string // "backup b1 of cluster c1", for messages
	data []byte

	mu        sync.Mutex
	refreshed time.Time // start of the last write known to have landed
	lost      error     // the marker was found missing

	stop chan struct{}
	done chan struct{}
}

// markerRefreshInterval is how often a marker is rewritten: six times
// within its TTL, so that a few failed refreshes in a row do not let it
// expire.
func (r *Repository) markerRefreshInterval() time.Duration {
	return max(r.opts.InProgressTTL/6, time.Millisecond)
}

// markerSafeAge is how long after its last refresh a lease still counts
// as held by its owner. It is half the TTL: the other half covers the
// request that follows the check (a commit, a delete), and the clocks of
// the storage and of other kbackups, which judge the marker's age by its
// modification time.
func (r *Repository) markerSafeAge() time.Duration { return r.opts.InProgressTTL / 2 }

// writeLease writes a marker conditionally and starts refreshing it.
func (r *Repository) writeLease(ctx context.Context, key, what string, marker InProgressMarker) (*lease, error) {
	data, err := marshalJSON(marker)
	if err != nil {
		return nil, err
	}
	start := time.Now()
	if err := r.backend.PutIfAbsent(ctx, key, data); err != nil {
		return nil, err
	}
	l := &lease{r: r, key: key, what: what, data: data, refreshed: start, stop: make(chan struct{}), done: make(chan struct{})}
	go l.refreshLoop()
	return l, nil
}

func (l *lease) refreshLoop() {
	defer close(l.done)
	ticker := time.NewTicker(l.r.markerRefreshInterval())
	defer ticker.Stop()
	for {
		select {
		case <-l.stop:
			return
		case <-ticker.C:
		}
		// A refresh that fails is tried again at the next tick; the
		// lease's age tells the owner when it can no longer trust it.
		ctx, cancel := context.WithTimeout(context.Background(), l.r.markerSafeAge())
		_ = l.refresh(ctx)
		cancel()
	}
}

// refresh rewrites the marker, after checking that it is still there: a
// marker that disappeared was removed by someone who took its owner for
// dead, and rewriting it would hide that.
func (l *lease) refresh(ctx context.Context) error {
	start := time.Now()
	if _, err := l.r.backend.Stat(ctx, l.key); err != nil {
		if errors.Is(err, storage.ErrNotFound) {
			l.mu.Lock()
			l.lost = fmt.Errorf("the marker %s of %s was removed by someone else: %w", l.key, l.what, ErrMarkerExpired)
			l.mu.Unlock()
		}
		return err
	}
	if err := l.r.backend.Put(ctx, l.key, l.data); err != nil {
		return err
	}
	l.mu.Lock()
	if start.After(l.refreshed) {
		l.refreshed = start
	}
	l.mu.Unlock()
	return nil
}

// refreshedAt is when the last write known to have landed started.
func (l *lease) refreshedAt() time.Time {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.refreshed
}

// held says whether the lease is still safely held: an error wrapping
// ErrMarkerExpired when the marker was last known to be stored too long
// ago, or was removed.
func (l *lease) held() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.lost != nil {
		return l.lost
	}
	if age, safe := time.Since(l.refreshed), l.r.markerSafeAge(); age >= safe {
		return fmt.Errorf("the marker %s of %s was last refreshed %s ago (others take a marker older than %s for dead, and it must be refreshed within %s): %w",
			l.key, l.what, age.Round(time.Millisecond), l.r.opts.InProgressTTL, safe, ErrMarkerExpired)
	}
	return nil
}

// release stops refreshing the marker and deletes it.
func (l *lease) release(ctx context.Context) error {
	select {
	case <-l.stop:
	default:
		close(l.stop)
	}
	<-l.done // no refresh may land after the delete
	return l.r.backend.Delete(ctx, l.key)
}

func newMarker(cluster, id string) InProgressMarker {
	host, _ := os.Hostname()
	return InProgressMarker{
		FormatVersion: FormatVersion,
		Cluster:       cluster,
		BackupID:      id,
		Host:          host,
		PID:           os.Getpid(),
		StartedAt:     time.Now().UTC(),
	}
}

func sessionKey(cluster, backupID string) string { return cluster + "/" + backupID }

// BeginBackup writes the in-progress marker of a backup, keeps it fresh
// while the backup runs, and waits until no garbage collection of the
// cluster is running (docs/repository-format.md §11). Call it before
// KnownPacks, and call release, whatever the outcome, when the backup is
// committed or abandoned. CommitBackup of this backup refuses to commit
// once the marker may have been taken for dead (ErrMarkerExpired). A marker
// left by a crash expires after Options.InProgressTTL.
func (r *Repository) BeginBackup(ctx context.Context, cluster, backupID string) (release func(context.Context) error, err error) {
	if err := ValidateClusterName(cluster); err != nil {
		return nil, err
	}
	if err := ValidateBackupID(backupID); err != nil {
		return nil, err
	}
	key := r.layout.InProgressMarker(cluster, backupID)
	what := fmt.Sprintf("backup %s of cluster %s", backupID, cluster)
	l, err := r.writeLease(ctx, key, what, newMarker(cluster, backupID))
	if err != nil {
		if errors.Is(err, storage.ErrAlreadyExists) {
			return nil, fmt.Errorf("backup %s of cluster %s is already in progress (or was, and crashed): %w", backupID, cluster, err)
		}
		return nil, err
	}
	sk := sessionKey(cluster, backupID)
	r.sessions.Store(sk, l)
	release = func(ctx context.Context) error {
		r.sessions.CompareAndDelete(sk, l)
		return l.release(ctx)
	}
	// The marker is stored: a collection that starts from now on sees it
	// and stops. One that started before is waited for.
	if err := r.waitForCollections(ctx, cluster); err != nil {
		releaseCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer cancel()
		_ = release(releaseCtx)
		return nil, err
	}
	return release, nil
}

// waitForCollections returns once no fresh collection marker of the
// cluster exists.
func (r *Repository) waitForCollections(ctx context.Context, cluster string) error {
	poll := min(max(r.opts.InProgressTTL/30, 20*time.Millisecond), 2*time.Second)
	for {
		running, err := r.markers(ctx, r.layout.CollectionMarkers(cluster), KindCollecting)
		if err != nil {
			return fmt.Errorf("checking for garbage collections of cluster %s before the backup: %w", cluster, err)
		}
		fresh := false
		for _, m := range running {
			fresh = fresh || !m.Stale
		}
		if !fresh {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("waiting for the garbage collection of cluster %s to end: %w", cluster, ctx.Err())
		case <-time.After(poll):
		}
	}
}

// backupLeaseHeld says whether the backup's marker is still safely held;
// nil when the backup has no session in this Repository (a manifest
// written by other means).
func (r *Repository) backupLeaseHeld(cluster, backupID string) error {
	v, ok := r.sessions.Load(sessionKey(cluster, backupID))
	if !ok {
		return nil
	}
	return v.(*lease).held()
}

// InProgressBackups returns the markers of a cluster's running backups,
// including expired ones (Stale).
func (r *Repository) InProgressBackups(ctx context.Context, cluster string) ([]InProgressBackup, error) {
	if err := ValidateClusterName(cluster); err != nil {
		return nil, err
	}
	return r.markers(ctx, r.layout.InProgressMarkers(cluster), KindInProgress)
}

// RunningCollections returns the markers of a cluster's running garbage
// collections, including expired ones (Stale); BackupID is the
// collection's ID.
func (r *Repository) RunningCollections(ctx context.Context, cluster string) ([]InProgressBackup, error) {
	if err := ValidateClusterName(cluster); err != nil {
		return nil, err
	}
	return r.markers(ctx, r.layout.CollectionMarkers(cluster), KindCollecting)
}

func (r *Repository) markers(ctx context.Context, prefix string, kind KeyKind) ([]InProgressBackup, error) {
	var out []InProgressBackup
	for obj, err := range r.backend.List(ctx, prefix) {
		if err != nil {
			return nil, err
		}
		info, err := r.layout.Parse(obj.Key)
		if err != nil || info.Kind != kind {
			continue
		}
		out = append(out, InProgressBackup{
			BackupID: info.Name,
			Key:      obj.Key,
			Since:    obj.ModTime,
			Stale:    time.Since(obj.ModTime) >= r.opts.InProgressTTL,
		})
	}
	return out, nil
}

// InProgressBackup is a marker as listed.
type InProgressBackup struct {
	BackupID string
	Key      string
	// Since is when the marker was last written (refreshed), by the
	// storage's clock.
	Since time.Time
	// Stale: older than Options.InProgressTTL, so no longer holding off
	// garbage collection (or, for a collection marker, backups).
	Stale bool
}
