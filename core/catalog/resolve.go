package catalog

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/kbackup/kbackup/core/repo"
	"github.com/kbackup/kbackup/core/storage"
)

// Latest names the newest backup of a cluster that did not fail.
const Latest = "latest"

// Ref names a backup: an ID, or Latest, of a cluster.
type Ref struct {
	// Cluster is the cluster whose backups are meant. With an ID it may be
	// empty: the ID is then looked up in every cluster of the repository,
	// so that naming a backup needs no connection to a cluster.
	Cluster string
	// ID is a backup ID or Latest.
	ID string
}

// Field names of Ref in error paths.
const (
	FieldCluster = "cluster"
	FieldBackup  = "backup"
)

// Resolve returns the manifest of the backup ref names.
//
// Latest is the newest backup (by start time) whose phase is not Failed.
// A manifest that cannot be read (corrupt, or of a newer format) and that
// the storage says was written after the chosen backup started may be the
// newest: then Latest is an error naming it, not a silent choice of an
// older backup.
func Resolve(ctx context.Context, r *repo.Repository, ref Ref) (*repo.Manifest, error) {
	if ref.ID != Latest {
		if err := repo.ValidateBackupID(ref.ID); err != nil {
			return nil, field.Invalid(field.NewPath(FieldBackup), ref.ID, err.Error())
		}
		if ref.Cluster == "" {
			return find(ctx, r, ref.ID)
		}
	}
	if ref.Cluster == "" {
		return nil, field.Required(field.NewPath(FieldCluster), "the cluster whose latest backup is meant")
	}
	if err := repo.ValidateClusterName(ref.Cluster); err != nil {
		return nil, field.Invalid(field.NewPath(FieldCluster), ref.Cluster, err.Error())
	}
	if ref.ID != Latest {
		m, err := r.ReadManifest(ctx, ref.Cluster, ref.ID)
		if errors.Is(err, storage.ErrNotFound) {
			return nil, fmt.Errorf("cluster %s has no backup %q in %s: %w", ref.Cluster, ref.ID, r,
				&repo.BackupNotFoundError{Cluster: ref.Cluster, ID: ref.ID})
		}
		return m, err
	}
	manifests, err := r.ListBackups(ctx, ref.Cluster)
	var unreadable *repo.UnreadableManifestsError
	if err != nil && !errors.As(err, &unreadable) {
		return nil, err
	}
	var chosen *repo.Manifest
	for _, m := range slices.Backward(manifests) {
		if m.Phase != repo.PhaseFailed {
			chosen = m
			break
		}
	}
	if unreadable != nil {
		var newer []string
		for _, u := range unreadable.Manifests {
			if chosen == nil || !u.ModTime.Before(chosen.StartedAt) {
				newer = append(newer, fmt.Sprintf("%s (%v)", u.ID, u.Err))
			}
		}
		if len(newer) > 0 {
			return nil, fmt.Errorf("the latest backup of cluster %s cannot be told: %s may be newer than any readable backup and cannot be read: %w; name a backup by its ID",
				ref.Cluster, strings.Join(newer, ", "), unreadable)
		}
	}
	if chosen == nil {
		if len(manifests) > 0 {
			return nil, fmt.Errorf("cluster %s has no backup that did not fail (all %d failed) in %s: %w",
				ref.Cluster, len(manifests), r, &repo.BackupNotFoundError{Cluster: ref.Cluster})
		}
		// A cluster without backups is most often a misspelt or another
		// name: say which clusters the repository has.
		clusters, err := r.Clusters(ctx)
		if err != nil {
			return nil, err
		}
		return nil, fmt.Errorf("cluster %s has no backup in %s (its clusters: %s): %w",
			ref.Cluster, r, orNone(clusters), &repo.BackupNotFoundError{Cluster: ref.Cluster})
	}
	return chosen, nil
}

// find returns the manifest of backup id, whichever cluster it belongs to.
// IDs are made unique (start time and random digits), but names given by
// users may repeat across clusters: then the error lists the clusters that
// have one, to choose from. ErrNotFound when no cluster has it.
func find(ctx context.Context, r *repo.Repository, id string) (*repo.Manifest, error) {
	clusters, err := r.Clusters(ctx)
	if err != nil {
		return nil, err
	}
	var found []*repo.Manifest
	for _, cluster := range clusters {
		m, err := r.ReadManifest(ctx, cluster, id)
		switch {
		case err == nil:
			found = append(found, m)
		case !errors.Is(err, storage.ErrNotFound):
			return nil, err
		}
	}
	switch len(found) {
	case 1:
		return found[0], nil
	case 0:
		return nil, fmt.Errorf("no cluster has a backup %q in %s (clusters: %s): %w", id, r, orNone(clusters), &repo.BackupNotFoundError{ID: id})
	}
	names := make([]string, len(found))
	for i, m := range found {
		names[i] = m.Cluster.Name
	}
	return nil, fmt.Errorf("backup %q exists for clusters %s; say which cluster's: %w", id, strings.Join(names, ", "),
		field.Required(field.NewPath(FieldCluster), "the cluster of the backup, one of "+strings.Join(names, ", ")))
}

func orNone(names []string) string {
	if len(names) == 0 {
		return "none"
	}
	return strings.Join(names, ", ")
}
