package cmd

import (
	"strings"
	"testing"

	"github.com/spf13/pflag"
	"k8s.io/cli-runtime/pkg/genericiooptions"
)

// Bad input is refused before anything is read, naming the flag or the
// kbackup.yaml key and what would be accepted.
func TestExportValidate(t *testing.T) {
	const envs = "environments:\n  - name: dev\n    cluster_url: https://dev.example.com\n  - name: prod\n"
	for _, c := range []struct {
		name   string
		config string
		args   []string
		want   string
	}{
		{"no output", envs, []string{"--repo-url", "https://git.example.com/x.git"}, "--output is required"},
		{"no repository", envs, []string{"--output", "d"}, "--repo-url: Required value"},
		{"environment without cluster_url", envs, []string{"--output", "d", "--repo-url", "https://git.example.com/x.git"},
			`environments[1].cluster_url: Required value: environment "prod" has no cluster_url`},
		{"override of an unknown environment", envs + "    cluster_url: https://prod.example.com\nclusters:\n  critical-workloads:\n    production: https://p.example.com\n",
			[]string{"--output", "d", "--repo-url", "https://git.example.com/x.git"}, `"production" is not a defined environment`},
		{"no environments", "", []string{"--output", "d", "--repo-url", "https://git.example.com/x.git"}, "environments: Required value: a GitOps export writes an overlay per environment"},
		{"bad format", envs, []string{"--output", "d", "--format", "helm"}, `--format: Unsupported value: "helm"`},
		{"bad secrets", "", []string{"--output", "d", "--format", "plain", "--secrets", "yes"}, `--secrets: Unsupported value: "yes"`},
		{"bad report", "", []string{"--output", "d", "--format", "plain", "--report", "table"}, `--report "table" is not supported`},
		{"bad backup", "", []string{"Bad/ID", "--output", "d", "--format", "plain"}, "give a backup ID"},
	} {
		t.Run(c.name, func(t *testing.T) {
			streams, _, _, _ := genericiooptions.NewTestIOStreams()
			g := testGlobal(t, nil)
			if c.config != "" {
				g.ConfigFile = writeConfig(t, c.config)
			}
			o := NewExportOptions(g, streams)
			fs := pflag.NewFlagSet("export", pflag.ContinueOnError)
			o.AddFlags(fs)
			if err := fs.Parse(c.args); err != nil {
				t.Fatal(err)
			}
			err := o.Complete(fs, fs.Args())
			if err == nil {
				err = o.Validate()
			}
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("want an error with %q, got %v", c.want, err)
			}
		})
	}
}
