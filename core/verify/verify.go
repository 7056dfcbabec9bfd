// Package verify checks that backups can be restored: that every pack they
// reference exists, has the content its SHA-256 names, decodes, and holds
// the objects its manifest entry names where it says (catalog.ReadPack). A
// pack shared by several backups is read once, and a problem names every
// backup it breaks.
package verify

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/kbackup/kbackup/core/catalog"
	"github.com/kbackup/kbackup/core/repo"
	"github.com/kbackup/kbackup/core/storage"
)

// DefaultConcurrency is how many packs are read at once.
const DefaultConcurrency = 8

// Options tune a verification.
type Options struct {
	// Concurrency bounds the packs read at once (default 8).
	Concurrency int
	// Progress receives an event per pack checked, from several
	// goroutines, one at a time.
	Progress func(Event)
}

// Status is what a pack check found.
type Status string

const (
	OK Status = "OK"
	// Missing: the pack does not exist.
	Missing Status = "Missing"
	// Corrupt: it does not decompress, or its content has another hash.
	Corrupt Status = "Corrupt"
	// Unreadable: the storage failed to answer (the pack may be fine).
	Unreadable Status = "Unreadable"
)

// Event is progress for a front end.
type Event struct {
	Key         string
	Status      Status
	Done, Total int
}

// BackupRef names a backup.
type BackupRef struct {
	Cluster string `json:"cluster"`
	ID      string `json:"id"`
}

// Problem is a pack that is not OK, and the backups that reference it.
type Problem struct {
	Key     string      `json:"key"`
	Status  Status      `json:"status"`
	Error   string      `json:"error"`
	Backups []BackupRef `json:"backups"`
}

// BackupResult is one backup's verdict.
type BackupResult struct {
	Cluster    string `json:"cluster"`
	ID         string `json:"id"`
	Packs      int    `json:"packs"`
	Missing    int    `json:"missing"`
	Corrupt    int    `json:"corrupt"`
	Unreadable int    `json:"unreadable"`
}

// OK reports whether every pack of the backup is there and intact.
func (b BackupResult) OK() bool { return b.Missing+b.Corrupt+b.Unreadable == 0 }

// Report is what a verification found.
type Report struct {
	// Backups are the verified backups, by cluster and ID.
	Backups []BackupResult `json:"backups"`
	// Packs counts distinct packs checked; Bytes their stored size.
	Packs      int   `json:"packs"`
	Bytes      int64 `json:"bytes"`
	OK         int   `json:"ok"`
	Missing    int   `json:"missing"`
	Corrupt    int   `json:"corrupt"`
	Unreadable int   `json:"unreadable"`
	// Problems lists the packs that are not OK, by key.
	Problems []Problem `json:"problems,omitempty"`
	// ManifestErrors are manifests that could not be read (they are
	// problems too: their backups cannot be restored).
	ManifestErrors []string      `json:"manifestErrors,omitempty"`
	Duration       time.Duration `json:"durationNanos"`
}

// Healthy reports whether nothing is missing, corrupt or unreadable.
func (r *Report) Healthy() bool {
	return r.Missing+r.Corrupt+r.Unreadable == 0 && len(r.ManifestErrors) == 0
}

