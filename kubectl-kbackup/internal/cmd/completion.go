package cmd

import (
	"context"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kbackup/kbackup/core/export"
	"github.com/kbackup/kbackup/core/restore"
	"github.com/kbackup/kbackup/kubectl-kbackup/internal/ui"
)

// completionTimeout bounds what a completion may spend reaching the
// repository or a cluster: a shell waits for it at every Tab.
const completionTimeout = 5 * time.Second

// registerCompletions gives every command of the tree shell completion, by
// flag name, so that a command added later completes its flags the same
// way: contexts and namespaces from the kubeconfig and cluster, cluster
// names and backup IDs from the repository, resource types from the
// cluster's discovery, and the accepted values of -o and
// --existing-resource-policy. cobra serves it to bash, zsh, fish and
// PowerShell (`kubectl kbackup completion SHELL`), and kubectl's plugin
// completion reaches it through kubectl_complete-kbackup.
func registerCompletions(root *cobra.Command, global *GlobalOptions) {
	c := completer{global: global}
	byFlag := map[string]cobra.CompletionFunc{
		"context":                  c.contexts,
		"contexts":                 commaList(c.contexts),
		"namespace":                c.namespaces,
		"include-namespaces":       commaList(c.namespaces),
		"exclude-namespaces":       commaList(c.namespaces),
		"cluster":                  c.clusters,
		"from-cluster":             c.clusters,
		"include-resources":        commaList(c.resourceTypes),
		"exclude-resources":        commaList(c.resourceTypes),
		"existing-resource-policy": fixed(string(restore.PolicySkip), string(restore.PolicyUpdate), string(restore.PolicyFail)),
		"format":                   fixed(string(export.FormatGitOps), string(export.FormatPlain)),
		"secrets":                  fixed(export.SecretsOmit, export.SecretsInclude),
		"log-format":               fixed("text", "json"),
		"log-level":                fixed("debug", "info", "warn", "error"),
	}
	var walk func(cmd *cobra.Command)
	walk = func(cmd *cobra.Command) {
		for name, fn := range byFlag {
			if cmd.LocalNonPersistentFlags().Lookup(name) != nil || cmd.PersistentFlags().Lookup(name) != nil {
				_ = cmd.RegisterFlagCompletionFunc(name, fn)
			}
		}
		if f := cmd.LocalNonPersistentFlags().Lookup("output"); f != nil {
			_ = cmd.RegisterFlagCompletionFunc("output", outputFormats(f.Usage))
		}
		if cmd.ValidArgsFunction == nil && takesBackupArg(cmd) {
			cmd.ValidArgsFunction = c.backupIDs
		}
		for _, sub := range cmd.Commands() {
			walk(sub)
		}
	}
	walk(root)
}

// describeCompletion gives cobra's completion command and its shells the
// long description and examples every command has, and says how kubectl's
// own completion reaches the plugin.
func describeCompletion(root *cobra.Command) {
	completion, _, err := root.Find([]string{"completion"})
	if err != nil || completion == root {
		return
	}
	completion.Short = "Print the shell completion script for bash, zsh, fish or PowerShell"
	completion.Long = `Print the shell completion script of kubectl-kbackup for bash, zsh, fish or
PowerShell. It completes commands and flags, backup IDs (latest first),
cluster names from the repository, kubeconfig contexts, namespaces, resource
types and the values of -o, --existing-resource-policy, --format, --secrets,
--log-format and --log-level. Each lookup gives up after 5s.

The script completes the command kubectl-kbackup. For kubectl kbackup <Tab>
(kubectl 1.26 or newer), put kubectl_complete-kbackup on your PATH: the
release archive holds it and krew installs it beside the plugin; kubectl's
own completion then asks the plugin. See docs/install.md.`
	completion.Example = `  # bash: load the completion of kubectl-kbackup in every new shell
  kubectl kbackup completion bash > ~/.local/share/bash-completion/completions/kubectl-kbackup

  # zsh
  kubectl kbackup completion zsh > "${fpath[1]}/_kubectl-kbackup"`
	examples := map[string]string{
		"bash": `  # Load the completion in every new shell (needs the bash-completion package)
  kubectl kbackup completion bash > ~/.local/share/bash-completion/completions/kubectl-kbackup`,
		"zsh": `  # Load the completion in every new shell (compinit must be enabled)
  kubectl kbackup completion zsh > "${fpath[1]}/_kubectl-kbackup"`,
		"fish": `  # Load the completion in every new shell
  kubectl kbackup completion fish > ~/.config/fish/completions/kubectl-kbackup.fish`,
		"powershell": `  # Load the completion in the current session
  kubectl kbackup completion powershell | Out-String | Invoke-Expression`,
	}
	for _, shell := range completion.Commands() {
		if ex, ok := examples[shell.Name()]; ok {
			shell.Example = ex
		}
	}
}

// takesBackupArg says whether a command's first argument is a backup
// (its use line names ID|latest).
func takesBackupArg(cmd *cobra.Command) bool {
	_, rest, _ := strings.Cut(cmd.Use, " ")
	return strings.Contains(rest, "ID|latest") || strings.Contains(rest, "BACKUP")
}

// commaList completes the last item of a comma-separated list (a,b,<Tab>):
// each value comes after what was typed up to the last comma, with no
// space after it, so that another item can follow.
func commaList(fn cobra.CompletionFunc) cobra.CompletionFunc {
	return func(cmd *cobra.Command, args []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
		values, directive := fn(cmd, args, toComplete)
		i := strings.LastIndex(toComplete, ",")
		if i < 0 {
			return values, directive
		}
		typed := toComplete[:i+1]
		out := make([]cobra.Completion, 0, len(values))
		for _, v := range values {
			out = append(out, typed+v)
		}
		return out, directive | cobra.ShellCompDirectiveNoSpace
	}
}

