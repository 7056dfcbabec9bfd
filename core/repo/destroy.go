package repo

import (
	"context"
	"errors"
	"fmt"
	"strings"
)

// ErrNotEmpty: a repository to destroy still holds backups.
var ErrNotEmpty = errors.New("repository holds backups")

// BackupCount counts the backup manifests of every cluster, by cluster;
// one listing of the repository.
func (r *Repository) BackupCount(ctx context.Context) (map[string]int, error) {
	counts := map[string]int{}
	for obj, err := range r.backend.List(ctx, r.layout.Prefix()) {
		if err != nil {
			return nil, err
		}
		if info, err := r.layout.Parse(obj.Key); err == nil && info.Kind == KindManifest {
			counts[info.Cluster]++
		}
	}
	return counts, nil
}

// Destroy deletes every object of the repository, _kbackup.json last, so
// that an interrupted destroy leaves a repository that can be destroyed
// again. It refuses, with ErrNotEmpty naming the clusters, while backups
// exist, unless force is set.
func (r *Repository) Destroy(ctx context.Context, force bool) error {
	if !force {
		counts, err := r.BackupCount(ctx)
		if err != nil {
			return err
		}
		if len(counts) > 0 {
			var parts []string
			for c, n := range counts {
				parts = append(parts, fmt.Sprintf("%s (%d)", c, n))
			}
			return fmt.Errorf("%w: %s has backups of %s; delete them first, or destroy with force",
				ErrNotEmpty, r.backend, strings.Join(parts, ", "))
		}
	}
	var keys []string
	for obj, err := range r.backend.List(ctx, r.layout.Prefix()) {
		if err != nil {
			return err
		}
		if obj.Key != r.layout.Config() {
			keys = append(keys, obj.Key)
		}
	}
	for _, k := range keys {
		if err := r.backend.Delete(ctx, k); err != nil {
			return err
		}
	}
	return r.backend.Delete(ctx, r.layout.Config())
}
