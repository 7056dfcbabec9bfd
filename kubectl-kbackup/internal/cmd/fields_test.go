package cmd

import (
	"errors"
	"fmt"
	"testing"

	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/kbackup/kbackup/core/repo"
	"github.com/kbackup/kbackup/core/restore"
	"github.com/kbackup/kbackup/core/selection"
)

func TestFlagErrorsNameTheFlags(t *testing.T) {
	opts := restore.Options{
		Selection:              selection.Selection{IncludeNamespaces: []string{"shop", "[x"}, LabelSelector: "a in (b"},
		ExistingResourcePolicy: "overwrite",
		Concurrency:            999,
	}
	got := flagErrors(opts.Validate(), (&RestoreOptions{}).flags()).Error()
	want := `--include-namespaces (value 2): Invalid value: "[x": not a name or a shell pattern; use a name or a shell pattern like team-*
-l/--selector: Invalid value: "a in (b": use key=value, key!=value, key in (a,b) or key, joined by commas
--existing-resource-policy: Unsupported value: "overwrite": supported values: "skip", "update", "fail"
--concurrency: Invalid value: 999: use 1 to 256`
	if got != want {
		t.Errorf("got:\n%s\nwant:\n%s", got, want)
	}

	// -n sets the namespaces when it is given.
	o := &RestoreOptions{namespace: "[x"}
	opts = restore.Options{Selection: selection.Selection{IncludeNamespaces: []string{"[x"}}}
	if got := flagErrors(opts.Validate(), o.flags()).Error(); got != `-n/--namespace (value 1): Invalid value: "[x": not a name or a shell pattern; use a name or a shell pattern like team-*` {
		t.Errorf("-n: %s", got)
	}

	// Text around a field error stays, and errors.Is still sees through.
	wrapped := fmt.Errorf("backup %q exists for clusters a, b: %w: %w", "nightly", field.Required(field.NewPath("cluster"), "one of a, b"), repo.ErrInvalid)
	err := flagErrors(wrapped, map[string]string{"cluster": "--from-cluster"})
	if !errors.Is(err, repo.ErrInvalid) {
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
