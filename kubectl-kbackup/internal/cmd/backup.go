package cmd

import (
	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericiooptions"
)

// NewCmdBackup returns `kubectl kbackup backup`, the parent of the commands
// that make and read backups.
func NewCmdBackup(global *GlobalOptions, streams genericiooptions.IOStreams) *cobra.Command {
	cmd := &cobra.Command{
		RunE:  runGroup,
		Use:   "backup",
		Short: "Create, list, describe, read and delete backups",
		Long: `Create, list, describe, read and delete backups.

Wherever a backup is named, its ID or "latest" (the newest backup of the
cluster that did not fail) is accepted.`,
		Example: `  # Back up the current context's cluster, then list its backups
  kubectl kbackup backup create
  kubectl kbackup backup list

  # What is in the latest backup, and one object of it
  kubectl kbackup backup describe latest
  kubectl kbackup backup get latest deployments.apps/api -n shop`,
	}
	cmd.AddCommand(
		NewCmdBackupCreate(global, streams),
		NewCmdBackupList(global, streams),
		NewCmdBackupDescribe(global, streams),
		NewCmdBackupGet(global, streams),
		NewCmdBackupDelete(global, streams),
	)
	return cmd
}
