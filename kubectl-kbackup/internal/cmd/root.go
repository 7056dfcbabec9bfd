// Package cmd holds the commands of kubectl-kbackup, one file per command.
// Each command is an options struct with Complete, Validate and Run, as in
// k8s.io/sample-cli-plugin; the work is done by core and drawn by ui.
package cmd

import (
	"errors"
	"fmt"

	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"
)

// NewCmdKbackup builds the root command with kubectl's connection flags
// (--kubeconfig, --context, -n, …) and every subcommand.
func NewCmdKbackup(streams genericiooptions.IOStreams) *cobra.Command {
	configFlags := genericclioptions.NewConfigFlags(true)
	root := &cobra.Command{
		Use:   "kubectl-kbackup",
		Short: "Back up, restore, diff and export the Kubernetes resources of many clusters",
		Long: `kbackup backs up the Kubernetes resources of your clusters into one S3 or local
repository laid out as {cluster}/{namespace}/{type}/, restores them into the
same or another cluster, and shows what changed.`,
		SilenceUsage:  true,
		SilenceErrors: true,
		Annotations: map[string]string{
			// Lets cobra print "kubectl kbackup" in help, as krew plugins do.
			cobra.CommandDisplayNameAnnotation: "kubectl kbackup",
		},
	}
	configFlags.AddFlags(root.PersistentFlags())
	root.AddCommand(NewCmdVersion(streams))
	return root
}

// Execute runs the root command and returns the process exit code, printing
// the error, if any, once.
func Execute(root *cobra.Command) int {
	if err := root.Execute(); err != nil {
		fmt.Fprintln(root.ErrOrStderr(), "Error:", err)
		var exit *ExitError
		if errors.As(err, &exit) {
			return exit.Code
		}
		return 1
	}
	return 0
}

// ExitError carries an exit code other than 1, for outcomes such as a
// partially failed backup that scripts need to tell apart.
type ExitError struct {
	Code int
	Err  error
}

func (e *ExitError) Error() string { return e.Err.Error() }
func (e *ExitError) Unwrap() error { return e.Err }