// fixed completes one of the given values.
func fixed(values ...string) cobra.CompletionFunc {
	return func(*cobra.Command, []string, string) ([]cobra.Completion, cobra.ShellCompDirective) {
		return values, cobra.ShellCompDirectiveNoFileComp
	}
}

// outputFormats completes -o with the formats its help names.
func outputFormats(usage string) cobra.CompletionFunc {
	formats := []string{ui.OutputJSON, ui.OutputYAML}
	if strings.Contains(usage, ui.OutputWide) {
		formats = append(formats, ui.OutputWide)
	}
	return fixed(formats...)
}

// completer reaches the kubeconfig, the cluster and the repository the way
// the command being completed would, with the flags typed so far.
type completer struct{ global *GlobalOptions }

func (c completer) contexts(*cobra.Command, []string, string) ([]cobra.Completion, cobra.ShellCompDirective) {
	raw, err := c.global.ConfigFlags.ToRawKubeConfigLoader().RawConfig()
	if err != nil {
		return nil, cobra.ShellCompDirectiveError
	}
	var out []string
	for name, ctx := range raw.Contexts {
		out = append(out, cobra.CompletionWithDesc(name, ctx.Cluster))
	}
	slices.Sort(out)
	return out, cobra.ShellCompDirectiveNoFileComp
}

func (c completer) namespaces(cmd *cobra.Command, _ []string, _ string) ([]cobra.Completion, cobra.ShellCompDirective) {
	ctx, cancel := context.WithTimeout(cmd.Context(), completionTimeout)
	defer cancel()
	client, err := c.global.kubeClient()
	if err != nil {
		return nil, cobra.ShellCompDirectiveError
	}
	list, err := client.Kube.CoreV1().Namespaces().List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, cobra.ShellCompDirectiveError
	}
	out := make([]string, 0, len(list.Items))
	for _, ns := range list.Items {
		out = append(out, ns.Name)
	}
	return out, cobra.ShellCompDirectiveNoFileComp
}

func (c completer) resourceTypes(cmd *cobra.Command, _ []string, _ string) ([]cobra.Completion, cobra.ShellCompDirective) {
	client, err := c.global.kubeClient()
	if err != nil {
		return nil, cobra.ShellCompDirectiveError
	}
	lists, err := client.Discovery.ServerPreferredResources()
	if err != nil && len(lists) == 0 {
		return nil, cobra.ShellCompDirectiveError
	}
	var out []string
	for _, list := range lists {
		group, _, _ := strings.Cut(list.GroupVersion, "/")
		if !strings.Contains(list.GroupVersion, "/") {
			group = ""
		}
		for _, r := range list.APIResources {
			if strings.Contains(r.Name, "/") || !slices.Contains(r.Verbs, "list") {
				continue
			}
			name := r.Name
			if group != "" {
				name += "." + group
			}
			out = append(out, cobra.CompletionWithDesc(name, r.Kind))
		}
	}
	slices.Sort(out)
	return out, cobra.ShellCompDirectiveNoFileComp
}

func (c completer) clusters(cmd *cobra.Command, _ []string, _ string) ([]cobra.Completion, cobra.ShellCompDirective) {
	ctx, cancel := context.WithTimeout(cmd.Context(), completionTimeout)
	defer cancel()
	cfg, err := c.global.loadConfig()
	if err != nil {
		return nil, cobra.ShellCompDirectiveError
	}
	r, err := openRepository(ctx, cfg)
	if err != nil {
		return nil, cobra.ShellCompDirectiveError
	}
	names, err := r.Clusters(ctx)
	if err != nil {
		return nil, cobra.ShellCompDirectiveError
	}
	return names, cobra.ShellCompDirectiveNoFileComp
}

// backupIDs completes a backup argument: latest first, then the IDs of the
// cluster that --cluster or --from-cluster names (else the configuration's,
// else the current context's), newest first.
func (c completer) backupIDs(cmd *cobra.Command, args []string, _ string) ([]cobra.Completion, cobra.ShellCompDirective) {
	if len(args) > 0 && !strings.Contains(cmd.Use, "[ID2|latest]") || len(args) > 1 {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	ctx, cancel := context.WithTimeout(cmd.Context(), completionTimeout)
	defer cancel()
	cfg, err := c.global.loadConfig()
	if err != nil {
		return nil, cobra.ShellCompDirectiveError
	}
	var flag string
	for _, name := range []string{"cluster", "from-cluster"} {
		if f := cmd.Flags().Lookup(name); f != nil && f.Value.String() != "" {
			flag = f.Value.String()
		}
	}
	cluster, err := c.global.clusterName(ctx, cfg, flag)
	if err != nil {
		return nil, cobra.ShellCompDirectiveError
	}
	r, err := openRepository(ctx, cfg)
	if err != nil {
		return nil, cobra.ShellCompDirectiveError
	}
	ids, err := r.BackupIDs(ctx, cluster)
	if err != nil {
		return nil, cobra.ShellCompDirectiveError
	}
	// IDs start with their time: the newest sorts last.
	slices.Reverse(ids)
	out := []string{cobra.CompletionWithDesc("latest", "the newest backup of "+cluster)}
	for _, id := range ids {
		out = append(out, cobra.CompletionWithDesc(id, cluster))
	}
	// Keep this order (latest, then newest first) in shells that sort.
	return out, cobra.ShellCompDirectiveNoFileComp | cobra.ShellCompDirectiveKeepOrder
}
