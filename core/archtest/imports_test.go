package archtest

import (
	"fmt"
	"go/ast"
	"go/types"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"

	"golang.org/x/tools/go/packages"
)

const (
	coreModule = "github.com/kbackup/kbackup/core"
	docPath    = "../../docs/development.md"
)

// frontEndLibraries are what only front ends may import: core knows
// fields, options and specs, never a flag or an attribute.
var frontEndLibraries = []string{
	"github.com/spf13/cobra",
	"github.com/spf13/pflag",
	"github.com/charmbracelet/lipgloss",
	"github.com/hashicorp/terraform-plugin-",
}

// packListReaders may touch repo.Manifest.Packs: the reader of backups,
// and the format that writes and collects them.
var packListReaders = []string{coreModule + "/catalog", coreModule + "/repo"}

var (
	loadOnce   sync.Once
	loaded     []*packages.Package
	loadFailed string
)

// loadModules loads every package of the three modules (go.work ties
// them), with types for the pack-list check, once for every test.
func loadModules(t *testing.T) []*packages.Package {
	t.Helper()
	loadOnce.Do(func() { loaded, loadFailed = load() })
	if loadFailed != "" {
		t.Fatal(loadFailed)
	}
	return loaded
}

func load() ([]*packages.Package, string) {
	root, err := filepath.Abs("../..")
	if err != nil {
		return nil, err.Error()
	}
	cfg := &packages.Config{
		Mode: packages.NeedName | packages.NeedImports | packages.NeedFiles | packages.NeedSyntax |
			packages.NeedTypes | packages.NeedTypesInfo,
		Dir: root,
	}
	pkgs, err := packages.Load(cfg, "./core/...", "./kubectl-kbackup/...", "./terraform-provider/...")
	if err != nil {
		return nil, err.Error()
	}
	var broken []string
	packages.Visit(pkgs, nil, func(p *packages.Package) {
		for _, e := range p.Errors {
			broken = append(broken, e.Error())
		}
	})
	if len(broken) > 0 {
		return nil, "loading the modules:\n" + strings.Join(broken, "\n")
	}
	if len(pkgs) < 20 {
		return nil, fmt.Sprintf("loaded only %d packages: the patterns did not find the modules", len(pkgs))
	}
	// go list read the sources in another process, which go test's cache
	// does not see: stat them here, so that a changed source runs the test
	// again instead of replaying a cached pass.
	for _, p := range pkgs {
		for _, f := range p.GoFiles {
			if _, err := os.Stat(f); err != nil {
				return nil, err.Error()
			}
		}
	}
	return pkgs, ""
}

// importRules reads the table between the imports markers of
// docs/development.md: package, then the core packages it may import.
func importRules(t *testing.T) map[string][]string {
	t.Helper()
	doc, err := os.ReadFile(docPath)
	if err != nil {
		t.Fatal(err)
	}
	block := regexp.MustCompile(`(?s)<!-- imports:begin -->(.*)<!-- imports:end -->`).FindSubmatch(doc)
	if block == nil {
		t.Fatalf("%s has no imports table between <!-- imports:begin --> and <!-- imports:end -->", docPath)
	}
	rules := map[string][]string{}
	for _, line := range strings.Split(string(block[1]), "\n") {
		cells := strings.Split(strings.Trim(strings.TrimSpace(line), "|"), "|")
		if len(cells) != 2 || strings.TrimSpace(cells[0]) == "package" || strings.HasPrefix(strings.TrimSpace(cells[0]), "---") {
			continue
		}
		rules[strings.TrimSpace(cells[0])] = strings.Fields(cells[1])
	}
	if len(rules) < 5 {
		t.Fatalf("%s: the imports table names only %d packages", docPath, len(rules))
	}
	return rules
}

// corePackage returns the package's path inside core ("repo",
// "testenv/workload"), or false for another module's.
func corePackage(path string) (string, bool) {
	rel, ok := strings.CutPrefix(path, coreModule+"/")
	return rel, ok
}

