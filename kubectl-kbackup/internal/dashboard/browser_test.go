package dashboard

import (
	"context"
	"encoding/base64"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"

	"github.com/kbackup/kbackup/core/backup"
	"github.com/kbackup/kbackup/core/clean"
	"github.com/kbackup/kbackup/core/kube"
	"github.com/kbackup/kbackup/core/repo"
	"github.com/kbackup/kbackup/core/restore"
	"github.com/kbackup/kbackup/core/selection"
	"github.com/kbackup/kbackup/core/testenv"
	"github.com/kbackup/kbackup/core/testenv/repotest"
	"github.com/kbackup/kbackup/core/testenv/workload"
)

// updateScreenshots, when set, makes TestDashboardInChromium write its
// screenshots into docs/images/; otherwise they go to a temporary
// directory and are only checked to be images.
const updateScreenshots = "KBACKUP_UPDATE_SCREENSHOTS"

// chromium finds the browser the tests drive, or fails saying how to get it.
func chromium(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if path, err := exec.LookPath(name); err == nil {
			return path
		}
	}
	t.Fatal("no headless Chromium found (chromium on PATH): run `make testenv`, or `apt-get install -y --no-install-recommends chromium`")
	return ""
}

// browser starts a headless Chromium with JavaScript disabled, for the
// test's life.
func browser(t *testing.T) context.Context {
	t.Helper()
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromium(t)),
		chromedp.NoSandbox, // the test may run as root, where Chromium's sandbox refuses to start
		chromedp.WindowSize(1400, 900),
	)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(allocCtx)
	t.Cleanup(func() { cancel(); cancelAlloc() })
	// No page of the dashboard needs a script: it is used with them off.
	if _, err := chromedp.Call(ctx, emulation.SetScriptExecutionDisabled, emulation.SetScriptExecutionDisabledParams{Value: true}); err != nil {
		t.Fatalf("starting Chromium: %v", err)
	}
	return ctx
}

// backupCluster backs up a test cluster into the repository of opts under
// name, as `backup create` does.
func backupCluster(t *testing.T, c *testenv.Cluster, opts repo.Options, name string) *repo.Manifest {
	t.Helper()
	client, err := kube.NewClient(c.Config(), kube.ClientOptions{QPS: -1})
	if err != nil {
		t.Fatal(err)
	}
	res, err := backup.Run(context.Background(), client, repo.NewChooser(opts), backup.Options{ClusterName: name})
	if err != nil {
		t.Fatalf("backing up %s: %v", name, err)
	}
	return res.Manifest
}

var hrefPattern = regexp.MustCompile(`href="([^"]+)"`)

