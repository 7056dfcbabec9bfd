package cmd

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/kbackup/kbackup/core/repo"
	"github.com/kbackup/kbackup/core/retention"
)

// Core's errors about what the repository holds get the command or flags
// that help, which core cannot name.
func TestRepositoryHintsSayHowToGoOn(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want string
	}{
		{fmt.Errorf("opening: %w", repo.ErrNoRepository), "Run `kubectl kbackup backup create`"},
		{fmt.Errorf("cluster prod-eu has no backup \"x\": %w", &repo.BackupNotFoundError{Cluster: "prod-eu", ID: "x"}), "`kubectl kbackup backup list --cluster prod-eu`"},
		{fmt.Errorf("no cluster has a backup \"x\": %w", &repo.BackupNotFoundError{ID: "x"}), "`kubectl kbackup backup list --all-clusters`"},
		{fmt.Errorf("cluster prod-us has no backup: %w", &repo.BackupNotFoundError{Cluster: "prod-us"}), "name the cluster with --cluster (--from-cluster"},
		{&retention.NoPolicyError{Cluster: "dev", Why: "no registry entry"}, "--keep-daily 7"},
	} {
		got := repositoryHints(tc.err)
		if !strings.Contains(got.Error(), tc.want) || !errors.Is(got, tc.err) {
			t.Errorf("%v: got %q, want it to wrap the error and say %q", tc.err, got, tc.want)
		}
	}
	other := errors.New("connection refused")
	if got := repositoryHints(other); got != other {
		t.Errorf("an error without a hint changed: %v", got)
	}
}
