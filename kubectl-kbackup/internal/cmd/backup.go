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
