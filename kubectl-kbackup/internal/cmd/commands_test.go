package cmd

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"k8s.io/cli-runtime/pkg/genericiooptions"
)

func writeConfig(t *testing.T, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "kbackup.yaml")
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestBackupGetTakesTypeSlashNameOrTypeAndName(t *testing.T) {
	for _, c := range []struct {
		args             []string
		wantType, wantNm string
		wantErr          string
	}{
		{args: []string{"latest", "deployments.apps/api"}, wantType: "deployments.apps", wantNm: "api"},
		{args: []string{"latest", "configmap", "app-config"}, wantType: "configmap", wantNm: "app-config"},
		{args: []string{"latest", "deployments.apps"}, wantErr: "names no object"},
		{args: []string{"latest", "cm/x", "y"}, wantErr: "not cm/x y"},
	} {
		streams, _, _, _ := genericiooptions.NewTestIOStreams()
		g := testGlobal(t, nil)
		ns := "shop"
		g.ConfigFlags.Namespace = &ns
		o := NewBackupGetOptions(g, streams)
		err := o.Complete(pflag.NewFlagSet("get", pflag.ContinueOnError), c.args)
		if c.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), c.wantErr) {
				t.Errorf("%v: want error %q, got %v", c.args, c.wantErr, err)
			}
			continue
		}
		if err != nil || o.Type != c.wantType || o.Name != c.wantNm || o.namespace != "shop" {
			t.Errorf("%v: type %q name %q namespace %q, %v", c.args, o.Type, o.Name, o.namespace, err)
		}
		o.Output = "table"
		if err := o.Validate(); err == nil || !strings.Contains(err.Error(), "use yaml or json") {
			t.Errorf("-o table: %v", err)
		}
	}
}

func TestBackupDeleteNeedsYesWithoutATerminal(t *testing.T) {
	streams, _, _, _ := genericiooptions.NewTestIOStreams()
	o := NewBackupDeleteOptions(testGlobal(t, nil), streams)
	if err := o.Complete(nil, []string{"20260301T020000Z-1a2b3c"}); err != nil {
		t.Fatal(err)
	}
	if err := o.Validate(); err == nil || !strings.Contains(err.Error(), "without --yes") {
		t.Errorf("want a refusal naming --yes, got %v", err)
	}
	o.DryRun = true
	if err := o.Validate(); err != nil {
		t.Errorf("--dry-run needs no --yes: %v", err)
	}
}

func TestBackupDeleteConfirm(t *testing.T) {
	for answer, want := range map[string]bool{"y\n": true, "YES\n": true, "n\n": false, "\n": false, "": false} {
		streams, in, _, errOut := genericiooptions.NewTestIOStreams()
		in.WriteString(answer)
		o := NewBackupDeleteOptions(testGlobal(t, nil), streams)
		got, _ := o.confirm("Delete?")
		if got != want || !strings.Contains(errOut.String(), "Delete? [y/N]: ") {
			t.Errorf("answer %q: got %v, prompt %q", answer, got, errOut.String())
		}
	}
}

func TestBackupListValidate(t *testing.T) {
	streams, _, _, _ := genericiooptions.NewTestIOStreams()
	o := NewBackupListOptions(testGlobal(t, nil), streams)
	o.Cluster, o.AllClusters = "prod-eu", true
	if err := o.Validate(); err == nil || !strings.Contains(err.Error(), "exclude each other") {
		t.Errorf("--cluster with --all-clusters: %v", err)
	}
	o.AllClusters, o.Cluster = false, "Prod_EU"
	if err := o.Validate(); err == nil || !strings.Contains(err.Error(), `--cluster: Invalid value: "Prod_EU": a lowercase RFC 1123 label`) {
		t.Errorf("a bad --cluster: %v", err)
	}
}

func TestBackupArgument(t *testing.T) {
	for _, ok := range []string{"latest", "20260301T020000Z-1a2b3c", "nightly"} {
		if err := validateBackupArg(ok); err != nil {
			t.Errorf("%s: %v", ok, err)
		}
	}
	if err := validateBackupArg("../x"); err == nil || !strings.Contains(err.Error(), "backup list") {
		t.Errorf("../x: %v", err)
	}
}

// The configuration's problems come all at once, each naming its source.
func TestLoadConfigReportsEveryProblem(t *testing.T) {
	g := testGlobal(t, map[string]string{"LOG_LEVEL": "loud"})
	g.ConfigFile = writeConfig(t, "retention_policies:\n  dev: 0\n")
	g.Storage = "ftp://x"
	_, err := g.loadConfig(configOverride{"backup.behavior.max_resource_size", "huge", "max-resource-size"})
	for _, want := range []string{"flag --max-resource-size", "flag --storage", "env LOG_LEVEL", g.ConfigFile + ":2:8: retention_policies.dev", "(from flag --config) is not valid:"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("want %q in:\n%v", want, err)
		}
	}
}