// Backups verifies the packs of the given backups.
func Backups(ctx context.Context, r *repo.Repository, manifests []*repo.Manifest, opts Options) (*Report, error) {
	started := time.Now()
	if opts.Concurrency <= 0 {
		opts.Concurrency = DefaultConcurrency
	}
	if opts.Progress == nil {
		opts.Progress = func(Event) {}
	}
	type pack struct {
		entry   repo.PackEntry
		key     string
		backups []BackupRef
		status  Status
		err     error
	}
	byKey := map[string]*pack{}
	var order []*pack
	for _, m := range manifests {
		for _, p := range catalog.Packs(m) {
			pk, ok := byKey[p.Key]
			if !ok {
				pk = &pack{entry: p, key: p.Key}
				byKey[p.Key] = pk
				order = append(order, pk)
			}
			pk.backups = append(pk.backups, BackupRef{Cluster: m.Cluster.Name, ID: m.ID})
		}
	}
	var mu sync.Mutex
	done := 0
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(opts.Concurrency)
	for _, pk := range order {
		g.Go(func() error {
			// Reading through the catalog checks the hash, that the pack
			// decodes, and that it holds what the manifest says where it
			// says: what a restore would read.
			_, err := catalog.ReadPack(gctx, r, pk.entry)
			switch {
			case err == nil:
				pk.status = OK
			case errors.Is(err, storage.ErrNotFound):
				pk.status = Missing
			case errors.Is(err, repo.ErrCorrupt):
				pk.status = Corrupt
			case gctx.Err() != nil:
				return gctx.Err()
			default:
				pk.status = Unreadable
			}
			pk.err = err
			mu.Lock()
			done++
			ev := Event{Key: pk.key, Status: pk.status, Done: done, Total: len(order)}
			opts.Progress(ev)
			mu.Unlock()
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return nil, fmt.Errorf("verifying packs in %s: %w", r, err)
	}

	rep := &Report{Packs: len(order)}
	results := map[BackupRef]*BackupResult{}
	for _, m := range manifests {
		ref := BackupRef{Cluster: m.Cluster.Name, ID: m.ID}
		if _, ok := results[ref]; !ok {
			results[ref] = &BackupResult{Cluster: ref.Cluster, ID: ref.ID}
		}
	}
	for _, pk := range order {
		rep.Bytes += pk.entry.Size
		for _, b := range pk.backups {
			br := results[b]
			br.Packs++
			switch pk.status {
			case Missing:
				br.Missing++
			case Corrupt:
				br.Corrupt++
			case Unreadable:
				br.Unreadable++
			}
		}
		switch pk.status {
		case OK:
			rep.OK++
			continue
		case Missing:
			rep.Missing++
		case Corrupt:
			rep.Corrupt++
		case Unreadable:
			rep.Unreadable++
		}
		rep.Problems = append(rep.Problems, Problem{Key: pk.key, Status: pk.status, Error: pk.err.Error(), Backups: pk.backups})
	}
	for _, br := range results {
		rep.Backups = append(rep.Backups, *br)
	}
	slices.SortFunc(rep.Backups, func(a, b BackupResult) int {
		return cmp.Or(strings.Compare(a.Cluster, b.Cluster), strings.Compare(a.ID, b.ID))
	})
	slices.SortFunc(rep.Problems, func(a, b Problem) int { return strings.Compare(a.Key, b.Key) })
	rep.Duration = time.Since(started)
	return rep, nil
}

// Cluster verifies every backup of a cluster. Manifests that cannot be
// read are reported in ManifestErrors; the others are verified.
func Cluster(ctx context.Context, r *repo.Repository, cluster string, opts Options) (*Report, error) {
	manifests, err := r.ListBackups(ctx, cluster)
	var manifestErrors []string
	if err != nil {
		if !errors.Is(err, repo.ErrCorrupt) && !errors.Is(err, repo.ErrUnsupportedFormat) {
			return nil, err
		}
		manifestErrors = splitJoined(err)
	}
	rep, err := Backups(ctx, r, manifests, opts)
	if err != nil {
		return nil, err
	}
	rep.ManifestErrors = manifestErrors
	return rep, nil
}

// All verifies every backup of every cluster in the repository.
func All(ctx context.Context, r *repo.Repository, opts Options) (*Report, error) {
	clusters, err := r.Clusters(ctx)
	if err != nil {
		return nil, err
	}
	var manifests []*repo.Manifest
	var manifestErrors []string
	for _, c := range clusters {
		ms, err := r.ListBackups(ctx, c)
		if err != nil {
			if !errors.Is(err, repo.ErrCorrupt) && !errors.Is(err, repo.ErrUnsupportedFormat) {
				return nil, err
			}
			manifestErrors = append(manifestErrors, splitJoined(err)...)
		}
		manifests = append(manifests, ms...)
	}
	rep, err := Backups(ctx, r, manifests, opts)
	if err != nil {
		return nil, err
	}
	rep.ManifestErrors = manifestErrors
	return rep, nil
}

// splitJoined lists the errors of an errors.Join.
func splitJoined(err error) []string {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		var out []string
		for _, e := range j.Unwrap() {
			out = append(out, e.Error())
		}
		return out
	}
	return []string{err.Error()}
}
