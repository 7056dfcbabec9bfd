package cmd

import (
	"context"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"k8s.io/cli-runtime/pkg/genericiooptions"

	"github.com/kbackup/kbackup/kubectl-kbackup/internal/ui"
)

// ConfigViewOptions shows the configuration in force, with secrets hidden,
// and where each value came from.
type ConfigViewOptions struct {
	Global *GlobalOptions
	Output string

	config *LoadedConfig

	genericiooptions.IOStreams
}

// NewConfigViewOptions returns the options with their defaults.
func NewConfigViewOptions(global *GlobalOptions, streams genericiooptions.IOStreams) *ConfigViewOptions {
	return &ConfigViewOptions{Global: global, IOStreams: streams}
}

// NewCmdConfigView returns `kubectl kbackup config view`.
func NewCmdConfigView(global *GlobalOptions, streams genericiooptions.IOStreams) *cobra.Command {
	o := NewConfigViewOptions(global, streams)
	cmd := &cobra.Command{
		Use:   "view",
		Short: "Show the configuration in force and where each value came from",
		Long: `Show the configuration in force: kbackup.yaml with the selected environment's
overrides, the environment variables and the flags applied, every value with
where it came from (a file and line, an environment variable, a flag, or the
default). Secrets are shown as REDACTED (the access key as its first four
characters).

-o yaml or -o json prints the file read, the environment, the configuration
and the sources as one object.`,
		Example: `  # The configuration in force, with every value's source
  kubectl kbackup config view

  # As environment prod sees it, as YAML
  kubectl kbackup config view --environment prod -o yaml`,
		Args: cobra.NoArgs,
		RunE: runOptions(o),
	}
	ui.AddOutputFlag(cmd.Flags(), &o.Output)
	return cmd
}

// Complete reads the configuration.
func (o *ConfigViewOptions) Complete(_ *pflag.FlagSet, _ []string) error {
	cfg, err := o.Global.loadConfig()
	o.config = cfg
	return err
}

// Validate checks the output format.
func (o *ConfigViewOptions) Validate() error { return ui.ValidateOutput(o.Output, false) }

// Run shows the configuration.
func (o *ConfigViewOptions) Run(context.Context) error {
	view, err := ui.NewConfigView(o.config.File.Path, o.config.Config)
	if err != nil {
		return err
	}
	if o.Output != "" {
		return ui.PrintObject(o.Out, o.Output, view)
	}
	return ui.RenderConfigView(o.Out, ui.NewStyles(o.Out), view)
}
