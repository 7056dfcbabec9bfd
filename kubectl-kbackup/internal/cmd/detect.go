package cmd

import (
	"context"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"k8s.io/cli-runtime/pkg/genericiooptions"

	"github.com/kbackup/kbackup/kubectl-kbackup/internal/ui"
)

// DetectOptions shows who the cluster of the current context is.
type DetectOptions struct {
	Global *GlobalOptions
	Output string

	config *LoadedConfig

	genericiooptions.IOStreams
}

// NewDetectOptions returns the options with their defaults.
func NewDetectOptions(global *GlobalOptions, streams genericiooptions.IOStreams) *DetectOptions {
	return &DetectOptions{Global: global, IOStreams: streams}
}

// NewCmdDetect returns `kubectl kbackup detect`.
func NewCmdDetect(global *GlobalOptions, streams genericiooptions.IOStreams) *cobra.Command {
	o := NewDetectOptions(global, streams)
	cmd := &cobra.Command{
		Use:   "detect",
		Short: "Show the identity of the current context's cluster, and the evidence for it",
		Long: `Show the identity a backup of the current context's cluster would be stored
under: its name, the UID of its kube-system namespace (which tells clusters
apart), provider, distribution and Kubernetes version, and what detection saw.

The name comes, first found first, from CLUSTER_NAME or cluster.name of the
configuration; OpenShift's Infrastructure; a cluster-name label on kube-system
or a node; the API server's host name (EKS, AKS, GKE, …); the kubeconfig
context; cluster-<first 8 characters of the UID>.`,
		Example: `  # Who the current context's cluster is, and why
  kubectl kbackup detect

  # Another context's cluster, as JSON
  kubectl kbackup detect --context prod-eu -o json`,
		Args: cobra.NoArgs,
		RunE: runOptions(o),
	}
	ui.AddOutputFlag(cmd.Flags(), &o.Output)
	return cmd
}

// Complete reads the configuration.
func (o *DetectOptions) Complete(_ *pflag.FlagSet, _ []string) error {
	cfg, err := o.Global.loadConfig()
	o.config = cfg
	return err
}

// Validate checks the output format.
func (o *DetectOptions) Validate() error { return ui.ValidateOutput(o.Output, false) }

// Run detects the identity and shows it.
func (o *DetectOptions) Run(ctx context.Context) error {
	id, err := o.Global.detectIdentity(ctx, o.config.Cluster.Name, o.config.Sources["cluster.name"])
	if err != nil {
		return err
	}
	if o.Output != "" {
		return ui.PrintObject(o.Out, o.Output, id)
	}
	return ui.RenderIdentity(o.Out, ui.NewStyles(o.Out), id)
}
