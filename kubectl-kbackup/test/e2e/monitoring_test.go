package e2e

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/prometheus/promql/parser"

	"github.com/kbackup/kbackup/core/fleet"
	"github.com/kbackup/kbackup/core/selection"
	"github.com/kbackup/kbackup/core/testenv"
)

var monitoringDir = filepath.Join("..", "..", "..", "examples", "monitoring")

// The alert rules pass Prometheus' own checks, and promtool's unit tests
// of every alert (kbackup-alerts_test.yaml) pass.
func TestAlertRulesPassPromtool(t *testing.T) {
	promtool := testenv.DebianTool(t, "promtool")
	for _, args := range [][]string{{"check", "rules", "kbackup-alerts.yaml"}, {"test", "rules", "kbackup-alerts_test.yaml"}} {
		cmd := exec.Command(promtool, args...)
		cmd.Dir = monitoringDir
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Errorf("promtool %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	// Every alert has a unit test.
	rules, err := os.ReadFile(filepath.Join(monitoringDir, "kbackup-alerts.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	tests, err := os.ReadFile(filepath.Join(monitoringDir, "kbackup-alerts_test.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range regexp.MustCompile(`(?m)^\s*- alert: (\S+)`).FindAllStringSubmatch(string(rules), -1) {
		if !strings.Contains(string(tests), "alertname: "+m[1]+"\n") {
			t.Errorf("alert %s has no unit test in kbackup-alerts_test.yaml", m[1])
		}
	}
}

// grafanaVariables are replaced by values of their kind before an
// expression is parsed, as Grafana does before it sends the query.
var grafanaVariables = strings.NewReplacer("$__rate_interval", "1m", "$__range", "1h", "$__interval", "1m", "$environment", ".*", "$cluster", ".*")

// dashboardExpressions returns every PromQL expression of the dashboard:
// its panels' targets and its variables' label_values queries.
func dashboardExpressions(t *testing.T) []string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(monitoringDir, "grafana-dashboard.json"))
	if err != nil {
		t.Fatal(err)
	}
	var dash struct {
		Panels []struct {
			Title   string `json:"title"`
			Targets []struct {
				Expr string `json:"expr"`
			} `json:"targets"`
		} `json:"panels"`
		Templating struct {
			List []struct {
				Type  string `json:"type"`
				Query any    `json:"query"`
			} `json:"list"`
		} `json:"templating"`
	}
	if err := json.Unmarshal(data, &dash); err != nil {
		t.Fatal(err)
	}
	var exprs []string
	for _, p := range dash.Panels {
		if len(p.Targets) == 0 {
			t.Errorf("panel %q has no query", p.Title)
		}
		for _, target := range p.Targets {
			exprs = append(exprs, target.Expr)
		}
	}
	labelValues := regexp.MustCompile(`^label_values\((.+), *[a-z_]+\)$`)
	for _, v := range dash.Templating.List {
		if v.Type != "query" {
			continue
		}
		q, _ := v.Query.(map[string]any)
		s, _ := q["query"].(string)
		m := labelValues.FindStringSubmatch(s)
		if m == nil {
			t.Errorf("variable query %q is not label_values(selector, label)", s)
			continue
		}
		exprs = append(exprs, m[1])
	}
	return exprs
}

// Every PromQL expression of the Grafana dashboard parses with Prometheus'
// own parser, and every metric it names is served by `serve --scheduler`
// once it has run a slot.
func TestGrafanaDashboardQueriesParseAndAreServed(t *testing.T) {
	bucket := env.S3.NewBucket(t)
	storageURL := env.S3.RepositoryURL(bucket)
	inv := invocation{env: []string{"KBACKUP_CONFIG=" + writeFile(t, "kbackup.yaml", "environments:\n  - name: prod\n")}}
	mustRun(t, 0, inv, "cluster", "register", "--context", "prod-eu", "--environment", "prod", "--storage", storageURL)
	putSchedule(t, openBucket(t, bucket), &fleet.Schedule{Name: "dash", Cron: "@every 5s",
		Spec: fleet.BackupSpec{Selection: selection.Selection{IncludeNamespaces: []string{"kube-system"}}}})
	serve := startServe(t, inv, "--scheduler", "--storage", storageURL, "--reload-interval", "1s", "--metrics-refresh-interval", "1s")

	var exposition string
	waitFor(t, 2*time.Minute, "a scheduled run in the metrics", func() error {
		body, err := serve.get("/metrics")
		if err != nil {
			return err
		}
		exposition = body
		if _, ok := metricValue(body, "kbackup_scheduler_runs_total", `result="completed"`); !ok {
			return fmt.Errorf("no completed run yet")
		}
		if _, ok := metricValue(body, "kbackup_cluster_last_success_timestamp_seconds", `cluster="prod-eu"`); !ok {
			return fmt.Errorf("no last success of prod-eu yet")
		}
		return nil
	})
	// Prometheus' own linter of names, units and help texts.
	check := exec.Command(testenv.DebianTool(t, "promtool"), "check", "metrics")
	check.Stdin = strings.NewReader(exposition)
	if out, err := check.CombinedOutput(); err != nil {
		t.Errorf("promtool check metrics: %v\n%s", err, out)
	}
	served := map[string]bool{}
	for _, line := range strings.Split(exposition, "\n") {
		if name, ok := strings.CutPrefix(line, "# TYPE "); ok {
			f := strings.Fields(name)
			served[f[0]] = true
			if f[1] == "histogram" {
				for _, suffix := range []string{"_bucket", "_sum", "_count"} {
					served[f[0]+suffix] = true
				}
			}
		}
	}

	exprs := dashboardExpressions(t)
	if len(exprs) < 10 {
		t.Fatalf("only %d expressions in the dashboard", len(exprs))
	}
	var named []string
	for _, e := range exprs {
		expr, err := parser.NewParser(parser.Options{}).ParseExpr(grafanaVariables.Replace(e))
		if err != nil {
			t.Errorf("dashboard expression %q does not parse: %v", e, err)
			continue
		}
		parser.Inspect(expr, func(node parser.Node, _ []parser.Node) error {
			if vs, ok := node.(*parser.VectorSelector); ok && vs.Name != "" {
				named = append(named, vs.Name)
				if !served[vs.Name] {
					t.Errorf("dashboard expression %q names %s, which serve does not serve", e, vs.Name)
				}
			}
			return nil
		})
	}
	slices.Sort(named)
	t.Logf("metrics the dashboard reads: %v", slices.Compact(named))
}

// examples/serve builds with kubectl's kustomize, and a real API server
// accepts every object of it (a server-side dry run).
func TestServeKustomizationApplies(t *testing.T) {
	kubectl, err := testenv.BinaryPath(testenv.BinKubectl)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	src := filepath.Join("..", "..", "..", "examples", "serve")
	entries, err := os.ReadDir(src)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		data, err := os.ReadFile(filepath.Join(src, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, e.Name()), data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	// What the user provides: a kubeconfig and S3 credentials.
	if err := env.WriteKubeconfig(filepath.Join(dir, "kubeconfig")); err != nil {
		t.Fatal(err)
	}
	data, _ := os.ReadFile(filepath.Join(dir, "s3-credentials.env.example"))
	if err := os.WriteFile(filepath.Join(dir, "s3-credentials.env"), data, 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(kubectl, "kustomize", dir).CombinedOutput()
	if err != nil {
		t.Fatalf("kubectl kustomize: %v\n%s", err, out)
	}
	for _, kind := range []string{"kind: Namespace", "kind: Deployment", "kind: Service", "kind: ConfigMap", "kind: Secret"} {
		if !strings.Contains(string(out), kind) {
			t.Errorf("the kustomization has no %s:\n%s", kind, out)
		}
	}
	kc := filepath.Join(t.TempDir(), "kubeconfig")
	if err := env.WriteKubeconfig(kc); err != nil {
		t.Fatal(err)
	}
	// The namespace for real (a dry run of the objects in it needs it),
	// then every object as a server-side dry run.
	create := exec.Command(kubectl, "--kubeconfig", kc, "--context", "prod-eu", "create", "namespace", "kbackup")
	if out, err := create.CombinedOutput(); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	apply := exec.Command(kubectl, "--kubeconfig", kc, "--context", "prod-eu", "apply", "-k", dir, "--dry-run=server")
	if out, err := apply.CombinedOutput(); err != nil {
		t.Errorf("kubectl apply -k --dry-run=server: %v\n%s", err, out)
	}
}
