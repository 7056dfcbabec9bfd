package repo

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/kbackup/kbackup/core/storage"
)

// InProgressMarker is <cluster>/_inprogress/<backup-id>.json, written while
// a backup runs. Garbage collection leaves the cluster's packs alone while
// a marker younger than Options.InProgressTTL exists, since the running
// backup may reuse packs that no committed manifest names any more.
type InProgressMarker struct {
	FormatVersion int       `json:"formatVersion"`
	Cluster       string    `json:"cluster"`
	BackupID      string    `json:"backupId"`
	Host          string    `json:"host"`
	PID           int       `json:"pid"`
	StartedAt     time.Time `json:"startedAt"`
}

// BeginBackup writes the in-progress marker of a backup. Call it before
// KnownPacks, and call release, whatever the outcome, when the backup is
// committed or abandoned. A marker left by a crash expires after
// Options.InProgressTTL.
func (r *Repository) BeginBackup(ctx context.Context, cluster, backupID string) (release func(context.Context) error, err error) {
	if err := ValidateClusterName(cluster); err != nil {
		return nil, err
	}
	if err := ValidateBackupID(backupID); err != nil {
		return nil, err
	}
	host, _ := os.Hostname()
	marker := InProgressMarker{
		FormatVersion: FormatVersion,
		Cluster:       cluster,
		BackupID:      backupID,
		Host:          host,
		PID:           os.Getpid(),
		StartedAt:     time.Now().UTC(),
	}
	data, err := marshalJSON(marker)
	if err != nil {
		return nil, err
	}
	key := r.layout.InProgressMarker(cluster, backupID)
	if err := r.backend.PutIfAbsent(ctx, key, data); err != nil {
		if errors.Is(err, storage.ErrAlreadyExists) {
			return nil, fmt.Errorf("backup %s of cluster %s is already in progress (or was, and crashed): %w", backupID, cluster, err)
		}
		return nil, err
	}
	return func(ctx context.Context) error { return r.backend.Delete(ctx, key) }, nil
}

// InProgressBackups returns the markers of a cluster's running backups,
// including expired ones (Stale).
func (r *Repository) InProgressBackups(ctx context.Context, cluster string) ([]InProgressBackup, error) {
	if err := ValidateClusterName(cluster); err != nil {
		return nil, err
	}
	var out []InProgressBackup
	for obj, err := range r.backend.List(ctx, r.layout.InProgressMarkers(cluster)) {
		if err != nil {
			return nil, err
		}
		info, err := r.layout.Parse(obj.Key)
		if err != nil || info.Kind != KindInProgress {
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
	// Since is when the marker was written, by the storage's clock.
	Since time.Time
	// Stale: older than Options.InProgressTTL, so no longer holding off
	// garbage collection.
	Stale bool
}
