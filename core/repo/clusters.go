package repo

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"golang.org/x/sync/errgroup"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/kbackup/kbackup/core/fleet"
	"github.com/kbackup/kbackup/core/storage"
	"github.com/kbackup/kbackup/core/version"
)

// validateEntry checks a registry entry: the format version, and the
// fleet's rules (field errors under "cluster").
func validateEntry(e *fleet.ClusterEntry) error {
	errs := e.Validate(field.NewPath("cluster"))
	if e.FormatVersion != FormatVersion {
		errs = append(errs, field.Invalid(field.NewPath("cluster", "formatVersion"), e.FormatVersion, fmt.Sprintf("want %d", FormatVersion)))
	}
	return invalidFields(errs)
}

// ClaimOptions tune ClaimCluster.
type ClaimOptions struct {
	// Override gives the name to this cluster even when another cluster
	// (another UID) holds it: for a cluster rebuilt under its old name.
	Override bool
}

// ClaimCluster makes sure the cluster name belongs to this cluster's UID.
// The first cluster to claim a name creates its entry with a conditional
// write, so of two racing clusters one wins. A claim by the same UID
// refreshes the identity and LastSeen. A claim by another UID fails with
// ErrClusterNameTaken, naming both UIDs, unless opts.Override is set.
func (r *Repository) ClaimCluster(ctx context.Context, id ClusterIdentity, opts ClaimOptions) (*fleet.ClusterEntry, error) {
	if err := ValidateClusterName(id.Name); err != nil {
		return nil, err
	}
	if id.UID == "" {
		return nil, invalidFields(field.ErrorList{field.Required(field.NewPath("cluster", "uid"),
			fmt.Sprintf("cluster %s needs its UID (the kube-system namespace UID) to claim the name with", id.Name))})
	}
	now := time.Now().UTC().Truncate(time.Second)
	key := r.layout.ClusterEntry(id.Name)
	// Two rounds: a claim that loses the creation race reads the winner.
	for range 2 {
		existing, err := r.GetCluster(ctx, id.Name)
		if errors.Is(err, storage.ErrNotFound) {
			entry := &fleet.ClusterEntry{FormatVersion: FormatVersion, FirstSeen: now}
			setIdentity(entry, id, now)
			data, err := marshalJSON(entry)
			if err != nil {
				return nil, err
			}
			err = r.backend.PutIfAbsent(ctx, key, data)
			if errors.Is(err, storage.ErrAlreadyExists) {
				continue
			}
			if err != nil {
				return nil, err
			}
			return entry, nil
		}
		if err != nil {
			return nil, err
		}
		if existing.UID != id.UID && !opts.Override {
			return nil, fmt.Errorf("%w: cluster name %q belongs to the cluster whose kube-system UID is %s (server %s, last seen %s), and this cluster's UID is %s; "+
				"choose another cluster name, or, if the old cluster is gone, claim the name with an explicit override",
				ErrClusterNameTaken, id.Name, existing.UID, orUnknown(existing.Server), existing.LastSeen.Format(time.RFC3339), id.UID)
		}
		setIdentity(existing, id, now)
		data, err := marshalJSON(existing)
		if err != nil {
			return nil, err
		}
		if err := r.backend.Put(ctx, key, data); err != nil {
			return nil, err
		}
		return existing, nil
	}
	return nil, fmt.Errorf("claiming cluster name %s in %s: its entry changed twice while claiming; try again", id.Name, r.backend)
}

func orUnknown(s string) string {
	if s == "" {
		return "unknown"
	}
	return s
}

func setIdentity(e *fleet.ClusterEntry, id ClusterIdentity, now time.Time) {
	e.Name = id.Name
	e.UID = id.UID
	e.Provider = id.Provider
	e.Distribution = id.Distribution
	e.KubernetesVersion = id.KubernetesVersion
	e.Server = id.Server
	e.LastSeen = now
}

// GetCluster reads a cluster's registry entry; storage.ErrNotFound when there is
// none.
func (r *Repository) GetCluster(ctx context.Context, name string) (*fleet.ClusterEntry, error) {
	if err := ValidateClusterName(name); err != nil {
		return nil, err
	}
	key := r.layout.ClusterEntry(name)
	data, err := r.backend.Get(ctx, key)
	if err != nil {
		return nil, err
	}
	// The version first: an entry of a newer format may have fields this
	// kbackup does not know, and is reported as newer, not as corrupt.
	if v, err := formatVersionOf(data); err == nil && v > FormatVersion {
		return nil, fmt.Errorf("cluster entry %s in %s: %w: cluster.formatVersion is %d, written by a newer kbackup; this kbackup (%s) reads version %d: upgrade kbackup",
			key, r.backend, ErrUnsupportedFormat, v, version.Get().Version, FormatVersion)
	}
	entry := new(fleet.ClusterEntry)
	if err := decodeStrict(data, entry); err != nil {
		return nil, fmt.Errorf("cluster entry %s in %s: %w: %v", key, r.backend, ErrCorrupt, err)
	}
	if err := validateEntry(entry); err != nil {
		return nil, fmt.Errorf("cluster entry %s in %s: %w: %v", key, r.backend, ErrCorrupt, err)
	}
	if entry.Name != name {
		return nil, fmt.Errorf("cluster entry %s in %s: %w: it names cluster %q", key, r.backend, ErrCorrupt, entry.Name)
	}
	return entry, nil
}

// PutClusterEntry writes a cluster's registry entry as given, for the
// fleet's settings (environment, region, labels, priority). Identity fields
// are the caller's to keep: read the entry, change it, write it back.
func (r *Repository) PutClusterEntry(ctx context.Context, entry *fleet.ClusterEntry) error {
	if entry.FormatVersion == 0 {
		entry.FormatVersion = FormatVersion
	}
	if err := validateEntry(entry); err != nil {
		return err
	}
	data, err := marshalJSON(entry)
	if err != nil {
		return err
	}
	return r.backend.Put(ctx, r.layout.ClusterEntry(entry.Name), data)
}

// ListClusterEntries reads every registry entry, concurrently, sorted by
// name.
func (r *Repository) ListClusterEntries(ctx context.Context) ([]*fleet.ClusterEntry, error) {
	names, err := r.Clusters(ctx)
	if err != nil {
		return nil, err
	}
	entries := make([]*fleet.ClusterEntry, len(names))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(r.opts.Concurrency)
	for i, name := range names {
		g.Go(func() error {
			e, err := r.GetCluster(gctx, name)
			if errors.Is(err, storage.ErrNotFound) {
				return nil // deleted since the listing
			}
			entries[i] = e
			return err
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	entries = slices.DeleteFunc(entries, func(e *fleet.ClusterEntry) bool { return e == nil })
	slices.SortFunc(entries, func(a, b *fleet.ClusterEntry) int { return strings.Compare(a.Name, b.Name) })
	return entries, nil
}
