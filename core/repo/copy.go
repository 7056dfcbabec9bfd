package repo

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"

	"github.com/kbackup/kbackup/core/storage"
)

// CopyPackFrom copies the pack ref from src into r at the same key, byte
// for byte, so that r's manifests can name it with src's entry (its stored
// size is part of the entry). The stored object is checked as ReadPack
// checks it (size, zstd frame, decompressed size, SHA-256) before anything
// is written: src is untrusted input, and a pack that fails is not copied.
// It returns the number of bytes written.
func (r *Repository) CopyPackFrom(ctx context.Context, src *Repository, ref PackRef) (int64, error) {
	if err := ref.validate(); err != nil {
		return 0, fmt.Errorf("copying pack from %s: %w", src.backend, err)
	}
	srcKey := src.layout.prefix + ref.Key()
	data, err := storage.GetAtMost(ctx, src.backend, srcKey, ref.Size)
	switch {
	case errors.Is(err, storage.ErrTooLarge):
		return 0, fmt.Errorf("pack %s in %s: %w: the stored object is larger than the %d bytes its manifest entry says", srcKey, src.backend, ErrCorrupt, ref.Size)
	case err != nil:
		return 0, err
	case int64(len(data)) != ref.Size:
		return 0, fmt.Errorf("pack %s in %s: %w: the stored object is %d bytes, its manifest entry says %d", srcKey, src.backend, ErrCorrupt, len(data), ref.Size)
	}
	content, err := decodePack(data, ref.RawSize)
	if err != nil {
		return 0, fmt.Errorf("pack %s in %s: %w: %v", srcKey, src.backend, ErrCorrupt, err)
	}
	sum := sha256.Sum256(content)
	if actual := hex.EncodeToString(sum[:]); actual != ref.SHA256 {
		return 0, fmt.Errorf("pack %s in %s: %w: its content has sha256 %s, expected %s", srcKey, src.backend, ErrCorrupt, actual, ref.SHA256)
	}
	if err := r.backend.Put(ctx, r.layout.prefix+ref.Key(), data); err != nil {
		return 0, err
	}
	return int64(len(data)), nil
}

// StoredPacks lists the packs stored under a cluster's keys, by key
// relative to the repository (as manifests name them), with their stored
// sizes: what a copy into this repository need not send again.
func (r *Repository) StoredPacks(ctx context.Context, cluster string) (map[string]int64, error) {
	if err := ValidateClusterName(cluster); err != nil {
		return nil, err
	}
	stored := map[string]int64{}
	for obj, err := range r.backend.List(ctx, r.layout.Cluster(cluster)) {
		if err != nil {
			return nil, err
		}
		info, err := r.layout.Parse(obj.Key)
		if err != nil || info.Kind != KindPack || info.Cluster != cluster {
			continue
		}
		stored[packPath(info.Cluster, info.Namespace, info.Resource, info.SHA256)] = obj.Size
	}
	return stored, nil
}

// BackupIDs lists the IDs of a cluster's manifests, sorted, without
// reading them.
func (r *Repository) BackupIDs(ctx context.Context, cluster string) ([]string, error) {
	if err := ValidateClusterName(cluster); err != nil {
		return nil, err
	}
	infos, _, err := r.manifestKeys(ctx, cluster)
	if err != nil {
		return nil, err
	}
	ids := make([]string, len(infos))
	for i, info := range infos {
		ids[i] = info.Name
	}
	slices.Sort(ids)
	return ids, nil
}
