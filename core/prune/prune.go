// Package prune removes the backups that a cluster's retention policy
// does not keep: it plans from the cluster summaries (which backups,
// which policy, which rule keeps each), then deletes the manifests and
// collects the packs no manifest references with core/repo's DeleteBackup,
// which respects running backups.
package prune

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/kbackup/kbackup/core/fleet"
	"github.com/kbackup/kbackup/core/repo"
	"github.com/kbackup/kbackup/core/retention"
	"github.com/kbackup/kbackup/core/storage"
)

// Options say what to prune and by which policy.
type Options struct {
	// Clusters are the clusters to prune; empty means every cluster of the
	// repository (registered or seen in backups).
	Clusters []string
	// Given are rules for this run, which win over every stored or
	// configured policy; nil for none.
	Given *fleet.RetentionRules
	// ConfigDays and Environments are kbackup.yaml's retention_policies
	// and environment names (retention.Sources).
	ConfigDays   map[string]int
	Environments []string
	// Location is the time zone of the hourly, daily, weekly and monthly
	// buckets (default UTC).
	Location *time.Location
	// Concurrency bounds the clusters planned at once (default 16).
	Concurrency int
}

// Decision is one backup and what the policy says of it.
type Decision struct {
	ID        string             `json:"id"`
	Phase     repo.Phase         `json:"phase"`
	StartedAt time.Time          `json:"startedAt"`
	Keep      bool               `json:"keep"`
	Reasons   []retention.Reason `json:"keptBy,omitempty"`
}

// ClusterPlan is what pruning a cluster keeps and removes.
type ClusterPlan struct {
	Cluster string            `json:"cluster"`
	Policy  *retention.Policy `json:"policy,omitempty"`
	// Decisions are newest first.
	Decisions []Decision `json:"backups"`
	// Skipped says why nothing of the cluster is removed (no policy,
	// unreadable manifests); "" when it is pruned.
	Skipped string `json:"skipped,omitempty"`
	// BytesFreed is what removing the backups frees: in a plan, what the
	// packs that only they reference take now; after Execute, what was
	// deleted.
	BytesFreed int64 `json:"bytesFreed"`
	// PacksFreed counts those packs.
	PacksFreed int `json:"packsFreed"`
	// Removed are the backups Execute removed.
	Removed []string `json:"removed,omitempty"`
	// GCSkipped says why packs were not collected (a backup running).
	GCSkipped string `json:"gcSkipped,omitempty"`
}

// ToRemove are the IDs of the backups the plan removes.
func (p *ClusterPlan) ToRemove() []string {
	var ids []string
	if p.Skipped != "" {
		return nil
	}
	for _, d := range p.Decisions {
		if !d.Keep {
			ids = append(ids, d.ID)
		}
	}
	return ids
}

// Clusters lists every cluster of the repository: registered, or with a
// summary of its backups.
func Clusters(ctx context.Context, r *repo.Repository) ([]string, error) {
	registered, err := r.Clusters(ctx)
	if err != nil {
		return nil, err
	}
	summarized, err := r.SummaryClusters(ctx)
	if err != nil {
		return nil, err
	}
	all := append(registered, summarized...)
	slices.Sort(all)
	return slices.Compact(all), nil
}

