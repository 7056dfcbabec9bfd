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
	"github.com/kbackup/kbackup/kubectl-kbackup/internal/ui"
)

// BackupListOptions lists the backups of a cluster, or of every cluster.
type BackupListOptions struct {
	Global *GlobalOptions

	clusterSelection
	Output string

	config *LoadedConfig
	now    func() time.Time

	genericiooptions.IOStreams
}

// NewBackupListOptions returns the options with their defaults.
func NewBackupListOptions(global *GlobalOptions, streams genericiooptions.IOStreams) *BackupListOptions {
	return &BackupListOptions{Global: global, IOStreams: streams, now: time.Now}
}

// NewCmdBackupList returns `kubectl kbackup backup list`.
func NewCmdBackupList(global *GlobalOptions, streams genericiooptions.IOStreams) *cobra.Command {
	o := NewBackupListOptions(global, streams)
	cmd := &cobra.Command{
		Use:     "list",
		Aliases: []string{"ls"},
		Short:   "List the backups of this cluster, another, or all",
		Long: `List the backups of the cluster of the current context, oldest first.

The cluster is the one --cluster names, else cluster.name of the
configuration (CLUSTER_NAME), else the one detected from the current
kubeconfig context. --all-clusters lists every cluster of the repository.`,
		Example: `  # The backups of the current context's cluster
  kubectl kbackup backup list

  # Another cluster's, for a script
  kubectl kbackup backup list --cluster prod-eu -o json

  # Every cluster's
  kubectl kbackup backup list --all-clusters`,
		Args: cobra.NoArgs,
		RunE: runOptions(o),
	}
	o.AddFlags(cmd.Flags())
	return cmd
}

// AddFlags registers the command's flags.
func (o *BackupListOptions) AddFlags(fs *pflag.FlagSet) {
	o.addFlags(fs, "Cluster whose backups to list (default: the current context's).", "List the backups of every cluster in the repository.")
	ui.AddOutputFlag(fs, &o.Output)
}

// Complete reads the configuration.
func (o *BackupListOptions) Complete(_ *pflag.FlagSet, _ []string) error {
	cfg, err := o.Global.loadConfig()
	o.config = cfg
	return err
}

// Validate checks the flags.
func (o *BackupListOptions) Validate() error {
	if err := o.clusterSelection.validate(); err != nil {
		return err
	}
	return ui.ValidateOutput(o.Output, false)
}

// Run lists the backups. Manifests that cannot be read are reported after
// the others, and make the command fail.
func (o *BackupListOptions) Run(ctx context.Context) error {
	r, err := openRepository(ctx, o.config)
	if err != nil {
		return err
	}
	clusters, err := o.clusters(ctx, o.Global, o.config, r)
	if err != nil {
		return err
	}
	var manifests []*repo.Manifest
	var unreadable []error
	for _, cluster := range clusters {
		ms, err := r.ListBackups(ctx, cluster)
		switch {
		case err == nil:
		case errors.Is(err, repo.ErrCorrupt) || errors.Is(err, repo.ErrUnsupportedFormat):
			unreadable = append(unreadable, err)
		default:
			return err
		}
		manifests = append(manifests, ms...)
	}

	if o.Output != "" {
		list := ui.BackupList{Items: []ui.BackupSummary{}}
		for _, m := range manifests {
			list.Items = append(list.Items, ui.NewBackupSummary(m))
		}
		err = ui.PrintObject(o.Out, o.Output, list)
	} else if len(manifests) == 0 {
		_, err = fmt.Fprintf(o.ErrOut, "No backups of %s in %s.\n", o.describe(clusters), r)
	} else {
		err = ui.RenderBackupList(o.Out, ui.NewStyles(o.Out), manifests, o.now())
	}
	if err != nil {
		return err
	}
	if len(unreadable) > 0 {
		return fmt.Errorf("some backups could not be read and are not listed:\n%w", errors.Join(unreadable...))
	}
	return nil
}
