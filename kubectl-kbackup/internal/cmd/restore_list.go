package cmd

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"golang.org/x/sync/errgroup"
	"k8s.io/cli-runtime/pkg/genericiooptions"

	"github.com/kbackup/kbackup/core/repo"
	"github.com/kbackup/kbackup/core/restore"
	"github.com/kbackup/kbackup/kubectl-kbackup/internal/ui"
)

// RestoreListOptions lists the restores recorded for a cluster, or for
// every cluster.
type RestoreListOptions struct {
	Global *GlobalOptions

	// clusterSelection names the targets whose restores to list.
	clusterSelection
	Output string

	config *LoadedConfig
	now    func() time.Time

	genericiooptions.IOStreams
}

// NewRestoreListOptions returns the options with their defaults.
func NewRestoreListOptions(global *GlobalOptions, streams genericiooptions.IOStreams) *RestoreListOptions {
	return &RestoreListOptions{Global: global, IOStreams: streams, now: time.Now}
}

// NewCmdRestoreList returns `kubectl kbackup restore list`.
func NewCmdRestoreList(global *GlobalOptions, streams genericiooptions.IOStreams) *cobra.Command {
	o := NewRestoreListOptions(global, streams)
	cmd := &cobra.Command{
		Use:     "list",
		Aliases: []string{"ls"},
		Short:   "List the restores into this cluster, another, or all",
		Long: `List the restores recorded for the cluster of the current context (the
cluster restored into), oldest first, with the backup each came from and the
outcome of its objects. A dry run records nothing and is not listed.`,
		Example: `  kubectl kbackup restore list
  kubectl kbackup restore list --cluster dr-us -o json
  kubectl kbackup restore list --all-clusters`,
		Args: cobra.NoArgs,
		RunE: runOptions(o),
	}
	o.AddFlags(cmd.Flags())
	return cmd
}

// AddFlags registers the command's flags.
func (o *RestoreListOptions) AddFlags(fs *pflag.FlagSet) {
	o.addFlags(fs, "Cluster whose restores to list (default: the current context's).", "List the restores of every cluster in the repository.")
	ui.AddOutputFlag(fs, &o.Output)
}

// Complete reads the configuration.
func (o *RestoreListOptions) Complete(_ *pflag.FlagSet, _ []string) error {
	cfg, err := o.Global.loadConfig()
	o.config = cfg
	return err
}

// Validate checks the flags.
func (o *RestoreListOptions) Validate() error {
	if err := o.clusterSelection.validate(); err != nil {
		return err
	}
	return ui.ValidateOutput(o.Output, false)
}

// Run reads the records and lists them.
func (o *RestoreListOptions) Run(ctx context.Context) error {
	r, err := openRepository(ctx, o.config)
	if err != nil {
		return err
	}
	clusters, err := o.clusters(ctx, o.Global, o.config, r)
	if err != nil {
		return err
	}
	list := ui.RestoreList{Items: []ui.RestoreSummary{}}
	var unreadable []error
	for _, cluster := range clusters {
		items, bad, err := readRestores(ctx, r, cluster)
		if err != nil {
			return err
		}
		list.Items = append(list.Items, items...)
		unreadable = append(unreadable, bad...)
	}
	switch {
	case o.Output != "":
		err = ui.PrintObject(o.Out, o.Output, list)
	case len(list.Items) == 0:
		_, err = fmt.Fprintf(o.ErrOut, "No restores into %s in %s.\n", o.describe(clusters), r)
	default:
		err = ui.RenderRestoreList(o.Out, ui.NewStyles(o.Out), list.Items, o.now())
	}
	if err != nil {
		return err
	}
	if len(unreadable) > 0 {
		return fmt.Errorf("some restore records could not be read and are not listed:\n%w", errors.Join(unreadable...))
	}
	return nil
}

// readRestores reads a cluster's restore records, a few at a time, in ID
// order. Records that cannot be decoded are returned apart.
func readRestores(ctx context.Context, r *repo.Repository, cluster string) ([]ui.RestoreSummary, []error, error) {
	infos, err := r.ListRestores(ctx, cluster)
	if err != nil {
		return nil, nil, err
	}
	items := make([]*ui.RestoreSummary, len(infos))
	var mu sync.Mutex
	var bad []error
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(8)
	for i, info := range infos {
		g.Go(func() error {
			var res restore.Result
			if err := r.ReadRestoreRecord(gctx, cluster, info.ID, &res); err != nil {
				if errors.Is(err, repo.ErrCorrupt) {
					mu.Lock()
					bad = append(bad, err)
					mu.Unlock()
					return nil
				}
				return err
			}
			summary := ui.NewRestoreSummary(&res, info.Key)
			items[i] = &summary
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return nil, nil, err
	}
	var out []ui.RestoreSummary
	for _, it := range items {
		if it != nil {
			out = append(out, *it)
		}
	}
	// Oldest first: IDs of one second differ by a random suffix.
	slices.SortStableFunc(out, func(a, b ui.RestoreSummary) int { return a.StartedAt.Compare(b.StartedAt) })
	return out, bad, nil
}