// Plan decides, for each cluster, which backups its policy keeps, and
// what removing the others would free. It deletes nothing. An invalid
// policy of any cluster fails the whole plan, so that nothing is deleted
// on a policy nobody meant; a cluster named in opts.Clusters without a
// policy fails it too, while a cluster found in the repository without one
// is kept whole and says why.
func Plan(ctx context.Context, r *repo.Repository, opts Options) ([]*ClusterPlan, error) {
	named := len(opts.Clusters) > 0
	clusters := opts.Clusters
	if !named {
		var err error
		if clusters, err = Clusters(ctx, r); err != nil {
			return nil, err
		}
	}
	for _, c := range clusters {
		if err := repo.ValidateClusterName(c); err != nil {
			return nil, err
		}
	}
	policies, err := readPolicies(ctx, r)
	if err != nil {
		return nil, err
	}
	loc := opts.Location
	if loc == nil {
		loc = time.UTC
	}
	plans := make([]*ClusterPlan, len(clusters))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(cmpOr(opts.Concurrency, 16))
	for i, c := range clusters {
		g.Go(func() error {
			p, err := planCluster(gctx, r, c, opts, policies, loc, named)
			plans[i] = p
			return err
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	return plans, nil
}

// storedPolicies are the repository's retention policies: its default, and
// those scoped to clusters, by cluster.
type storedPolicies struct {
	def    *fleet.RetentionPolicy
	scoped map[string][]*fleet.RetentionPolicy
}

func readPolicies(ctx context.Context, r *repo.Repository) (storedPolicies, error) {
	all, err := r.ListRetentionPolicies(ctx)
	if err != nil {
		return storedPolicies{}, fmt.Errorf("reading the repository's retention policies: %w", err)
	}
	sp := storedPolicies{scoped: map[string][]*fleet.RetentionPolicy{}}
	for _, p := range all {
		if p.Name == retention.DefaultPolicyName {
			sp.def = p
		}
		for _, c := range p.Clusters {
			sp.scoped[c] = append(sp.scoped[c], p)
		}
	}
	return sp, nil
}

func planCluster(ctx context.Context, r *repo.Repository, cluster string, opts Options, policies storedPolicies, loc *time.Location, named bool) (*ClusterPlan, error) {
	entry, err := r.GetCluster(ctx, cluster)
	if errors.Is(err, storage.ErrNotFound) {
		entry, err = nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading the registry entry of cluster %s: %w", cluster, err)
	}
	plan := &ClusterPlan{Cluster: cluster}
	policy, err := retention.Resolve(cluster, retention.Sources{Given: opts.Given, Entry: entry,
		Scoped: policies.scoped[cluster], Default: policies.def, ConfigDays: opts.ConfigDays, Environments: opts.Environments})
	var none *retention.NoPolicyError
	switch {
	case errors.As(err, &none) && !named:
		plan.Skipped = err.Error()
	case err != nil:
		return nil, err
	default:
		plan.Policy = &policy
	}
	summary, _, err := r.CurrentSummary(ctx, cluster)
	if err != nil {
		return nil, fmt.Errorf("reading the backups of cluster %s: %w", cluster, err)
	}
	if named && entry == nil && len(summary.Backups) == 0 {
		return nil, fmt.Errorf("cluster %s is not in %s: it is not registered and has no backups", cluster, r)
	}
	if summary.Unreadable > 0 && plan.Skipped == "" {
		plan.Skipped = fmt.Sprintf("%d manifests of cluster %s cannot be read (kbackup verify names them); nothing of it is removed until they are repaired or deleted", summary.Unreadable, cluster)
	}
	backups := make([]retention.Backup, len(summary.Backups))
	phases := map[string]repo.Phase{}
	for i, b := range summary.Backups {
		backups[i] = retention.Backup{ID: b.ID, Time: b.StartedAt, Failed: b.Phase == repo.PhaseFailed}
		phases[b.ID] = b.Phase
	}
	if plan.Policy == nil {
		for i := len(backups) - 1; i >= 0; i-- {
			plan.Decisions = append(plan.Decisions, Decision{ID: backups[i].ID, Phase: phases[backups[i].ID], StartedAt: backups[i].Time, Keep: true})
		}
		return plan, nil
	}
	decisions, err := retention.Apply(backups, plan.Policy.Rules, loc)
	if err != nil {
		return nil, fmt.Errorf("cluster %s: %w", cluster, err)
	}
	for _, d := range decisions {
		keep := d.Keep || plan.Skipped != ""
		plan.Decisions = append(plan.Decisions, Decision{ID: d.ID, Phase: phases[d.ID], StartedAt: d.Time, Keep: keep, Reasons: d.Reasons})
	}
	if remove := plan.ToRemove(); len(remove) > 0 {
		gc, err := r.CollectGarbage(ctx, cluster, repo.GCOptions{DryRun: true, Without: remove})
		if err != nil {
			return nil, fmt.Errorf("cluster %s: finding the packs only the removed backups use: %w", cluster, err)
		}
		plan.BytesFreed, plan.PacksFreed = gc.BytesDeleted, len(gc.Deleted)
		plan.GCSkipped = gc.SkippedBecause
	}
	return plan, nil
}

// Execute removes the backups each plan removes, one cluster after
// another, and rebuilds each pruned cluster's summary. Packs are collected
// by repo.DeleteBackup: not while a backup of the cluster runs, nor younger
// than the grace period; the plan's BytesFreed becomes what was deleted.
// It stops at the first error; the plans say what was removed until then.
func Execute(ctx context.Context, r *repo.Repository, plans []*ClusterPlan) error {
	for _, p := range plans {
		remove := p.ToRemove()
		if len(remove) == 0 {
			continue
		}
		p.BytesFreed, p.PacksFreed, p.GCSkipped = 0, 0, ""
		change, err := r.BeginManifestChange(ctx, p.Cluster)
		if err != nil {
			return fmt.Errorf("pruning cluster %s: %w", p.Cluster, err)
		}
		for _, id := range remove {
			report, err := change.DeleteBackup(ctx, id)
			var nf *repo.BackupNotFoundError
			if errors.As(err, &nf) {
				continue // deleted by someone else since the plan
			}
			if report != nil {
				if report.DeletedManifest != "" {
					p.Removed = append(p.Removed, id)
				}
				p.BytesFreed += report.BytesDeleted
				p.PacksFreed += len(report.Deleted)
				if report.SkippedBecause != "" {
					p.GCSkipped = report.SkippedBecause
				}
			}
			if err != nil {
				_, _ = change.End(ctx)
				return fmt.Errorf("pruning cluster %s: %w", p.Cluster, err)
			}
		}
		if _, err := change.End(ctx); err != nil {
			return fmt.Errorf("pruned cluster %s, but rebuilding its summary failed (the next reader rebuilds it): %w", p.Cluster, err)
		}
	}
	return nil
}

func cmpOr(n, def int) int {
	if n > 0 {
		return n
	}
	return def
}
