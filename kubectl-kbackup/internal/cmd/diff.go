package cmd

import (
	"context"
	"errors"
	"fmt"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"k8s.io/cli-runtime/pkg/genericiooptions"

	"github.com/kbackup/kbackup/core/catalog"
	"github.com/kbackup/kbackup/core/clean"
	"github.com/kbackup/kbackup/core/diff"
	"github.com/kbackup/kbackup/core/repo"
	"github.com/kbackup/kbackup/core/selection"
	"github.com/kbackup/kbackup/kubectl-kbackup/internal/ui"
)

// ExitDifferences is the exit code of a diff that found differences. 1
// stays the code of an error, as for every command, so that a script can
// tell "it differs" from "it could not compare".
const ExitDifferences = 3

// DiffOptions compares a backup with the live cluster, or with another
// backup.
type DiffOptions struct {
	Global *GlobalOptions

	// From is the backup compared (ID or latest, default latest); To, when
	// set, the second backup, instead of the live cluster.
	From, To string
	// FromCluster is the cluster of the backups; empty means the current
	// context's for latest, and any cluster for an ID.
	FromCluster string

	IncludeNamespaces, ExcludeNamespaces []string
	IncludeResources, ExcludeResources   []string
	Selector                             string
	NamespaceMapping                     string
	KeepStatus                           bool
	Summary                              bool
	Output                               string

	namespace string
	changed   func(string) bool
	config    *LoadedConfig
	options   diff.Options

	genericiooptions.IOStreams
}

// NewDiffOptions returns the options with their defaults.
func NewDiffOptions(global *GlobalOptions, streams genericiooptions.IOStreams) *DiffOptions {
	return &DiffOptions{Global: global, IOStreams: streams, From: catalog.Latest}
}

// NewCmdDiff returns `kubectl kbackup diff`.
func NewCmdDiff(global *GlobalOptions, streams genericiooptions.IOStreams) *cobra.Command {
	o := NewDiffOptions(global, streams)
	cmd := &cobra.Command{
		Use:   "diff [ID|latest] [ID2|latest]",
		Short: "Show how a backup differs from the live cluster, or from another backup",
		Long: `Compare a backup with the live cluster of the current context (one backup
named, or none: latest), or with a second backup (two named), object by
object after the cleaning a restore applies (docs/restore.md §3), so that
server-set fields such as resourceVersion or status never show as changes.

  Added     only on the second side: created since the backup, or only in
            the second backup;
  Removed   only on the first side: deleted since the backup;
  Changed   on both sides, different: the unified diff's - lines are the
            first side's.

The live side is read as the backup would read it now: the types the backup
holds, within its own selection. --namespace-mapping compares a backup's
namespace with a live namespace of another name, as after a restore with a
mapping. The output is the unified diff of every object that differs
(coloured on a terminal), then a table per namespace and type; --summary
prints the table only.

Exit codes, as diff(1) does but keeping 1 for errors as every kbackup
command does: 0 no differences, 3 differences found, 1 an error.`,
		Example: `  # What changed in namespace payments since the latest backup
  kubectl kbackup diff -n payments

  # Compare a restored copy in dr-us with the backup of prod-eu it came from
  kubectl kbackup diff latest --from-cluster prod-eu --context dr-us -n shop --namespace-mapping shop:shop-restored

  # What changed between two backups, as a table
  kubectl kbackup diff 20260301T020000Z-1a2b3c 20260302T020000Z-7f8e9d --summary`,
		Args: cobra.MaximumNArgs(2),
		RunE: runOptions(o),
	}
	o.AddFlags(cmd.Flags())
	return cmd
}

// AddFlags registers the command's flags.
func (o *DiffOptions) AddFlags(fs *pflag.FlagSet) {
	fs.StringVar(&o.FromCluster, "from-cluster", "", "Cluster of the backups (default: the current context's for latest; an ID is found in any cluster).")
	fs.StringSliceVar(&o.IncludeNamespaces, "include-namespaces", nil, "Namespaces to compare, as the backup names them: names or patterns (default: all). -n NAMESPACE compares one.")
	fs.StringSliceVar(&o.ExcludeNamespaces, "exclude-namespaces", nil, "Namespaces to leave out.")
	fs.StringSliceVar(&o.IncludeResources, "include-resources", nil, "Resource types to compare, as resource.group, plural, kind or short name (default: all the backup holds).")
	fs.StringSliceVar(&o.ExcludeResources, "exclude-resources", nil, "Resource types to leave out, in the same forms.")
	fs.StringVarP(&o.Selector, "selector", "l", "", "Compare only objects whose labels match this selector.")
	fs.StringVar(&o.NamespaceMapping, "namespace-mapping", "", "Compare backup namespaces with live namespaces of other names, as old:new,other:new-other (after a restore with a mapping).")
	fs.BoolVar(&o.KeepStatus, "keep-status", false, "Compare status too (it is left out by default: controllers write it in each cluster).")
	fs.BoolVar(&o.Summary, "summary", false, "Print the table of counts only, without the diffs.")
	ui.AddOutputFlag(fs, &o.Output)
}