// rowOf finds the rule of a core package: its own row, or that of the
// nearest parent (testenv covers testenv/workload).
func rowOf(rules map[string][]string, rel string) (string, bool) {
	for name := rel; name != "."; name = filepath.Dir(name) {
		if _, ok := rules[name]; ok {
			return name, true
		}
	}
	return "", false
}

func TestImportRules(t *testing.T) {
	rules := importRules(t)
	pkgs := loadModules(t)
	seen := map[string]bool{}
	for _, p := range pkgs {
		rel, inCore := corePackage(p.PkgPath)
		for imp := range p.Imports {
			if inCore {
				for _, lib := range frontEndLibraries {
					if strings.HasPrefix(imp, lib) {
						t.Errorf("core package %s imports %s: core returns options, results and field errors, and front ends render them", rel, imp)
					}
				}
			}
			importedRel, importsCore := corePackage(imp)
			if !importsCore {
				continue
			}
			if !inCore {
				// Front ends use core, but not its test environment.
				if strings.HasPrefix(importedRel, "testenv") && !strings.Contains(p.PkgPath, "/test/") {
					t.Errorf("%s imports %s: the test environment is for tests", p.PkgPath, imp)
				}
				continue
			}
			row, ok := rowOf(rules, rel)
			if !ok {
				t.Errorf("core package %s has no row in the imports table of %s: add it, with what it may import", rel, docPath)
				break
			}
			seen[row] = true
			allowed := rules[row]
			importedRow, _ := rowOf(rules, importedRel)
			if row == importedRow || slices.Contains(allowed, "any") || slices.Contains(allowed, importedRel) || slices.Contains(allowed, importedRow) {
				continue
			}
			t.Errorf("core package %s imports %s, which its row in %s does not allow (it may import: %s)", rel, importedRel, docPath, strings.Join(allowed, " "))
		}
		if inCore {
			if row, ok := rowOf(rules, rel); ok {
				seen[row] = true
			}
		}
	}
	for name := range rules {
		if !seen[name] {
			t.Errorf("the imports table of %s names %s, which is no package of core: remove or rename its row", docPath, name)
		}
	}
}

// TestOneReaderOfPackLists fails when a package other than the catalog and
// the format reads or writes a manifest's pack list.
func TestOneReaderOfPackLists(t *testing.T) {
	pkgs := loadModules(t)
	checked := 0
	for _, p := range pkgs {
		if slices.Contains(packListReaders, p.PkgPath) || p.TypesInfo == nil {
			continue
		}
		for _, file := range p.Syntax {
			ast.Inspect(file, func(n ast.Node) bool {
				sel, ok := n.(*ast.SelectorExpr)
				if !ok {
					return true
				}
				checked++
				v, ok := p.TypesInfo.Uses[sel.Sel].(*types.Var)
				if !ok || !v.IsField() || v.Name() != "Packs" || v.Pkg() == nil || v.Pkg().Path() != coreModule+"/repo" {
					return true
				}
				if owner := fieldOwner(p.TypesInfo, sel); owner == "Manifest" {
					t.Errorf("%s touches repo.Manifest.Packs: read a backup's packs through core/catalog (Select, Packs, Counts, ReadEveryPack)",
						p.Fset.Position(sel.Pos()))
				}
				return true
			})
		}
	}
	if checked == 0 {
		t.Fatal("no selector expression checked: the packages were loaded without syntax")
	}
}

// fieldOwner names the struct type whose field sel selects.
func fieldOwner(info *types.Info, sel *ast.SelectorExpr) string {
	selection, ok := info.Selections[sel]
	if !ok {
		return ""
	}
	recv := selection.Recv()
	if ptr, ok := recv.(*types.Pointer); ok {
		recv = ptr.Elem()
	}
	if named, ok := recv.(*types.Named); ok {
		return named.Obj().Name()
	}
	return ""
}
