package cmd

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	utilerrors "k8s.io/apimachinery/pkg/util/errors"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/kbackup/kbackup/core/backup"
	"github.com/kbackup/kbackup/core/fleet"
	"github.com/kbackup/kbackup/core/restore"
	"github.com/kbackup/kbackup/core/selection"
	"github.com/kbackup/kbackup/core/storage"
)

func TestFlagErrors(t *testing.T) {
	flags := map[string]string{"spec.include_namespaces": "--include-namespaces", "spec.labels": "--labels", "cluster_name": "--cluster-name"}
	sentinel := errors.New("sentinel")
	list := field.ErrorList{
		field.Invalid(field.NewPath("spec", "include_namespaces").Index(2), "Shop", "not a namespace"),
		field.Invalid(field.NewPath("spec", "labels").Key("team"), "not ok!", "want a value like gold"),
		field.Invalid(field.NewPath("page_size"), 0, "want 1 to 10000"),
	}
	for name, tc := range map[string]struct {
		err  error
		want []string
	}{
		"aggregate": {list.ToAggregate(), []string{
			`--include-namespaces value 3: Invalid value: "Shop": not a namespace`,
			"\n--labels team: Invalid value: \"not ok!\"",
			"\npage_size: Invalid value: 0",
		}},
		"one field error, wrapped": {fmt.Errorf("reading schedule: %w", field.Required(field.NewPath("cluster_name"), "the name to claim")),
			[]string{"reading schedule: --cluster-name: Required value: the name to claim"}},
		"joined with a sentinel": {errors.Join(sentinel, list[0]), []string{"sentinel\n--include-namespaces value 3: Invalid value"}},
		"wrapped aggregate":      {fmt.Errorf("schedule nightly: %w", utilerrors.NewAggregate([]error{list[1]})), []string{"schedule nightly: --labels team: Invalid value"}},
	} {
		got := flagErrors(tc.err, flags)
		for _, want := range tc.want {
			if !strings.Contains(got.Error(), want) {
				t.Errorf("%s: %q does not say %q", name, got, want)
			}
		}
		if len(fieldErrorsIn(got)) != len(fieldErrorsIn(tc.err)) {
			t.Errorf("%s: the rewritten error does not wrap the original", name)
		}
	}
	if got := flagErrors(errors.Join(sentinel, list[0]), flags); !errors.Is(got, sentinel) {
		t.Errorf("the rewritten error does not wrap the sentinel: %v", got)
	}
	if got := flagErrors(sentinel, flags); got != sentinel {
		t.Errorf("an error without fields changed: %v", got)
	}
	if flagErrors(nil, flags) != nil {
		t.Error("nil became an error")
	}
}

// Every field of the backup spec that backup create has a flag for is
// mapped to it.
func TestBackupCreateFlagsCoverTheSpec(t *testing.T) {
	err := backup.Options{Name: "latest", ForceClusterName: true, BackupSpec: fleet.BackupSpec{
		Selection: selection.Selection{IncludeNamespaces: []string{"ok", "Bad!"}, ExcludeNamespaces: []string{"[x"}, IncludeResources: []string{"a b"}, ExcludeResources: []string{""}, LabelSelector: "a in (", ClusterResources: "maybe"}, Labels: map[string]string{"team": "no!"},
	}}.Validate()
	got := flagErrors(err, backupCreateFlags).Error()
	for _, want := range []string{"NAME: Invalid value", "--include-namespaces value 2:", "--exclude-namespaces value 1:", "--include-resources value 1:", "--exclude-resources value 1:",
		"--selector:", `--cluster-resources: Unsupported value: "maybe"`, "--labels team:", "--cluster-name: Required value"} {
		if !strings.Contains(got, want) {
			t.Errorf("%q does not say %q", got, want)
		}
	}
	if strings.Contains(got, "spec.") {
		t.Errorf("a field path is left: %s", got)
	}
}

func TestRestoreFlagErrorsNameTheFlags(t *testing.T) {
	opts := restore.Options{
		Selection:              selection.Selection{IncludeNamespaces: []string{"shop", "[x"}, LabelSelector: "a in (b"},
		ExistingResourcePolicy: "overwrite",
		Concurrency:            999,
	}
	got := flagErrors(opts.Validate(), (&RestoreOptions{}).flags()).Error()
	want := `--include-namespaces value 2: Invalid value: "[x": not a namespace name or pattern; want lower-case letters, digits and '-', with * ? [ ] as wildcards, like payments or team-*
-l/--selector: Invalid value: "a in (b": not a label selector; want key=value, key!=value, key in (a,b) or key, joined by commas
--existing-resource-policy: Unsupported value: "overwrite": supported values: "skip", "update", "fail"
--concurrency: Invalid value: 999: use 1 to 256`
	if got != want {
		t.Errorf("got:\n%s\nwant:\n%s", got, want)
	}

	// -n sets the namespaces when it is given.
	o := &RestoreOptions{namespace: "[x"}
	opts = restore.Options{Selection: selection.Selection{IncludeNamespaces: []string{"[x"}}}
	if got := flagErrors(opts.Validate(), o.flags()).Error(); got != `-n/--namespace value 1: Invalid value: "[x": not a namespace name or pattern; want lower-case letters, digits and '-', with * ? [ ] as wildcards, like payments or team-*` {
		t.Errorf("-n: %s", got)
	}

	// Text around a field error stays, and errors.Is still sees through.
	wrapped := fmt.Errorf("backup %q exists for clusters a, b: %w: %w", "nightly", field.Required(field.NewPath("cluster"), "one of a, b"), storage.ErrInvalid)
	err := flagErrors(wrapped, map[string]string{"cluster": "--from-cluster"})
	if !errors.Is(err, storage.ErrInvalid) {
		t.Error("the rewritten error no longer wraps what it wrapped")
	}
	wrappedOne := fmt.Errorf("resolving: %w", field.Required(field.NewPath("cluster"), "the cluster"))
	if got := flagErrors(wrappedOne, map[string]string{"cluster": "--from-cluster"}).Error(); got != "resolving: --from-cluster: Required value: the cluster" {
		t.Errorf("wrapped: %s", got)
	}

	// An error without field errors passes unchanged; a field no flag sets
	// keeps its path.
	plain := errors.New("plain")
	if flagErrors(plain, nil) != plain {
		t.Error("a plain error is returned as it is")
	}
	if got := flagErrors(field.Invalid(field.NewPath("restore_id"), "x/y", "bad"), map[string]string{}).Error(); got != `restore_id: Invalid value: "x/y": bad` {
		t.Errorf("unmapped: %s", got)
	}
}
