package cmd

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"k8s.io/cli-runtime/pkg/genericiooptions"

	"github.com/kbackup/kbackup/core/catalog"
	"github.com/kbackup/kbackup/core/kube"
	"github.com/kbackup/kbackup/core/repo"
	"github.com/kbackup/kbackup/kubectl-kbackup/internal/ui"
)

// BackupGetOptions prints one object of a backup, as it was stored.
type BackupGetOptions struct {
	Global *GlobalOptions

	// Backup is the ID or "latest".
	Backup string
	// Type and Name are the object: TYPE/NAME or TYPE NAME.
	Type, Name string
	Cluster    string
	Output     string

	// namespace is -n, else the kubeconfig context's namespace.
	namespace string
	config    *LoadedConfig

	genericiooptions.IOStreams
}

// NewBackupGetOptions returns the options with their defaults.
func NewBackupGetOptions(global *GlobalOptions, streams genericiooptions.IOStreams) *BackupGetOptions {
	return &BackupGetOptions{Global: global, IOStreams: streams}
}

// NewCmdBackupGet returns `kubectl kbackup backup get`.
func NewCmdBackupGet(global *GlobalOptions, streams genericiooptions.IOStreams) *cobra.Command {
	o := NewBackupGetOptions(global, streams)
	cmd := &cobra.Command{
		Use:   "get ID|latest TYPE/NAME [-n NAMESPACE]",
		Short: "Print one object of a backup as it was stored",
		Long: `Print one object of a backup as the API server returned it when the backup
was taken (without metadata.managedFields), read from the repository and
checked against its pack's SHA-256.

TYPE is a resource type as the backup holds it: resource.group
(deployments.apps), the plural (deployments), the singular (deployment), the
kind (Deployment), or, when the current context's cluster answers, a short
name it declares (deploy, cm). A namespaced object is looked for in -n NAMESPACE, else in
the namespace of the kubeconfig context, as kubectl does; cluster-scoped
types need no namespace.`,
		Example: `  # A Deployment as it was in the latest backup
  kubectl kbackup backup get latest deployments.apps/shop-api -n shop

  # A ConfigMap of one backup, as JSON (TYPE NAME works as TYPE/NAME does)
  kubectl kbackup backup get 20260301T020000Z-1a2b3c configmap app-config -n shop -o json

  # A cluster-scoped object
  kubectl kbackup backup get latest clusterroles.rbac.authorization.k8s.io/shop-reader`,
		Args: cobra.RangeArgs(2, 3),
		RunE: runOptions(o),
	}
	o.AddFlags(cmd.Flags())
	return cmd
}

// AddFlags registers the command's flags.
func (o *BackupGetOptions) AddFlags(fs *pflag.FlagSet) {
	fs.StringVar(&o.Cluster, "cluster", "", "Cluster of the backup (default: found from the ID; for latest, the current context's).")
	fs.StringVarP(&o.Output, "output", "o", ui.OutputYAML, "Output format: yaml or json.")
}

// Complete reads the arguments, the namespace and the configuration.
func (o *BackupGetOptions) Complete(_ *pflag.FlagSet, args []string) error {
	o.Backup = args[0]
	switch len(args) {
	case 2:
		typ, name, ok := strings.Cut(args[1], "/")
		if !ok {
			return fmt.Errorf("%q names no object: give TYPE/NAME, such as deployments.apps/api, or TYPE NAME", args[1])
		}
		o.Type, o.Name = typ, name
	case 3:
		if strings.Contains(args[1], "/") {
			return fmt.Errorf("give the object as TYPE/NAME or as TYPE NAME, not %s %s", args[1], args[2])
		}
		o.Type, o.Name = args[1], args[2]
	}
	o.namespace = deref(o.Global.ConfigFlags.Namespace)
	if o.namespace == "" {
		ns, _, err := o.Global.ConfigFlags.ToRawKubeConfigLoader().Namespace()
		if err != nil {
			return fmt.Errorf("finding the namespace of the kubeconfig context (give -n NAMESPACE instead): %w", err)
		}
		o.namespace = ns
	}
	cfg, err := o.Global.loadConfig()
	o.config = cfg
	return err
}

// Validate checks the arguments.
func (o *BackupGetOptions) Validate() error {
	if err := validateBackupArg(o.Backup); err != nil {
		return err
	}
	if o.Type == "" || o.Name == "" {
		return fmt.Errorf("give the object as TYPE/NAME, such as deployments.apps/api; got type %q and name %q", o.Type, o.Name)
	}
	if o.Output != ui.OutputYAML && o.Output != ui.OutputJSON {
		return fmt.Errorf("--output %q is not supported: use yaml or json", o.Output)
	}
	return nil
}

// Run finds the object and prints it.
func (o *BackupGetOptions) Run(ctx context.Context) error {
	r, err := openRepository(ctx, o.config)
	if err != nil {
		return err
	}
	m, err := o.Global.resolveBackup(ctx, r, o.config, o.Cluster, o.Backup)
	if err != nil {
		return err
	}
	resource, err := resolveBackupType(ctx, o.Global, m, o.Type)
	if err != nil {
		return err
	}
	namespace := o.namespace
	if !catalog.Namespaced(m, resource) {
		namespace = ""
	}
	obj, err := catalog.Find(ctx, r, m, resource, namespace, o.Name)
	if err != nil {
		return err
	}
	return ui.PrintObject(o.Out, o.Output, obj.Object)
}

// resolveBackupType finds the type a user means among those a backup
// holds (catalog.TypeNames). A resource.group the backup holds needs
// nothing more; anything else is read through the discovery of the current
// context's cluster when it answers (for short names such as cm or
// deploy), else through the manifest alone, so that reading a backup needs
// no cluster.
func resolveBackupType(ctx context.Context, g *GlobalOptions, m *repo.Manifest, input string) (string, error) {
	if catalog.Holds(m, input) {
		return input, nil
	}
	return catalog.TypeNames{Discovery: discoverIfReachable(ctx, g), Backups: []*repo.Manifest{m}}.Resolve(input)
}

// discoverIfReachable returns the discovery of the current context's
// cluster, or nil when there is no kubeconfig or the cluster does not answer
// within a few seconds.
func discoverIfReachable(ctx context.Context, g *GlobalOptions) *kube.Resources {
	client, err := g.kubeClient()
	if err != nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, discoveryTimeout)
	defer cancel()
	found, err := client.Discover(ctx)
	if err != nil {
		return nil
	}
	return found
}

// discoveryTimeout bounds the discovery that only helps read a type name.
const discoveryTimeout = 5 * time.Second
