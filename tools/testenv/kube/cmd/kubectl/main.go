// Command kubectl is the upstream kubectl at the same version as the test
// API server, so end-to-end tests and the demo can drive kbackup as a
// kubectl plugin.
package main

import (
	"os"

	"k8s.io/component-base/cli"
	"k8s.io/kubectl/pkg/cmd"
)

func main() {
	if err := cli.RunNoErrOutput(cmd.NewDefaultKubectlCommand()); err != nil {
		// kubectl has printed the error already.
		os.Exit(1)
	}
}
