package cmd

import (
	"fmt"

	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericiooptions"

	"github.com/kbackup/kbackup/core/version"
	"github.com/kbackup/kbackup/kubectl-kbackup/internal/ui"
)

// VersionOptions prints the version of the plugin.
type VersionOptions struct {
	Output string
	genericiooptions.IOStreams
}

// NewCmdVersion returns `kubectl kbackup version`.
func NewCmdVersion(streams genericiooptions.IOStreams) *cobra.Command {
	o := &VersionOptions{IOStreams: streams}
	cmd := &cobra.Command{
		Use:   "version",
		Short: "Print the version, commit and build date of kubectl-kbackup",
		Long: `Print the version of kubectl-kbackup (a release tag vX.Y.Z, or v0.0.0-<commit>
for any other build), the commit and date it was built from, the Go version
and the platform. It reads no configuration and reaches no cluster.`,
		Example: `  # The version
  kubectl kbackup version

  # As JSON, for a bug report or a script
  kubectl kbackup version -o json`,
		Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, args []string) error {
			if err := o.Validate(); err != nil {
				return err
			}
			return o.Run()
		},
	}
	ui.AddOutputFlag(cmd.Flags(), &o.Output)
	return cmd
}

// Validate checks the output format.
func (o *VersionOptions) Validate() error { return ui.ValidateOutput(o.Output, false) }

// Run prints the version.
func (o *VersionOptions) Run() error {
	info := version.Get()
	if o.Output != "" {
		return ui.PrintObject(o.Out, o.Output, info)
	}
	_, err := fmt.Fprintf(o.Out, "kubectl-kbackup %s (commit %s, built %s, %s, %s)\n",
		info.Version, info.Commit, info.BuildDate, info.GoVersion, info.Platform)
	return err
}
