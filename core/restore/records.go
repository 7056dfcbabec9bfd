package restore

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"

	"golang.org/x/sync/errgroup"

	"github.com/kbackup/kbackup/core/repo"
)

// Record is a restore's record as the repository holds it: what the
// restore did (Apply's Result), and the key it is stored under.
type Record struct {
	Key    string
	Result *Result
}

// recordReads bounds the records read at once.
const recordReads = 8

// ListRecords reads a cluster's restore records, a few at a time, oldest
// first. Records that cannot be decoded are returned apart, each naming
// its key, so that one damaged record does not hide the others.
func ListRecords(ctx context.Context, r *repo.Repository, cluster string) ([]Record, []error, error) {
	infos, err := r.ListRestores(ctx, cluster)
	if err != nil {
		return nil, nil, err
	}
	records := make([]*Record, len(infos))
	var (
		mu  sync.Mutex
		bad []error
	)
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(recordReads)
	for i, info := range infos {
		g.Go(func() error {
			var res Result
			if err := r.ReadRestoreRecord(gctx, cluster, info.ID, &res); err != nil {
				if errors.Is(err, repo.ErrCorrupt) {
					mu.Lock()
					bad = append(bad, err)
					mu.Unlock()
					return nil
				}
				return err
			}
			records[i] = &Record{Key: info.Key, Result: &res}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return nil, nil, err
	}
	var out []Record
	for _, rec := range records {
		if rec != nil {
			out = append(out, *rec)
		}
	}
	// Oldest first: IDs of one second differ by a random suffix.
	slices.SortStableFunc(out, func(a, b Record) int { return a.Result.StartedAt.Compare(b.Result.StartedAt) })
	return out, bad, nil
}

// ReadRecord reads the record of restore id of cluster, or, when cluster
// is empty, of whichever cluster recorded it.
func ReadRecord(ctx context.Context, r *repo.Repository, cluster, id string) (*Record, error) {
	var res Result
	if cluster == "" {
		var err error
		if cluster, err = r.FindRestoreRecord(ctx, id, &res); err != nil {
			return nil, err
		}
	} else if err := r.ReadRestoreRecord(ctx, cluster, id, &res); err != nil {
		return nil, fmt.Errorf("reading restore %s of cluster %s: %w", id, cluster, err)
	}
	return &Record{Key: r.Layout().RestoreRecord(cluster, res.ID), Result: &res}, nil
}