func TestConfigValidateCommand(t *testing.T) {
	streams, _, out, _ := genericiooptions.NewTestIOStreams()
	o := NewConfigValidateOptions(testGlobal(t, nil), streams)
	if err := o.Complete(nil, []string{writeConfig(t, "environments:\n  - name: dev\n  - name: prod\n")}); err != nil {
		t.Fatal(err)
	}
	if err := o.Run(context.Background()); err != nil || !strings.Contains(out.String(), "valid (the base configuration, environment dev, environment prod checked)") {
		t.Errorf("%v: %s", err, out)
	}
}

func TestUnknownSubcommandIsAnError(t *testing.T) {
	streams, _, out, errOut := genericiooptions.NewTestIOStreams()
	root := NewCmdKbackup(streams)
	root.SetArgs([]string{"config", "valdate"})
	if code := Execute(root); code != ExitFailed || !strings.Contains(errOut.String(), `unknown command "valdate"`) || !strings.Contains(errOut.String(), "did you mean validate?") {
		t.Errorf("exit %d, stderr %q, stdout %q", code, errOut, out)
	}
}

// Execute turns what a command returns into the process exit code: an
// ExitError's code, even when wrapped; 1 for any other error or a bad flag;
// 0 on success. The error is printed once, on stderr.
func TestExitCodes(t *testing.T) {
	for _, tc := range []struct {
		name    string
		args    []string
		err     error
		want    int
		wantErr string
	}{
		{"success", []string{"probe"}, nil, ExitOK, ""},
		{"partially failed", []string{"probe"}, &ExitError{Code: ExitPartiallyFailed, Err: errors.New("2 types failed")}, ExitPartiallyFailed, "Error: 2 types failed\n"},
		{"differences, wrapped", []string{"probe"}, fmt.Errorf("comparing: %w", &ExitError{Code: ExitDifferences, Err: errors.New("3 changed")}), ExitDifferences, "Error: comparing: 3 changed\n"},
		{"plain error", []string{"probe"}, errors.New("boom"), ExitFailed, "Error: boom\n"},
		{"unknown flag", []string{"probe", "--no-such-flag"}, nil, ExitFailed, "Error: unknown flag: --no-such-flag\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			streams, _, out, errOut := genericiooptions.NewTestIOStreams()
			root := NewCmdKbackup(streams)
			ran := false
			root.AddCommand(&cobra.Command{Use: "probe", RunE: func(*cobra.Command, []string) error { ran = true; return tc.err }})
			root.SetArgs(tc.args)
			code := Execute(root)
			if code != tc.want {
				t.Errorf("exit code %d, want %d (stderr %q)", code, tc.want, errOut)
			}
			if tc.wantErr == "" && errOut.Len() != 0 {
				t.Errorf("stderr %q, want nothing", errOut)
			}
			if tc.wantErr != "" && (!strings.HasPrefix(errOut.String(), tc.wantErr) || strings.Count(errOut.String(), "Error:") != 1) {
				t.Errorf("stderr %q, want it to start with %q, once", errOut, tc.wantErr)
			}
			if wantRun := tc.name != "unknown flag"; ran != wantRun {
				t.Errorf("command ran: %v, want %v", ran, wantRun)
			}
			if out.Len() != 0 {
				t.Errorf("stdout %q, want nothing", out)
			}
		})
	}
	// A real command: version succeeds and prints on stdout.
	streams, _, out, errOut := genericiooptions.NewTestIOStreams()
	root := NewCmdKbackup(streams)
	root.SetArgs([]string{"version"})
	if code := Execute(root); code != ExitOK || !strings.HasPrefix(out.String(), "kubectl-kbackup ") || errOut.Len() != 0 {
		t.Errorf("version: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
}

// An error quoting a hostile repository or API server is printed with its
// control characters escaped.
func TestExecutePrintsErrorsWithoutControlCharacters(t *testing.T) {
	streams, _, _, errOut := genericiooptions.NewTestIOStreams()
	root := &cobra.Command{Use: "kbackup", SilenceErrors: true, SilenceUsage: true,
		RunE: func(*cobra.Command, []string) error {
			return errors.New("reading pack \x1b]0;owned\x07 of namespace \x1b[2Jshop\r")
		}}
	root.SetErr(streams.ErrOut)
	root.SetArgs(nil)
	if code := Execute(root); code != ExitFailed {
		t.Errorf("exit code %d, want %d", code, ExitFailed)
	}
	want := "Error: reading pack ^[]0;owned^G of namespace ^[[2Jshop^M\n"
	if errOut.String() != want {
		t.Errorf("printed %q, want %q", errOut.String(), want)
	}
}
