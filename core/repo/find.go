package repo

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/kbackup/kbackup/core/storage"
)

// FindBackup returns the manifest of backup id, whichever cluster it belongs
// to, so that a backup can be named by its ID alone. IDs are made unique
// (start time and random digits), but names given by users may repeat
// across clusters: then the error lists the clusters that have one, to
// choose from. storage.ErrNotFound when no cluster has it.
func (r *Repository) FindBackup(ctx context.Context, id string) (*Manifest, error) {
	if err := ValidateBackupID(id); err != nil {
		return nil, err
	}
	clusters, err := r.Clusters(ctx)
	if err != nil {
		return nil, err
	}
	var found []*Manifest
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
		return nil, fmt.Errorf("no cluster has a backup %q in %s (clusters: %s); `kubectl kbackup backup list --all-clusters` lists them: %w",
			id, r.backend, orNone(clusters), storage.ErrNotFound)
	}
	names := make([]string, len(found))
	for i, m := range found {
		names[i] = m.Cluster.Name
	}
	return nil, invalidf("backup %q exists for clusters %s; say which with the cluster name", id, strings.Join(names, ", "))
}

func orNone(names []string) string {
	if len(names) == 0 {
		return "none"
	}
	return strings.Join(names, ", ")
}
