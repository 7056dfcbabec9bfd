package repo

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"

	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/kbackup/kbackup/core/fleet"
	"github.com/kbackup/kbackup/core/storage"
)

// ClusterSettings are the fleet's settings of a cluster, which registering
// writes into its entry. A nil field leaves the entry's value as it is.
type ClusterSettings struct {
	Environment *string
	Region      *string
	// Labels replace the entry's labels.
	Labels    map[string]string
	Priority  *int
	Retention *fleet.RetentionRules
	// Environments, when not empty, are the environments an entry may
	// name (kbackup.yaml's environments).
	Environments []string
}

func (s ClusterSettings) apply(e *fleet.ClusterEntry) {
	if s.Environment != nil {
		e.Environment = *s.Environment
	}
	if s.Region != nil {
		e.Region = *s.Region
	}
	if s.Labels != nil {
		e.Labels = maps.Clone(s.Labels)
	}
	if s.Priority != nil {
		e.Priority = *s.Priority
	}
	if s.Retention != nil {
		r := *s.Retention
		e.Retention = &r
	}
}

func (s ClusterSettings) matches(e *fleet.ClusterEntry) bool {
	want := *e
	s.apply(&want)
	return want.Environment == e.Environment && want.Region == e.Region && maps.Equal(want.Labels, e.Labels) &&
		want.Priority == e.Priority && ((want.Retention == nil) == (e.Retention == nil)) &&
		(want.Retention == nil || *want.Retention == *e.Retention)
}

func (s ClusterSettings) validate(name string) error {
	probe := &fleet.ClusterEntry{Name: name, UID: "-"}
	s.apply(probe)
	errs := probe.Validate(field.NewPath("cluster"))
	if probe.Environment != "" && len(s.Environments) > 0 && !slices.Contains(s.Environments, probe.Environment) {
		errs = append(errs, field.NotSupported(field.NewPath("cluster", "environment"), probe.Environment, s.Environments))
	}
	return invalidFields(errs)
}

// RegisterCluster writes the cluster into the registry: it claims the name
// for the cluster's UID (a conditional create, so that of two clusters
// registering one name one wins; see ClaimCluster) and sets the fleet's
// settings. Nothing is written when the settings are invalid (field errors
// under "cluster"). The settings are written by reading the entry and
// writing it back; a concurrent claim by a backup of the same cluster
// rewrites the entry it read, so the write is read back and done again
// when it was lost.
func (r *Repository) RegisterCluster(ctx context.Context, id ClusterIdentity, settings ClusterSettings, opts ClaimOptions) (*fleet.ClusterEntry, error) {
	if err := ValidateClusterName(id.Name); err != nil {
		return nil, err
	}
	if err := settings.validate(id.Name); err != nil {
		return nil, err
	}
	if _, err := r.ClaimCluster(ctx, id, opts); err != nil {
		return nil, err
	}
	for range 3 {
		entry, err := r.GetCluster(ctx, id.Name)
		if err != nil {
			return nil, err
		}
		if entry.UID != id.UID {
			return nil, fmt.Errorf("%w: cluster name %q was taken by the cluster whose kube-system UID is %s while registering this one (UID %s)",
				ErrClusterNameTaken, id.Name, entry.UID, id.UID)
		}
		settings.apply(entry)
		if err := r.PutClusterEntry(ctx, entry); err != nil {
			return nil, err
		}
		stored, err := r.GetCluster(ctx, id.Name)
		if err != nil {
			return nil, err
		}
		if stored.UID == id.UID && settings.matches(stored) {
			return stored, nil
		}
	}
	return nil, fmt.Errorf("registering cluster %s in %s: its entry was rewritten by another writer three times while registering; try again", id.Name, r.backend)
}

// UnregisterCluster removes a cluster's registry entry. Its backups stay,
// and it stays in the view of the fleet as a cluster seen in backups: its
// summary is made current first. A later backup of the cluster registers
// it again. storage.ErrNotFound when it has no entry.
func (r *Repository) UnregisterCluster(ctx context.Context, name string) (*fleet.ClusterEntry, *ClusterSummary, error) {
	entry, err := r.GetCluster(ctx, name)
	if err != nil {
		return nil, nil, err
	}
	summary, _, err := r.CurrentSummary(ctx, name)
	if err != nil {
		return nil, nil, fmt.Errorf("unregistering cluster %s: reading its backups, so that they stay listed: %w", name, err)
	}
	if len(summary.Backups) > 0 {
		// CurrentSummary's write back is best effort; this one is not:
		// without it the cluster's backups would be found by nothing.
		if _, err := r.ReadSummary(ctx, name); errors.Is(err, storage.ErrNotFound) {
			// Written without a pending change, so not journaled: readers
			// check it against the manifests.
			summary.Journaled = false
			if err := r.writeSummary(ctx, summary); err != nil {
				return nil, nil, fmt.Errorf("unregistering cluster %s: %w", name, err)
			}
		}
	}
	if err := r.backend.Delete(ctx, r.layout.ClusterEntry(name)); err != nil {
		return nil, nil, err
	}
	return entry, summary, nil
}
