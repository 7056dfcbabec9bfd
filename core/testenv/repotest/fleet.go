package repotest

import (
	"context"
	"fmt"
	"time"

	"golang.org/x/sync/errgroup"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/kbackup/kbackup/core/repo"
)

// FleetSpec says what GenerateFleet writes.
type FleetSpec struct {
	Clusters int
	// Backups per cluster, one every Interval, the newest at Newest.
	Backups  int
	Interval time.Duration
	Newest   time.Time
	// SharedPacks every backup of a cluster references; each backup adds
	// one pack of its own every NewPackEvery backups.
	SharedPacks  int
	NewPackEvery int
	// Concurrency bounds the writes in flight (default 32).
	Concurrency int
}

// ClusterName is the name of generated cluster i.
func ClusterName(i int) string { return fmt.Sprintf("cluster-%04d", i) }

// GenerateFleet writes a synthetic repository: registered clusters
// (environments dev, test, prod in turn, region eu-west-1), each with
// backups whose manifests reference small real packs, every tenth backup
// Failed, and each cluster's summary, as backups would have left them. It
// writes through the repository's own API (packs, registry, manifests in
// the format's encoding), so readers see a repository like any other.
func GenerateFleet(ctx context.Context, r *repo.Repository, spec FleetSpec) error {
	if spec.Concurrency <= 0 {
		spec.Concurrency = 32
	}
	if spec.NewPackEvery <= 0 {
		spec.NewPackEvery = 10
	}
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(spec.Concurrency)
	for i := range spec.Clusters {
		g.Go(func() error { return generateCluster(gctx, r, i, spec) })
	}
	return g.Wait()
}

var envs = []string{"dev", "test", "prod"}

func generateCluster(ctx context.Context, r *repo.Repository, i int, spec FleetSpec) error {
	name := ClusterName(i)
	id := repo.ClusterIdentity{Name: name, UID: fmt.Sprintf("uid-%04d", i), Provider: "aws", Distribution: "eks", KubernetesVersion: "v1.36.0", Server: "https://" + name + ".example.com"}
	env, region := envs[i%len(envs)], "eu-west-1"
	if _, err := r.RegisterCluster(ctx, id, repo.ClusterSettings{Environment: &env, Region: &region}, repo.ClaimOptions{}); err != nil {
		return err
	}
	gvk := schema.GroupVersionKind{Version: "v1", Kind: "ConfigMap"}
	writePack := func(ns string, n int) (repo.PackEntry, error) {
		content := fmt.Appendf(nil, "---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm-%d\n  namespace: %s\ndata:\n  n: \"%d\"\n", n, ns, n)
		ref, _, err := r.WritePack(ctx, repo.PackSpec{Cluster: name, Namespace: ns, Resource: "configmaps"}, content, nil)
		if err != nil {
			return repo.PackEntry{}, err
		}
		return repo.NewPackEntry(ref, gvk, []string{fmt.Sprintf("cm-%d", n)}), nil
	}
	var shared []repo.PackEntry
	for p := range spec.SharedPacks {
		e, err := writePack(fmt.Sprintf("app-%d", p), p)
		if err != nil {
			return err
		}
		shared = append(shared, e)
	}
	var own []repo.PackEntry
	for b := range spec.Backups {
		started := spec.Newest.Add(-time.Duration(spec.Backups-1-b) * spec.Interval).UTC()
		packs := append([]repo.PackEntry(nil), shared...)
		if b%spec.NewPackEvery == 0 {
			e, err := writePack("changing", b)
			if err != nil {
				return err
			}
			own = append(own, e)
		}
		if len(own) > 0 {
			packs = append(packs, own[len(own)-1])
		}
		phase := repo.PhaseCompleted
		if b%10 == 9 {
			phase = repo.PhaseFailed
		}
		var stored int64
		for _, p := range packs {
			stored += p.Size
		}
		m := &repo.Manifest{
			FormatVersion: repo.FormatVersion,
			ID:            repo.NewID(started),
			Cluster:       id,
			Phase:         phase,
			StartedAt:     started,
			CompletedAt:   started.Add(40 * time.Second),
			Stats:         repo.Stats{Objects: len(packs), Packs: len(packs), BytesStored: stored},
			Packs:         packs,
		}
		data, err := repo.MarshalManifest(m)
		if err != nil {
			return err
		}
		if err := r.Backend().PutIfAbsent(ctx, r.Layout().Manifest(name, m.ID), data); err != nil {
			return err
		}
	}
	_, err := r.RebuildSummary(ctx, name)
	return err
}