// The dashboard in a real headless Chromium, with scripts disabled, over
// real backups of two test clusters in the real S3 server, and a third
// cluster registered that was never backed up: the fleet page lists them
// with their environments and sizes, the third marked stale; every page
// reachable by links renders; a Secret's object page shows *** and no page
// holds a Secret value, encoded or not.
func TestDashboardInChromium(t *testing.T) {
	ctx := context.Background()
	env := testenv.Start(t, testenv.Options{ClusterNames: []string{"prod-eu", "dr-us"}, S3: true})
	for _, c := range env.Clusters {
		if _, err := workload.Install(ctx, c.Config(), workload.Options{Namespace: "shop"}); err != nil {
			t.Fatal(err)
		}
	}
	opts := repotest.S3Options(env.S3, env.S3.NewBucket(t))
	var manifests []*repo.Manifest
	for _, c := range env.Clusters {
		manifests = append(manifests, backupCluster(t, c, opts, c.Name))
	}
	r, err := repo.Open(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	prod, dr, region := "prod", "dr", "eu-west-1"
	for i, m := range manifests {
		e := []*string{&prod, &dr}[i]
		if _, err := r.RegisterCluster(ctx, m.Cluster, repo.ClusterSettings{Environment: e, Region: &region}, repo.ClaimOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	// Registered (as Terraform does before the first backup), never
	// backed up: stale.
	if _, err := r.RegisterCluster(ctx, repo.ClusterIdentity{Name: "edge-ap", UID: "5b1e0c1e-2f57-4a8e-9d3c-6a0f1d2e3c4b"}, repo.ClusterSettings{Environment: &prod}, repo.ClaimOptions{}); err != nil {
		t.Fatal(err)
	}
	// A restore of prod-eu's shop into dr-us as shop-copy, recorded
	// under dr-us.
	drClient, err := kube.NewClient(env.Cluster("dr-us").Config(), kube.ClientOptions{QPS: -1})
	if err != nil {
		t.Fatal(err)
	}
	plan, err := restore.NewPlan(ctx, restore.PlanInput{Repository: r, Manifest: manifests[0], Target: drClient, Options: restore.Options{
		Selection: selection.Selection{IncludeNamespaces: []string{"shop"}}, NamespaceMapping: clean.NamespaceMapping{"shop": "shop-copy"}, TargetClusterName: "dr-us",
	}})
	if err != nil {
		t.Fatal(err)
	}
	restored, err := restore.Apply(ctx, plan)
	if err != nil || restored.Phase != restore.PhaseCompleted {
		t.Fatalf("restore into dr-us: %v %+v", err, restored)
	}
	base := serve(t, r, Options{Address: freeAddress(t, "127.0.0.1")})
	bctx := browser(t)

	// What must never appear: the workload's Secret values, as stored
	// (base64) and decoded.
	var secrets []string
	for _, v := range []string{"s3cr3t-shop", `{"auths":{"registry.example.com":{"auth":"c2hvcDpwYXNz"}}}`} {
		secrets = append(secrets, v, base64.StdEncoding.EncodeToString([]byte(v)))
	}
	secrets = append(secrets, "c2hvcDpwYXNz")

	load := func(path string) string {
		t.Helper()
		if err := chromedp.Do(bctx, chromedp.Navigate(base+path)); err != nil {
			t.Fatalf("loading %s in Chromium: %v", path, err)
		}
		html, err := chromedp.Run(bctx, chromedp.OuterHTML(chromedp.CSS("html")))
		if err != nil {
			t.Fatalf("reading %s in Chromium: %v", path, err)
		}
		for _, s := range secrets {
			if strings.Contains(html, s) {
				t.Errorf("page %s shows the Secret value %q", path, s)
			}
		}
		if strings.Contains(html, "<script") {
			t.Errorf("page %s holds a script", path)
		}
		return html
	}

	fleetHTML := load("/")
	for _, want := range []string{"prod-eu", "dr-us", "edge-ap", ">prod<", ">dr<", "eu-west-1", "Completed", "no successful backup", "3</span> clusters", "1</span> stale"} {
		if !strings.Contains(fleetHTML, want) {
			t.Errorf("the fleet page lacks %q", want)
		}
	}
	stale, err := chromedp.Run(bctx, chromedp.Nodes(chromedp.CSSAll(`tr.stale[data-cluster="edge-ap"] .badge.bad`), chromedp.AtLeast(0)))
	if err != nil {
		t.Fatal(err)
	}
	fresh, err := chromedp.Run(bctx, chromedp.Nodes(chromedp.CSSAll(`tr.fresh[data-cluster]`), chromedp.AtLeast(0)))
	if err != nil {
		t.Fatal(err)
	}
	if len(stale) != 1 || len(fresh) != 2 {
		t.Errorf("the fleet page marks %d rows of edge-ap stale (want 1) and %d rows fresh (want prod-eu and dr-us)", len(stale), len(fresh))
	}
	if filtered := load("/?stale=1"); !strings.Contains(filtered, "edge-ap") || strings.Contains(filtered, `data-cluster="prod-eu"`) {
		t.Errorf("the stale filter shows the wrong clusters")
	}
	if filtered := load("/?environment=dr"); !strings.Contains(filtered, `data-cluster="dr-us"`) || strings.Contains(filtered, `data-cluster="prod-eu"`) {
		t.Errorf("the environment filter shows the wrong clusters")
	}

	// Following a link works without scripts.
	if err := chromedp.Do(bctx, chromedp.Navigate(base+"/"), chromedp.Click(chromedp.CSS(`a[href="/clusters/prod-eu"]`)),
		chromedp.WaitVisible(chromedp.CSS(`h1.cluster`))); err != nil {
		t.Fatal(err)
	}
	heading, err := chromedp.Run(bctx, chromedp.Text(chromedp.CSS(`h1`)))
	if err != nil {
		t.Fatal(err)
	}
	if heading != "Cluster prod-eu" {
		t.Errorf("clicking prod-eu led to %q", heading)
	}

	// The pages reachable from the fleet page, by its links.
	visited := map[string]bool{}
	queue := []string{"/"}
	objectPages := 0
	for len(queue) > 0 {
		path := queue[0]
		queue = queue[1:]
		if visited[path] {
			continue
		}
		visited[path] = true
		html := load(path)
		if strings.Contains(html, "<h1>404") || strings.Contains(html, "<h1>500") {
			t.Errorf("page %s, linked from the dashboard, is an error page", path)
		}
		if strings.Contains(path, "/object?") {
			objectPages++
		}
		for _, m := range hrefPattern.FindAllStringSubmatch(html, -1) {
			link := strings.ReplaceAll(m[1], "&amp;", "&")
			if !strings.HasPrefix(link, "/") || link == "/style.css" || visited[link] {
				continue
			}
			// Every page but objects; of the objects, every Secret
			// and the application's namespace: the rest are the
			// same page over other YAML, and each costs a pack read.
			if u, err := url.Parse(link); err == nil && strings.HasSuffix(u.Path, "/object") &&
				u.Query().Get("resource") != "secrets" && u.Query().Get("namespace") != "shop" {
				continue
			}
			queue = append(queue, link)
		}
	}
	if objectPages < 40 || !visited["/clusters/dr-us"] || !visited["/clusters/edge-ap"] {
		t.Errorf("the crawl reached %d pages, %d of them objects: too few", len(visited), objectPages)
	}
	t.Logf("%d pages loaded in Chromium, %d of them objects", len(visited), objectPages)

	secretPath := "/clusters/prod-eu/backups/" + manifests[0].ID + "/object?" + url.Values{"namespace": {"shop"}, "resource": {"secrets"}, "name": {"shop-db-credentials"}}.Encode()
	secretHTML := load(secretPath)
	for _, want := range []string{"Secret shop-db-credentials", "password: '***'", "username: '***'", "are masked"} {
		if !strings.Contains(secretHTML, want) {
			t.Errorf("the Secret's page lacks %q:\n%s", want, secretHTML)
		}
	}
	if !visited[secretPath] {
		t.Errorf("the crawl did not reach the Secret's page %s", secretPath)
	}
	drHTML := load("/clusters/dr-us")
	for _, want := range []string{restored.ID, "Completed", `href="/clusters/prod-eu/backups/` + manifests[0].ID + `"`, fmt.Sprintf(`<td class="num">%d</td>`, restored.Totals.Created)} {
		if !strings.Contains(drHTML, want) {
			t.Errorf("dr-us's page lacks the restore: %q", want)
		}
	}
	backupHTML := load("/clusters/prod-eu/backups/" + manifests[0].ID)
	for _, want := range []string{"Completed", "shop", "deployments.apps", "secrets", "(cluster-scoped)"} {
		if !strings.Contains(backupHTML, want) {
			t.Errorf("the backup page lacks %q", want)
		}
	}

	// Screenshots: into docs/images/ when asked, else checked and dropped.
	dir := t.TempDir()
	if os.Getenv(updateScreenshots) != "" {
		dir = filepath.Join("..", "..", "..", "docs", "images")
	}
	for name, path := range map[string]string{
		"dashboard-fleet.png":   "/",
		"dashboard-cluster.png": "/clusters/dr-us",
		"dashboard-backup.png":  "/clusters/prod-eu/backups/" + manifests[0].ID,
		"dashboard-secret.png":  secretPath,
	} {
		if err := chromedp.Do(bctx, chromedp.Navigate(base+path)); err != nil {
			t.Fatal(err)
		}
		png, err := chromedp.Run(bctx, chromedp.FullScreenshot(100))
		if err != nil {
			t.Fatal(err)
		}
		if len(png) < 1000 || string(png[1:4]) != "PNG" {
			t.Fatalf("the screenshot of %s is not a PNG (%d bytes)", path, len(png))
		}
		if err := os.WriteFile(filepath.Join(dir, name), png, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}