// Complete reads the arguments, the configuration and the flags.
func (o *DiffOptions) Complete(fs *pflag.FlagSet, args []string) error {
	if len(args) > 0 {
		o.From = args[0]
	}
	if len(args) > 1 {
		o.To = args[1]
	}
	o.namespace = deref(o.Global.ConfigFlags.Namespace)
	o.changed = func(name string) bool { return fs != nil && fs.Changed(name) }
	cfg, err := o.Global.loadConfig()
	if err != nil {
		return err
	}
	o.config = cfg
	mapping, err := clean.ParseNamespaceMapping(o.NamespaceMapping)
	if err != nil {
		return fmt.Errorf("--namespace-mapping: %w", err)
	}
	if len(mapping) == 0 {
		mapping = nil
	}
	o.options = diff.Options{
		Selection: selection.Selection{
			IncludeNamespaces: o.IncludeNamespaces,
			ExcludeNamespaces: o.ExcludeNamespaces,
			IncludeResources:  o.IncludeResources,
			ExcludeResources:  o.ExcludeResources,
			LabelSelector:     o.Selector,
		},
		NamespaceMapping: mapping,
		Clean:            clean.Options{KeepStatus: o.KeepStatus},
	}
	if o.namespace != "" {
		o.options.IncludeNamespaces = []string{o.namespace}
	}
	return nil
}

// Validate checks the arguments and flags.
func (o *DiffOptions) Validate() error {
	for _, b := range []string{o.From, o.To} {
		if b != "" {
			if err := validateBackupArg(b); err != nil {
				return err
			}
		}
	}
	if o.FromCluster != "" {
		if err := repo.ValidateClusterName(o.FromCluster); err != nil {
			return flagErrors(err, map[string]string{"cluster.name": "--from-cluster"})
		}
	}
	if o.namespace != "" && o.changed != nil && o.changed("include-namespaces") {
		return fmt.Errorf("-n/--namespace %s and --include-namespaces exclude each other: give the namespaces in one of them", o.namespace)
	}
	if o.To != "" && len(o.options.NamespaceMapping) > 0 {
		return errors.New("--namespace-mapping compares a backup with a live cluster; it does not apply between two backups")
	}
	if o.Summary && o.Output != "" {
		return errors.New("--summary and --output exclude each other: -o prints the whole report")
	}
	if err := o.options.Validate(); err != nil {
		return flagErrors(err, o.flags())
	}
	return ui.ValidateOutput(o.Output, false)
}

// Run compares and reports. Differences return ExitDifferences.
func (o *DiffOptions) Run(ctx context.Context) error {
	r, err := openRepository(ctx, o.config)
	if err != nil {
		return err
	}
	from, err := o.resolve(ctx, r, o.From)
	if err != nil {
		return err
	}
	var rep *diff.Report
	if o.To != "" {
		to, err := o.resolve(ctx, r, o.To)
		if err != nil {
			return err
		}
		rep, err = diff.BackupToBackup(ctx, r, from, to, o.options)
		if err != nil {
			return flagErrors(err, o.flags())
		}
	} else {
		live, err := o.Global.kubeClient()
		if err != nil {
			return err
		}
		if rep, err = diff.BackupToLive(ctx, r, from, live, o.options); err != nil {
			return flagErrors(clusterError(err), o.flags())
		}
	}
	if o.Output != "" {
		err = ui.PrintObject(o.Out, o.Output, rep)
	} else {
		err = ui.RenderDiff(o.Out, ui.NewStyles(o.Out), rep, o.Summary)
	}
	if err != nil {
		return err
	}
	if rep.HasChanges() {
		t := rep.Totals
		return &ExitError{Code: ExitDifferences, Err: fmt.Errorf("differences found: %d added, %d removed, %d changed", t.Added, t.Removed, t.Changed)}
	}
	return nil
}

// flags maps the fields of diff.Options to the flags that set them.
func (o *DiffOptions) flags() map[string]string {
	flags := withFlags(map[string]string{diff.FieldNamespaceMapping: "--namespace-mapping"})
	if o.namespace != "" {
		flags[selection.FieldIncludeNamespaces] = "-n/--namespace"
	}
	return flags
}

// resolve finds a backup: in --from-cluster when given; else an ID in
// whichever cluster has it, and latest in the current context's cluster.
func (o *DiffOptions) resolve(ctx context.Context, r *repo.Repository, idOrLatest string) (*repo.Manifest, error) {
	return resolveBackup(ctx, r, o.FromCluster, idOrLatest, "--from-cluster", func(ctx context.Context) (string, error) {
		return o.Global.clusterName(ctx, o.config, "")
	})
}
