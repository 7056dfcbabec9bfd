package cmd

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
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
		Example: `  # The restores into the current context's cluster
  kubectl kbackup restore list

  # The restores into another cluster, for a script
  kubectl kbackup restore list --cluster dr-us -o json

  # Every cluster's
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

// readRestores reads a cluster's restore records (restore.ListRecords) as
// list items. Records that cannot be decoded are returned apart.
func readRestores(ctx context.Context, r *repo.Repository, cluster string) ([]ui.RestoreSummary, []error, error) {
	records, bad, err := restore.ListRecords(ctx, r, cluster)
	if err != nil {
		return nil, nil, err
	}
	out := make([]ui.RestoreSummary, len(records))
	for i, rec := range records {
		out[i] = ui.NewRestoreSummary(rec.Result, rec.Key)
	}
	return out, bad, nil
}
