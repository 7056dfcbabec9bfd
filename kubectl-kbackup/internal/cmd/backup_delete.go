package cmd

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"k8s.io/cli-runtime/pkg/genericiooptions"

	"github.com/kbackup/kbackup/core/repo"
	"github.com/kbackup/kbackup/kubectl-kbackup/internal/ui"
)

// BackupDeleteOptions deletes a backup and the packs only it used.
type BackupDeleteOptions struct {
	Global *GlobalOptions

	// Backup is the ID or "latest".
	Backup  string
	Cluster string
	Yes     bool
	DryRun  bool
	Output  string

	config *LoadedConfig
	// interactive says whether In is a terminal to ask on.
	interactive bool

	genericiooptions.IOStreams
}

// NewBackupDeleteOptions returns the options with their defaults.
func NewBackupDeleteOptions(global *GlobalOptions, streams genericiooptions.IOStreams) *BackupDeleteOptions {
	return &BackupDeleteOptions{Global: global, IOStreams: streams}
}

// NewCmdBackupDelete returns `kubectl kbackup backup delete`.
func NewCmdBackupDelete(global *GlobalOptions, streams genericiooptions.IOStreams) *cobra.Command {
	o := NewBackupDeleteOptions(global, streams)
	cmd := &cobra.Command{
		Use:   "delete ID|latest",
		Short: "Delete a backup, and the packs no other backup uses",
		Long: `Delete a backup: its manifest first, then the packs of its cluster that no
other backup names (packs younger than an hour are kept, since a running
backup may be about to name them; none are removed while a backup of the
cluster is in progress).

It says what it will delete and asks on a terminal; --yes deletes without
asking, and is required when stdin is not a terminal. --dry-run only says
what would be deleted.`,
		Example: `  # What deleting a backup would remove, without removing it
  kubectl kbackup backup delete 20260301T020000Z-1a2b3c --dry-run

  # Delete it without asking (as a script must: stdin is not a terminal)
  kubectl kbackup backup delete 20260301T020000Z-1a2b3c --yes`,
		Args: exactArgs("ID|latest"),
		RunE: runOptions(o),
	}
	o.AddFlags(cmd.Flags())
	return cmd
}

// AddFlags registers the command's flags.
func (o *BackupDeleteOptions) AddFlags(fs *pflag.FlagSet) {
	fs.StringVar(&o.Cluster, "cluster", "", "Cluster of the backup (default: found from the ID; for latest, the current context's).")
	fs.BoolVarP(&o.Yes, "yes", "y", false, "Delete without asking.")
	fs.BoolVar(&o.DryRun, "dry-run", false, "Only say what would be deleted.")
	ui.AddOutputFlag(fs, &o.Output)
}

// Complete reads the argument and the configuration.
func (o *BackupDeleteOptions) Complete(_ *pflag.FlagSet, args []string) error {
	o.Backup = args[0]
	o.interactive = ui.IsTerminal(o.In)
	cfg, err := o.Global.loadConfig()
	o.config = cfg
	return err
}

// Validate refuses to delete without --yes when nobody can be asked.
func (o *BackupDeleteOptions) Validate() error {
	if err := validateBackupArg(o.Backup); err != nil {
		return err
	}
	if !o.Yes && !o.DryRun && !o.interactive {
		return fmt.Errorf("not deleting backup %s without --yes: stdin is not a terminal to ask on; add --yes, or --dry-run to see what would be deleted", o.Backup)
	}
	return ui.ValidateOutput(o.Output, false)
}

// Run deletes the backup, after showing what will go and asking.
func (o *BackupDeleteOptions) Run(ctx context.Context) error {
	r, err := openRepository(ctx, o.config)
	if err != nil {
		return err
	}
	m, err := o.Global.resolveBackup(ctx, r, o.config, o.Cluster, o.Backup)
	if err != nil {
		return err
	}
	if o.DryRun || !o.Yes {
		plan, err := r.CollectGarbage(ctx, m.Cluster.Name, repo.GCOptions{DryRun: true, Without: []string{m.ID}})
		if err != nil {
			return err
		}
		if o.DryRun {
			return o.report(m, plan, true)
		}
		if err := ui.RenderDeletePlan(o.ErrOut, m, plan); err != nil {
			return err
		}
		ok, err := o.confirm(fmt.Sprintf("Delete backup %s of cluster %s?", m.ID, m.Cluster.Name))
		if err != nil {
			return err
		}
		if !ok {
			return errors.New("not deleted: the answer was not yes")
		}
	}
	report, err := r.DeleteBackup(ctx, m.Cluster.Name, m.ID)
	if report != nil {
		if rerr := o.report(m, report, false); rerr != nil && err == nil {
			err = rerr
		}
	}
	return err
}

func (o *BackupDeleteOptions) report(m *repo.Manifest, report *repo.GCReport, dryRun bool) error {
	if o.Output != "" {
		return ui.PrintObject(o.Out, o.Output, ui.NewDeleteReport(m, report, dryRun))
	}
	return ui.RenderDeleteReport(o.Out, ui.NewStyles(o.Out), m, report, dryRun)
}

// confirm asks a yes/no question on ErrOut and reads the answer from In.
func (o *BackupDeleteOptions) confirm(question string) (bool, error) {
	fmt.Fprintf(o.ErrOut, "%s [y/N]: ", question)
	answer, err := bufio.NewReader(o.In).ReadString('\n')
	if err != nil && answer == "" {
		return false, fmt.Errorf("reading the answer: %w", err)
	}
	switch strings.ToLower(strings.TrimSpace(answer)) {
	case "y", "yes":
		return true, nil
	}
	return false, nil
}
