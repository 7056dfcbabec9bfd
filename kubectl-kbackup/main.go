// Command kubectl-kbackup is the kubectl plugin front end of kbackup:
// `kubectl kbackup backup create`, `restore`, `diff` and friends.
package main

import (
	"os"

	"k8s.io/cli-runtime/pkg/genericiooptions"

	"github.com/kbackup/kbackup/kubectl-kbackup/internal/cmd"
)

func main() {
	streams := genericiooptions.IOStreams{In: os.Stdin, Out: os.Stdout, ErrOut: os.Stderr}
	os.Exit(cmd.Execute(cmd.NewCmdKbackup(streams)))
}
