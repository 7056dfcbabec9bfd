package cmd

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"k8s.io/cli-runtime/pkg/genericiooptions"

	"github.com/kbackup/kbackup/core/config"
)

// ConfigValidateOptions checks kbackup.yaml, with the environment variables
// and flags over it.
type ConfigValidateOptions struct {
	Global *GlobalOptions
	// File is the optional FILE argument; it wins over --config.
	File string

	// environments to check: the selected one, or "" for the base and
	// then each environment the file defines.
	environments []string
	checked      []string

	genericiooptions.IOStreams
}

// NewConfigValidateOptions returns the options with their defaults.
func NewConfigValidateOptions(global *GlobalOptions, streams genericiooptions.IOStreams) *ConfigValidateOptions {
	return &ConfigValidateOptions{Global: global, IOStreams: streams}
}

// NewCmdConfigValidate returns `kubectl kbackup config validate`.
func NewCmdConfigValidate(global *GlobalOptions, streams genericiooptions.IOStreams) *cobra.Command {
	o := NewConfigValidateOptions(global, streams)
	cmd := &cobra.Command{
		Use:   "validate [FILE]",
		Short: "Check the configuration; print every problem with its file, line and key",
		Long: `Check the configuration and print every problem, one per line, each naming
the file, line and key (or the environment variable or flag) it is about.
Exits 1 when there is any.

Without --environment (or KBACKUP_ENVIRONMENT), the base configuration and
then each environment the file defines are checked; with it, that
environment only.`,
		Example: `  # Check the configuration in use (--config, $KBACKUP_CONFIG or ~/.kube/kbackup.yaml)
  kubectl kbackup config validate

  # Check a file as its prod environment sees it
  kubectl kbackup config validate examples/kbackup.yaml --environment prod`,
		Args: cobra.MaximumNArgs(1),
		RunE: runOptions(o),
	}
	return cmd
}

// Complete reads the argument.
func (o *ConfigValidateOptions) Complete(_ *pflag.FlagSet, args []string) error {
	if len(args) > 0 {
		o.File = args[0]
	}
	return nil
}

// Validate has nothing to check: checking is the command's work.
func (o *ConfigValidateOptions) Validate() error { return nil }

// Run checks the configuration, as selected and per environment, and
// reports every problem found.
func (o *ConfigValidateOptions) Run(context.Context) error {
	g := *o.Global
	if o.File != "" {
		g.ConfigFile, g.configSource = o.File, "argument FILE"
	}
	first, err := g.loadConfig()
	if err != nil {
		return err
	}
	checked := []string{"the base configuration"}
	if first.ActiveEnvironment != "" {
		checked = []string{"environment " + first.ActiveEnvironment}
	} else {
		var problems []string
		for _, env := range first.EnvironmentNames() {
			if env == "" {
				continue
			}
			g.Environment = env
			if _, err := g.loadConfig(); err != nil {
				problems = append(problems, fmt.Sprintf("with environment %s selected, %v", env, err))
			}
			checked = append(checked, "environment "+env)
		}
		if len(problems) > 0 {
			return errors.New(strings.Join(problems, "\n"))
		}
	}
	what := "No configuration file (" + config.EnvConfig + " is not set and ~/.kube/kbackup.yaml does not exist); the defaults, environment variables and flags"
	if first.File.Path != "" {
		what = fmt.Sprintf("%s (from %s)", first.File.Path, first.File.Source)
	}
	_, err = fmt.Fprintf(o.Out, "%s: valid (%s checked).\n", what, strings.Join(checked, ", "))
	return err
}
