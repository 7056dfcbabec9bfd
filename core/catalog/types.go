package catalog

import (
	"fmt"
	"slices"
	"strings"

	"github.com/kbackup/kbackup/core/kube"
	"github.com/kbackup/kbackup/core/repo"
	"github.com/kbackup/kbackup/core/selection"
)

// TypeNames reads the resource types users name, in one order for every
// operation: through a cluster's discovery first (which knows short names
// such as cm and deploy, and prefers the core group for a name two groups
// share, as kubectl does), then through the backups' manifests (which know
// custom resources whose definition the cluster does not serve).
type TypeNames struct {
	// Discovery is the discovery of the cluster involved, if any: the
	// target of a restore, the live side of a diff, the cluster being
	// backed up, or the current context's cluster when it answers.
	Discovery *kube.Resources
	// Backups are the backups involved, if any.
	Backups []*repo.Manifest
}

// Resolve returns the resource.group name of input. A type the cluster
// serves wins when a backup holds it too, or when no backup is involved,
// or when no backup holds anything input could name; otherwise the type a
// backup holds wins, so that a custom resource the cluster serves under
// another group does not hide the backup's.
func (n TypeNames) Resolve(input string) (string, error) {
	discovered, discErr := "", error(nil)
	if n.Discovery != nil {
		res, err := n.Discovery.ResolveUserInput(input)
		if err == nil {
			discovered = res.String()
			if len(n.Backups) == 0 || slices.ContainsFunc(n.Backups, func(m *repo.Manifest) bool { return Holds(m, discovered) }) {
				return discovered, nil
			}
		}
		discErr = err
	}
	if len(n.Backups) == 0 {
		return "", discErr
	}
	var (
		matches []string
		errs    []string
	)
	for _, m := range n.Backups {
		r, err := ResolveResource(m, input)
		if err != nil {
			errs = append(errs, err.Error())
			continue
		}
		if !slices.Contains(matches, r) {
			matches = append(matches, r)
		}
	}
	switch {
	case len(matches) == 1:
		return matches[0], nil
	case len(matches) > 1:
		slices.Sort(matches)
		return "", fmt.Errorf("resource type %q is ambiguous: the backups hold %s; say which", input, strings.Join(matches, " and "))
	case discovered != "":
		// The cluster serves it and no backup holds anything of the name:
		// it selects nothing from the backups, which is not an error.
		return discovered, nil
	}
	msg := strings.Join(slices.Compact(errs), "; ")
	if n.Discovery != nil {
		msg = "the cluster serves no such type, and " + msg
	}
	return "", fmt.Errorf("%s", msg)
}

// Resolver returns Resolve as a selection.TypeResolver.
func (n TypeNames) Resolver() selection.TypeResolver { return n.Resolve }
