package cmd

import (
	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericiooptions"
)

// NewCmdConfig returns `kubectl kbackup config`, the parent of the commands
// that check and show kbackup.yaml.
func NewCmdConfig(global *GlobalOptions, streams genericiooptions.IOStreams) *cobra.Command {
	cmd := &cobra.Command{
		RunE:  runGroup,
		Use:   "config",
		Short: "Check and show kbackup's configuration",
		Long: `Check and show kbackup's configuration: kbackup.yaml (--config, else
KBACKUP_CONFIG, else ~/.kube/kbackup.yaml if it exists), the environment
variables that override it, and the flags that override both.`,
		Example: `  # Check kbackup.yaml; every problem on a line with file:line:column and the key
  kubectl kbackup config validate

  # The configuration in force, and where each value came from
  kubectl kbackup config view`,
	}
	cmd.AddCommand(NewCmdConfigValidate(global, streams), NewCmdConfigView(global, streams))
	return cmd
}
