package cmd

import (
	"strings"
	"testing"

	"github.com/spf13/pflag"
	"k8s.io/cli-runtime/pkg/genericiooptions"

	"github.com/kbackup/kbackup/core/restore"
	"github.com/kbackup/kbackup/core/selection"
)

// completeRestore parses args as `restore` would and completes the
// options; interactive says whether stdin is a terminal.
func completeRestore(t *testing.T, g *GlobalOptions, interactive bool, args ...string) (*RestoreOptions, error) {
	t.Helper()
	streams, _, _, _ := genericiooptions.NewTestIOStreams()
	o := NewRestoreOptions(g, streams)
	fs := pflag.NewFlagSet("restore", pflag.ContinueOnError)
	o.AddFlags(fs)
	g.AddFlags(fs)
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if err := o.Complete(fs, fs.Args()); err != nil {
		return o, err
	}
	o.interactive = interactive
	return o, o.Validate()
}

func TestRestoreFlagsBecomeOptions(t *testing.T) {
	o, err := completeRestore(t, testGlobal(t, nil), false, "latest", "--from-cluster", "prod-eu", "-n", "shop", "--namespace-mapping", "shop:shop-restored",
		"--dry-run", "--existing-resource-policy", "update", "--include-owned", "--preserve-nodeports", "--concurrency", "32",
		"--exclude-resources", "secrets", "-l", "app=web", "--cluster-resources", "off", "--cluster-name", "dr-us")
	if err != nil {
		t.Fatal(err)
	}
	opts := o.options
	if o.Backup != "latest" || o.FromCluster != "prod-eu" || strings.Join(opts.IncludeNamespaces, ",") != "shop" || opts.NamespaceMapping["shop"] != "shop-restored" ||
		!opts.DryRun || opts.ExistingResourcePolicy != restore.PolicyUpdate || !opts.IncludeOwned || !opts.PreserveNodePorts || opts.Concurrency != 32 ||
		strings.Join(opts.ExcludeResources, ",") != "secrets" || opts.LabelSelector != "app=web" || opts.ClusterResources != selection.ClusterResourcesOff ||
		opts.TargetClusterName != "dr-us" || opts.TargetClusterNameSource != "explicit" || opts.Object != nil {
		t.Errorf("options: %+v", opts)
	}

	// CLUSTER_NAME names the target too.
	o, err = completeRestore(t, testGlobal(t, map[string]string{"CLUSTER_NAME": "dr-eu"}), false, "latest", "--dry-run=server")
	if err != nil || o.options.TargetClusterName != "dr-eu" || o.options.TargetClusterNameSource != "env" || o.options.IncludeNamespaces != nil {
		t.Errorf("CLUSTER_NAME: %+v %v", o.options, err)
	}

	// One object, in -n's namespace.
	o, err = completeRestore(t, testGlobal(t, nil), true, "latest", "--object", "deploy/api", "-n", "shop")
	if err != nil || o.options.Object == nil || *o.options.Object != (restore.ObjectRef{Resource: "deploy", Namespace: "shop", Name: "api"}) || o.options.IncludeNamespaces != nil {
		t.Errorf("--object: %+v %v", o.options.Object, err)
	}
}

func TestRestoreValidate(t *testing.T) {
	for _, c := range []struct {
		args        []string
		interactive bool
		want        string
	}{
		{[]string{"latest"}, false, "not restoring without --yes"},
		{[]string{}, false, "give its ID or latest"},
		{[]string{"latest", "--dry-run=client"}, false, "--dry-run=server"},
		{[]string{"latest", "--dry-run=maybe"}, false, `--dry-run "maybe"`},
		{[]string{"latest", "--yes", "--existing-resource-policy", "overwrite"}, false, `--existing-resource-policy: Unsupported value: "overwrite": supported values: "skip", "update", "fail"`},
		{[]string{"latest", "--yes", "--cluster-resources", "some"}, false, `--cluster-resources: Unsupported value: "some"`},
		{[]string{"latest", "--yes", "--namespace-mapping", "a"}, false, "--namespace-mapping"},
		{[]string{"latest", "--yes", "--object", "deploy"}, false, "names no object"},
		{[]string{"latest", "--yes", "--object", "deploy/api", "--include-resources", "cm"}, false, "leave out --include-resources"},
		{[]string{"latest", "--yes", "-n", "a", "--include-namespaces", "b"}, false, "exclude each other"},
		{[]string{"latest", "--yes", "--force-cluster-name"}, false, "needs the name to claim"},
		{[]string{"latest", "--yes", "--from-cluster", "_x"}, false, "--from-cluster"},
		{[]string{"latest", "--yes", "--concurrency", "1000"}, false, "--concurrency: Invalid value: 1000: use 1 to 256"},
		{[]string{"../x", "--yes"}, false, "backup list"},
		{[]string{"latest", "--yes", "-o", "table"}, false, `--output "table"`},
	} {
		_, err := completeRestore(t, testGlobal(t, nil), c.interactive, c.args...)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v: want an error with %q, got %v", c.args, c.want, err)
		}
	}
	for _, ok := range [][]string{{"latest", "--dry-run"}, {"latest", "--yes"}, {"20260301T020000Z-1a2b3c", "--dry-run=server", "-o", "json"}} {
		if _, err := completeRestore(t, testGlobal(t, nil), false, ok...); err != nil {
			t.Errorf("%v: %v", ok, err)
		}
	}
	// On a terminal, it asks, and picks the backup.
	if _, err := completeRestore(t, testGlobal(t, nil), true); err != nil {
		t.Errorf("on a terminal: %v", err)
	}
}

func TestDiffAndVerifyValidate(t *testing.T) {
	for _, c := range []struct {
		cmd  string
		args []string
		want string
	}{
		{"diff", []string{"a", "b", "--namespace-mapping", "x:y"}, "does not apply between two backups"},
		{"diff", []string{"--summary", "-o", "json"}, "exclude each other"},
		{"diff", []string{"latest", "../x"}, "backup list"},
		{"verify", []string{"latest", "--all"}, "not both"},
		{"verify", []string{"--all-clusters", "--cluster", "a"}, "exclude each other"},
		{"verify", []string{"--all", "--all-clusters"}, "exclude each other"},
	} {
		streams, _, _, _ := genericiooptions.NewTestIOStreams()
		g := testGlobal(t, nil)
		fs := pflag.NewFlagSet(c.cmd, pflag.ContinueOnError)
		g.AddFlags(fs)
		var complete func() error
		var validate func() error
		switch c.cmd {
		case "diff":
			o := NewDiffOptions(g, streams)
			o.AddFlags(fs)
			complete, validate = func() error { return o.Complete(fs, fs.Args()) }, o.Validate
		case "verify":
			o := NewVerifyOptions(g, streams)
			o.AddFlags(fs)
			complete, validate = func() error { return o.Complete(fs, fs.Args()) }, o.Validate
		}
		if err := fs.Parse(c.args); err != nil {
			t.Fatal(err)
		}
		err := complete()
		if err == nil {
			err = validate()
		}
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s %v: want %q, got %v", c.cmd, c.args, c.want, err)
		}
	}
}
