package catalog_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/kbackup/kbackup/core/catalog"
	"github.com/kbackup/kbackup/core/repo"
	"github.com/kbackup/kbackup/core/selection"
)

// A namespace named plainly that the backup holds neither objects of nor
// the Namespace itself is refused, naming what the backup holds; patterns
// and an empty namespace the backup kept are not.
func TestCheckNamespaces(t *testing.T) {
	m := &repo.Manifest{ID: "20261130T010000Z-abc", Cluster: repo.ClusterIdentity{Name: "prod-eu"}, Packs: []repo.PackEntry{
		{PackRef: repo.PackRef{Namespace: "shop", Resource: "configmaps"}, Namespaced: true, Objects: []string{"a"}},
		{PackRef: repo.PackRef{Resource: "namespaces"}, Objects: []string{"empty", "shop"}},
	}}
	for _, tc := range []struct {
		include, exclude []string
		absent           []string
	}{
		{include: []string{"shop"}},
		{include: []string{"empty"}},
		{include: []string{"payments"}, absent: []string{"payments"}},
		{include: []string{"shop", "payments", "billing"}, absent: []string{"billing", "payments"}},
		{include: []string{"pay*"}},
		{include: []string{"payments"}, exclude: []string{"payments"}},
		{},
	} {
		sel, err := selection.Selection{IncludeNamespaces: tc.include, ExcludeNamespaces: tc.exclude}.Compile(nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		err = catalog.CheckNamespaces(m, sel)
		var notIn *catalog.NamespacesNotInBackupError
		switch {
		case tc.absent == nil && err != nil:
			t.Errorf("%v: %v, want none", tc.include, err)
		case tc.absent != nil && !errors.As(err, &notIn):
			t.Errorf("%v: %v, want NamespacesNotInBackupError", tc.include, err)
		case tc.absent != nil:
			if strings.Join(notIn.Absent, ",") != strings.Join(tc.absent, ",") {
				t.Errorf("%v: absent %v, want %v", tc.include, notIn.Absent, tc.absent)
			}
			for _, want := range append([]string{"20261130T010000Z-abc", "prod-eu", "it holds namespaces empty, shop"}, tc.absent...) {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("%v: %q lacks %q", tc.include, err, want)
				}
			}
		}
	}
}
