// Package cmd holds the commands of kubectl-kbackup, one file per command.
// Each command is an options struct with Complete, Validate and Run, as in
// k8s.io/sample-cli-plugin; the work is done by core and drawn by ui.
package cmd

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericiooptions"

	"github.com/kbackup/kbackup/kubectl-kbackup/internal/ui"
)

// Exit codes.
const (
	// ExitOK: the command did what was asked (a backup Completed).
	ExitOK = 0
	// ExitFailed: the command failed, or a backup Failed.
	ExitFailed = 1
	// ExitPartiallyFailed: a backup was committed, but some resource types
	// failed or some objects were skipped; the rest is restorable. A
	// restore in which some objects failed; the rest is restored.
	ExitPartiallyFailed = 2
)

// NewCmdKbackup builds the root command with kubectl's connection flags
// (--kubeconfig, --context, -n, …), kbackup's global flags and every
// subcommand.
func NewCmdKbackup(streams genericiooptions.IOStreams) *cobra.Command {
	global := NewGlobalOptions()
	root := &cobra.Command{
		Use:   "kubectl-kbackup",
		Short: "Back up, restore, diff and export the Kubernetes resources of many clusters",
		Long: `kbackup backs up the Kubernetes resources of your clusters into one S3 or local
repository laid out as {cluster}/{namespace}/{type}/, restores them into the
same or another cluster, and shows what changed.

Without any configuration, backups go to a local repository
($XDG_DATA_HOME/kbackup or ~/.local/share/kbackup); give --storage
s3://bucket?endpoint=https://host:port, KBACKUP_STORAGE or a kbackup.yaml
to use S3.`,
		Example: `  # Back up the cluster of the current context
  kubectl kbackup backup create

  # List its backups, look into the latest, read one object of it
  kubectl kbackup backup list
  kubectl kbackup backup describe latest
  kubectl kbackup backup get latest deployments.apps/api -n shop

  # Restore a namespace of prod-eu's latest backup into the current cluster:
  # first what it would do (nothing is written), then do it (it asks first)
  kubectl kbackup restore latest --from-cluster prod-eu -n shop --dry-run
  kubectl kbackup restore latest --from-cluster prod-eu -n shop

  # What changed in a namespace since the latest backup (exit 3 when anything did)
  kubectl kbackup diff -n shop

  # Are the cluster's backups intact: every pack there, with its SHA-256
  kubectl kbackup verify --all

  # The fleet: back up every registered cluster a kubeconfig context reaches, then see them all
  kubectl kbackup backup create --fleet
  kubectl kbackup clusters

  # The latest backup as a GitOps repository: Kustomize overlays per environment of kbackup.yaml, Argo CD Applications
  kubectl kbackup export --output ./gitops --repo-url https://git.example.com/platform/prod.git

  # Run the repository's schedules, with metrics on :8080 and a dashboard on 127.0.0.1:8081
  kubectl kbackup serve --scheduler`,
		SilenceUsage:  true,
		SilenceErrors: true,
		Annotations: map[string]string{
			// Lets cobra print "kubectl kbackup" in help, as krew plugins do.
			cobra.CommandDisplayNameAnnotation: "kubectl kbackup",
		},
	}
	root.SetIn(streams.In)
	root.SetOut(streams.Out)
	root.SetErr(streams.ErrOut)
	global.AddFlags(root.PersistentFlags())
	root.SetFlagErrorFunc(flagError)
	root.AddCommand(
		NewCmdBackup(global, streams),
		NewCmdRestore(global, streams),
		NewCmdDiff(global, streams),
		NewCmdExport(global, streams),
		NewCmdVerify(global, streams),
		NewCmdReplicate(global, streams),
		NewCmdCluster(global, streams),
		NewCmdClusters(global, streams),
		NewCmdPrune(global, streams),
		NewCmdDetect(global, streams),
		NewCmdServe(global, streams),
		NewCmdConfig(global, streams),
		NewCmdVersion(streams),
	)
	// cobra would add the completion command at Execute; added here, it is
	// in the tree that the help test and the generated reference walk.
	root.InitDefaultCompletionCmd()
	describeCompletion(root)
	registerCompletions(root, global)
	return root
}

// runGroup is the RunE of a command that only groups others: without an
// argument it shows the help, and an unknown subcommand is an error (cobra
// would otherwise show the help and exit 0).
func runGroup(c *cobra.Command, args []string) error {
	if len(args) == 0 {
		return c.Help()
	}
	hint := ""
	if c.SuggestionsMinimumDistance <= 0 {
		c.SuggestionsMinimumDistance = 2 // cobra's default, which it sets only for the root
	}
	if s := c.SuggestionsFor(args[0]); len(s) > 0 {
		hint = fmt.Sprintf("; did you mean %s?", strings.Join(s, " or "))
	}
	names := []string{}
	for _, sub := range c.Commands() {
		if sub.IsAvailableCommand() {
			names = append(names, sub.Name())
		}
	}
	return fmt.Errorf("unknown command %q for %q%s (commands: %s)", args[0], c.CommandPath(), hint, strings.Join(names, ", "))
}

// flagError says where to find the accepted flags, after pflag's own
// message, which names the flag and the value.
func flagError(c *cobra.Command, err error) error {
	return fmt.Errorf("%w\nSee '%s --help' for the accepted flags", err, c.CommandPath())
}

// Execute runs the root command and returns the process exit code, printing
// the error, if any, once. Ctrl-C or SIGTERM cancels the command's context,
// so that a backup stops cleanly and leaves no manifest.
func Execute(root *cobra.Command) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := root.ExecuteContext(ctx); err != nil {
		// An error can quote a repository or an API server: nothing in it
		// may drive the terminal.
		fmt.Fprintln(root.ErrOrStderr(), "Error:", ui.Sanitize(err.Error()))
		var exit *ExitError
		if errors.As(err, &exit) {
			return exit.Code
		}
		return ExitFailed
	}
	return ExitOK
}

// ExitError carries an exit code other than 1, for outcomes such as a
// partially failed backup that scripts need to tell apart.
type ExitError struct {
	Code int
	Err  error
}

func (e *ExitError) Error() string { return e.Err.Error() }
func (e *ExitError) Unwrap() error { return e.Err }
