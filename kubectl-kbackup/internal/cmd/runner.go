package cmd

import (
	"context"
	"errors"
	"fmt"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/kbackup/kbackup/core/repo"
	"github.com/kbackup/kbackup/core/retention"
)

// commandOptions is what the options of every command implement, as in
// k8s.io/sample-cli-plugin: fill in from flags, arguments and configuration;
// reject bad input; do it.
type commandOptions interface {
	Complete(fs *pflag.FlagSet, args []string) error
	Validate() error
	Run(ctx context.Context) error
}

// runOptions is the RunE of a command: Complete, Validate, then Run.
func runOptions(o commandOptions) func(*cobra.Command, []string) error {
	return func(c *cobra.Command, args []string) error {
		if err := o.Complete(c.Flags(), args); err != nil {
			return err
		}
		if err := o.Validate(); err != nil {
			return err
		}
		return repositoryHints(o.Run(c.Context()))
	}
}

// repositoryHints adds to core's errors about what the repository holds
// the commands and flags that help: core names no command and no flag.
func repositoryHints(err error) error {
	var (
		notFound *repo.BackupNotFoundError
		noPolicy *retention.NoPolicyError
	)
	switch {
	case err == nil:
		return nil
	case errors.Is(err, repo.ErrNoRepository):
		return fmt.Errorf("%w\nRun `kubectl kbackup backup create` to create one there, or check the storage URL (--storage, KBACKUP_STORAGE or storage.url)", err)
	case errors.As(err, &notFound) && notFound.Cluster != "" && notFound.ID != "":
		return fmt.Errorf("%w\n`kubectl kbackup backup list --cluster %s` lists its backups", err, notFound.Cluster)
	case errors.As(err, &noPolicy):
		return fmt.Errorf("%w\nGive the rules as flags (--keep-daily 7, --keep-within 90d, …; see --help), store them for the cluster with `kubectl kbackup cluster register --keep-daily 7`, or give its environment days in retention_policies of kbackup.yaml", err)
	case errors.As(err, &notFound):
		// No cluster has the ID, or the cluster has no backup at all.
		return fmt.Errorf("%w\n`kubectl kbackup backup list --all-clusters` lists every cluster's backups; name the cluster with --cluster (--from-cluster for restore, diff and export)", err)
	}
	return err
}

// clusterSelection is --cluster NAME or --all-clusters, which the listing
// and checking commands share.
type clusterSelection struct {
	// Cluster is --cluster; empty means the current context's cluster.
	Cluster     string
	AllClusters bool
}

// addFlags registers --cluster and --all-clusters; what says what the
// command does with them ("List the backups").
func (s *clusterSelection) addFlags(fs *pflag.FlagSet, clusterHelp, allHelp string) {
	fs.StringVar(&s.Cluster, "cluster", "", clusterHelp)
	fs.BoolVar(&s.AllClusters, "all-clusters", false, allHelp)
}

func (s *clusterSelection) validate() error {
	if s.AllClusters && s.Cluster != "" {
		return errors.New("--cluster and --all-clusters exclude each other: name one cluster, or ask for all")
	}
	if s.Cluster != "" {
		if err := repo.ValidateClusterName(s.Cluster); err != nil {
			return flagErrors(err, map[string]string{"cluster.name": "--cluster"})
		}
	}
	return nil
}

// clusters returns the clusters selected: every cluster of the repository,
// or the one --cluster, the configuration or the current context names.
func (s *clusterSelection) clusters(ctx context.Context, g *GlobalOptions, cfg *LoadedConfig, r *repo.Repository) ([]string, error) {
	if s.AllClusters {
		return r.Clusters(ctx)
	}
	cluster, err := g.clusterName(ctx, cfg, s.Cluster)
	if err != nil {
		return nil, err
	}
	return []string{cluster}, nil
}

// describe names the selection in messages.
func (s *clusterSelection) describe(clusters []string) string {
	switch {
	case s.AllClusters && len(clusters) == 0:
		return "any cluster (the repository is empty)"
	case s.AllClusters:
		return "any cluster"
	}
	return "cluster " + clusters[0]
}
