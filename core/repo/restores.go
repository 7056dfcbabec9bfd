package repo

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	jsonv2 "github.com/go-json-experiment/json"
	jsonv1 "github.com/go-json-experiment/json/v1"

	"github.com/kbackup/kbackup/core/storage"
)

// WriteRestoreRecord stores what a restore did as
// <cluster>/_restores/<id>.json. The record is any JSON-marshalable value;
// the restore package defines it. A restore ID is written once: a second
// write fails with storage.ErrAlreadyExists.
func (r *Repository) WriteRestoreRecord(ctx context.Context, cluster, restoreID string, record any) error {
	if err := ValidateClusterName(cluster); err != nil {
		return err
	}
	if err := validateID("restore ID", restoreID); err != nil {
		return err
	}
	// Compact, and written as it is encoded into one buffer sized for it:
	// a record lists every object restored, and json.MarshalIndent held
	// about three growing copies of 50,000 of them at the end of the
	// restore, its peak of memory (docs/benchmarks.md).
	var buf bytes.Buffer
	if n, ok := recordSizeHint(record); ok {
		buf.Grow(n)
	}
	if err := jsonv2.MarshalWrite(&buf, record, jsonv1.DefaultOptionsV1()); err != nil {
		return fmt.Errorf("encoding restore record %s: %w", restoreID, err)
	}
	data := append(buf.Bytes(), '\n')
	err := r.backend.PutIfAbsent(ctx, r.layout.RestoreRecord(cluster, restoreID), data)
	if errors.Is(err, storage.ErrAlreadyExists) {
		return fmt.Errorf("restore %s of cluster %s is already recorded; a restore ID is written once: %w", restoreID, cluster, err)
	}
	return err
}

// RecordSizeHinter is a restore record that can tell about how many bytes
// its JSON takes.
type RecordSizeHinter interface{ SizeHint() int }

func recordSizeHint(record any) (int, bool) {
	if h, ok := record.(RecordSizeHinter); ok {
		return h.SizeHint(), true
	}
	return 0, false
}

// ReadRestoreRecord decodes a restore record into record (a pointer).
func (r *Repository) ReadRestoreRecord(ctx context.Context, cluster, restoreID string, record any) error {
	if err := ValidateClusterName(cluster); err != nil {
		return err
	}
	if err := validateID("restore ID", restoreID); err != nil {
		return err
	}
	key := r.layout.RestoreRecord(cluster, restoreID)
	data, err := r.backend.Get(ctx, key)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(data, record); err != nil {
		return fmt.Errorf("restore record %s in %s: %w: %v", key, r.backend, ErrCorrupt, err)
	}
	return nil
}

// RestoreRecordInfo is a restore record as listed.
type RestoreRecordInfo struct {
	ID   string
	Key  string
	Size int64
	// WrittenAt is when the record was written, by the storage's clock.
	WrittenAt time.Time
}

// ListRestores lists a cluster's restore records, sorted by ID.
func (r *Repository) ListRestores(ctx context.Context, cluster string) ([]RestoreRecordInfo, error) {
	if err := ValidateClusterName(cluster); err != nil {
		return nil, err
	}
	var out []RestoreRecordInfo
	for obj, err := range r.backend.List(ctx, r.layout.Restores(cluster)) {
		if err != nil {
			return nil, err
		}
		info, err := r.layout.Parse(obj.Key)
		if err != nil || info.Kind != KindRestoreRecord {
			continue
		}
		out = append(out, RestoreRecordInfo{ID: info.Name, Key: obj.Key, Size: obj.Size, WrittenAt: obj.ModTime})
	}
	slices.SortFunc(out, func(a, b RestoreRecordInfo) int { return strings.Compare(a.ID, b.ID) })
	return out, nil
}

// FindRestoreRecord decodes the record of restore id into record, whichever
// cluster it was recorded under, and returns that cluster, so that a
// restore can be named by its ID alone (as catalog.Resolve does for backups).
// storage.ErrNotFound when no cluster of the registry has it.
func (r *Repository) FindRestoreRecord(ctx context.Context, id string, record any) (string, error) {
	if err := validateID("restore ID", id); err != nil {
		return "", err
	}
	clusters, err := r.Clusters(ctx)
	if err != nil {
		return "", err
	}
	var found []string
	for _, cluster := range clusters {
		if _, err := r.backend.Stat(ctx, r.layout.RestoreRecord(cluster, id)); err == nil {
			found = append(found, cluster)
		} else if !errors.Is(err, storage.ErrNotFound) {
			return "", err
		}
	}
	switch len(found) {
	case 0:
		listed := "none"
		if len(clusters) > 0 {
			listed = strings.Join(clusters, ", ")
		}
		return "", fmt.Errorf("no cluster has a restore %q in %s (clusters: %s): %w", id, r.backend, listed, storage.ErrNotFound)
	case 1:
		return found[0], r.ReadRestoreRecord(ctx, found[0], id, record)
	}
	return "", invalidf("restore %q exists for clusters %s; say which with the cluster name", id, strings.Join(found, ", "))
}
