package cmd

import (
	"strings"
	"testing"

	"github.com/spf13/pflag"
	"k8s.io/cli-runtime/pkg/genericiooptions"

	"github.com/kbackup/kbackup/core/backup"
)

// testGlobal returns global options that read no file and no variable but
// those given.
func testGlobal(t *testing.T, env map[string]string) *GlobalOptions {
	t.Helper()
	t.Setenv("HOME", t.TempDir())
	t.Setenv("XDG_DATA_HOME", "/data")
	g := NewGlobalOptions()
	g.lookupEnv = func(k string) (string, bool) {
		v, ok := env[k]
		return v, ok
	}
	return g
}

// completeCreate parses args as `backup create` would and completes the
// options.
func completeCreate(t *testing.T, g *GlobalOptions, args ...string) (*BackupCreateOptions, error) {
	t.Helper()
	streams, _, _, _ := genericiooptions.NewTestIOStreams()
	o := NewBackupCreateOptions(g, streams)
	fs := pflag.NewFlagSet("create", pflag.ContinueOnError)
	o.AddFlags(fs)
	g.AddFlags(fs)
	if err := fs.Parse(args); err != nil {
		t.Fatal(err)
	}
	if err := o.Complete(fs, fs.Args()); err != nil {
		return o, err
	}
	return o, o.Validate()
}

func TestBackupCreateFlagsBecomeOptions(t *testing.T) {
	g := testGlobal(t, nil)
	o, err := completeCreate(t, g, "nightly", "-n", "shop", "--exclude-resources", "secrets,events", "-l", "app=web",
		"--max-resource-size", "5Mi", "--skip-invalid=false", "--cluster-name", "prod-eu", "--labels", "team=platform")
	if err != nil {
		t.Fatal(err)
	}
	opts := o.options
	if opts.Name != "nightly" || strings.Join(opts.IncludeNamespaces, ",") != "shop" || strings.Join(opts.ExcludeResources, ",") != "secrets,events" ||
		opts.LabelSelector != "app=web" || opts.MaxResourceSize != 5<<20 || opts.SkipInvalid || opts.ClusterName != "prod-eu" ||
		opts.Labels["team"] != "platform" || opts.ClusterResources != backup.ClusterResourcesAuto {
		t.Errorf("options: %+v", opts)
	}
	if got := o.primary.Location.String(); got != "file:///data/kbackup" || !o.primary.Create {
		t.Errorf("with nothing configured the backup goes to the default local repository, created: %s, create %v", got, o.primary.Create)
	}
}

// Flags win over environment variables, which win over the file.
func TestBackupCreatePrecedence(t *testing.T) {
	g := testGlobal(t, map[string]string{"CLUSTER_NAME": "from-env", "KBACKUP_STORAGE": "s3://env-bucket?endpoint=http://127.0.0.1:9000"})
	o, err := completeCreate(t, g)
	if err != nil {
		t.Fatal(err)
	}
	if o.options.ClusterName != "from-env" || o.primary.Location.Bucket != "env-bucket" {
		t.Errorf("from the environment: cluster %q, bucket %q", o.options.ClusterName, o.primary.Location.Bucket)
	}
	g = testGlobal(t, map[string]string{"CLUSTER_NAME": "from-env", "KBACKUP_STORAGE": "s3://env-bucket?endpoint=http://127.0.0.1:9000"})
	o, err = completeCreate(t, g, "--cluster-name", "from-flag", "--storage", "/srv/repo", "--fallback-storage", "/srv/spare")
	if err != nil {
		t.Fatal(err)
	}
	if o.options.ClusterName != "from-flag" || o.primary.Location.String() != "file:///srv/repo" ||
		len(o.fallbacks) != 1 || o.fallbacks[0].Location.Path != "/srv/spare" || !o.fallbacks[0].Create {
		t.Errorf("from flags: cluster %q, storage %+v %+v", o.options.ClusterName, o.primary, o.fallbacks)
	}
}

func TestBackupCreateRefusesBadFlags(t *testing.T) {
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"-n", "shop", "-A"}, "-n/--namespace and -A/--all-namespaces exclude each other"},
		{[]string{"-n", "shop", "--include-namespaces", "web"}, "-n/--namespace shop and --include-namespaces exclude each other"},
		{[]string{"-A", "--include-namespaces", "web"}, "-A/--all-namespaces and --include-namespaces exclude each other"},
		{[]string{"--force-cluster-name"}, "--cluster-name: Required value: forcing the cluster name needs the name to claim"},
		{[]string{"--labels", "bad key=x"}, `--labels bad key: Invalid value: "bad key"`},
		{[]string{"--cluster-resources", "sometimes"}, "flag --cluster-resources: backup.cluster_resources"},
		{[]string{"--max-resource-size", "big"}, `flag --max-resource-size: backup.behavior.max_resource_size: "big" is not a quantity`},
		{[]string{"--storage", "ftp://host/x"}, `flag --storage: storage.url: "ftp://host/x" has scheme "ftp"`},
		{[]string{"--fallback-storage", "s3://"}, "--fallback-storage: storage URL"},
		{[]string{"latest"}, `NAME: Invalid value: "latest": is reserved`},
		{[]string{"-o", "wide"}, `--output "wide" is not supported`},
	} {
		_, err := completeCreate(t, testGlobal(t, nil), c.args...)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v: want an error containing %q, got %v", c.args, c.want, err)
		}
	}
}

// -A takes every namespace even when the configuration names some.
func TestBackupCreateAllNamespacesOverridesTheConfiguration(t *testing.T) {
	g := testGlobal(t, nil)
	cfg := writeConfig(t, "backup:\n  include_namespaces: [shop]\n")
	o, err := completeCreate(t, g, "--config", cfg)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(o.options.IncludeNamespaces, ",") != "shop" {
		t.Errorf("from the file: %v", o.options.IncludeNamespaces)
	}
	o, err = completeCreate(t, g, "--config", cfg, "-A")
	if err != nil {
		t.Fatal(err)
	}
	if len(o.options.IncludeNamespaces) != 0 {
		t.Errorf("-A: %v", o.options.IncludeNamespaces)
	}
}
