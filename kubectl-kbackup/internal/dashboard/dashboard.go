package dashboard

import (
	"bytes"
	"context"
	"embed"
	"errors"
	"fmt"
	"html/template"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/kbackup/kbackup/core/catalog"
	"github.com/kbackup/kbackup/core/diff"
	"github.com/kbackup/kbackup/core/fleet"
	"github.com/kbackup/kbackup/core/fleetview"
	"github.com/kbackup/kbackup/core/repo"
	"github.com/kbackup/kbackup/core/restore"
	"github.com/kbackup/kbackup/core/storage"
	"github.com/kbackup/kbackup/kubectl-kbackup/internal/ui"
)

//go:embed templates/*.html templates/style.css
var assets embed.FS

// maxRestoresShown bounds the restore records a cluster page lists.
const maxRestoresShown = 50

// dashboard serves the pages over one repository.
type dashboard struct {
	repo  *repo.Repository
	opts  Options
	log   *slog.Logger
	pages map[string]*template.Template
	css   []byte

	// fleet is the last good reading of the fleet, served for
	// opts.Refresh and while the next is read; fleetErr is the error of
	// the last reading; refreshing is closed when the running reading ends.
	mu         sync.Mutex
	fleet      []fleetview.ClusterStatus
	fleetAt    time.Time
	fleetErr   error
	refreshing chan struct{}
}

// New returns the dashboard's handler over r: its pages behind the
// authentication o asks for. It reads the token file now.
func New(r *repo.Repository, o Options, log *slog.Logger) (http.Handler, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if o.Refresh <= 0 {
		o.Refresh = DefaultRefresh
	}
	auth := &authenticator{required: o.needsAuth(), clientCerts: o.ClientCAFile != ""}
	if o.TokenFile != "" {
		token, err := readToken(o.TokenFile)
		if err != nil {
			return nil, err
		}
		auth.token = token
	}
	d := &dashboard{repo: r, opts: o, log: log, pages: map[string]*template.Template{}}
	css, err := assets.ReadFile("templates/style.css")
	if err != nil {
		return nil, err
	}
	d.css = css
	for _, page := range []string{"fleet", "cluster", "backup", "objects", "object", "error"} {
		t, err := template.New("layout.html").Funcs(funcs).ParseFS(assets, "templates/layout.html", "templates/"+page+".html")
		if err != nil {
			return nil, fmt.Errorf("dashboard template %s: %w", page, err)
		}
		d.pages[page] = t
	}
	// The first reading of a large fleet takes seconds: it starts now,
	// not when the first person opens the page.
	d.mu.Lock()
	d.startRefreshLocked()
	d.mu.Unlock()
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", d.fleetPage)
	mux.HandleFunc("GET /style.css", d.style)
	mux.HandleFunc("GET /clusters/{cluster}", d.clusterPage)
	mux.HandleFunc("GET /clusters/{cluster}/backups/{id}", d.backupPage)
	mux.HandleFunc("GET /clusters/{cluster}/backups/{id}/objects", d.objectsPage)
	mux.HandleFunc("GET /clusters/{cluster}/backups/{id}/object", d.objectPage)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		d.fail(w, r, http.StatusNotFound, fmt.Errorf("no page at %s", r.URL.Path))
	})
	return auth.wrap(securityHeaders(mux)), nil
}

// securityHeaders forbid scripts, framing and caching: the pages hold no
// script, and what they show is the fleet's backups.
func securityHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("Cache-Control", "no-store")
		next.ServeHTTP(w, r)
	})
}

var funcs = template.FuncMap{
	"bytes": ui.Bytes,
	"age": func(t time.Time) string {
		if t.IsZero() {
			return "never"
		}
		return ui.Age(t, time.Now()) + " ago"
	},
	"time": func(t time.Time) string {
		if t.IsZero() {
			return "-"
		}
		return t.UTC().Format("2006-01-02 15:04:05Z")
	},
	"duration": func(a, b time.Time) string {
		if a.IsZero() || b.IsZero() {
			return "-"
		}
		return ui.Duration(b.Sub(a))
	},
	"phaseClass": func(p any) string {
		switch fmt.Sprint(p) {
		case "Completed":
			return "good"
		case "PartiallyFailed":
			return "warn"
		case "":
			return ""
		}
		return "bad"
	},
	"clusterURL": func(cluster string) string { return "/clusters/" + url.PathEscape(cluster) },
	"backupURL": func(cluster, id string) string {
		return "/clusters/" + url.PathEscape(cluster) + "/backups/" + url.PathEscape(id)
	},
	"objectsURL": func(cluster, id, namespace, resource string) string {
		q := url.Values{"namespace": {namespace}, "resource": {resource}}
		return "/clusters/" + url.PathEscape(cluster) + "/backups/" + url.PathEscape(id) + "/objects?" + q.Encode()
	},
	"objectURL": func(cluster, id, namespace, resource, name string) string {
		q := url.Values{"namespace": {namespace}, "resource": {resource}, "name": {name}}
		return "/clusters/" + url.PathEscape(cluster) + "/backups/" + url.PathEscape(id) + "/object?" + q.Encode()
	},
	"orDash": func(s string) string {
		if s == "" {
			return "-"
		}
		return s
	},
	"scope": func(namespace string) string {
		if namespace == "" {
			return "(cluster-scoped)"
		}
		return namespace
	},
}

func (d *dashboard) style(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/css; charset=utf-8")
	_, _ = w.Write(d.css)
}

// render executes a page into a buffer first, so that a failing template
// answers 500 rather than half a page.
func (d *dashboard) render(w http.ResponseWriter, r *http.Request, status int, page string, data any) {
	var buf bytes.Buffer
	if err := d.pages[page].Execute(&buf, data); err != nil {
		d.log.Error("rendering dashboard page", "page", page, "path", r.URL.Path, "error", err)
		http.Error(w, "500 Internal Server Error: the page could not be rendered", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

// fail answers with an error page whose status says what went wrong.
func (d *dashboard) fail(w http.ResponseWriter, r *http.Request, status int, err error) {
	if status == 0 {
		switch {
		case errors.Is(err, storage.ErrNotFound):
			status = http.StatusNotFound
		case errors.Is(err, storage.ErrInvalid):
			status = http.StatusBadRequest
		default:
			status = http.StatusInternalServerError
		}
	}
	if status >= 500 {
		d.log.Error("dashboard request failed", "path", r.URL.Path, "error", err)
	}
	d.render(w, r, status, "error", map[string]any{"Title": http.StatusText(status), "Status": status, "Error": err.Error()})
}

// readFleet returns the last reading of the fleet. A reading older than
// Refresh is still served while a new one is read in the background, so
// that only the first page after the start waits for the repository (New
// starts that first reading at once). The error is that of the last
// reading, when it failed; the clusters are then the reading before.
func (d *dashboard) readFleet(ctx context.Context) ([]fleetview.ClusterStatus, time.Time, error) {
	d.mu.Lock()
	if d.fleet != nil {
		if time.Since(d.fleetAt) >= d.opts.Refresh {
			d.startRefreshLocked()
		}
		clusters, at, err := d.fleet, d.fleetAt, d.fleetErr
		d.mu.Unlock()
		return clusters, at, err
	}
	d.startRefreshLocked()
	done := d.refreshing
	d.mu.Unlock()
	select {
	case <-done:
	case <-ctx.Done():
		return nil, time.Time{}, ctx.Err()
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.fleet, d.fleetAt, d.fleetErr
}

// readingTimeout bounds one reading of the fleet.
const readingTimeout = 10 * time.Minute

// startRefreshLocked starts a reading of the fleet unless one runs.
func (d *dashboard) startRefreshLocked() {
	if d.refreshing != nil {
		return
	}
	done := make(chan struct{})
	d.refreshing = done
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), readingTimeout)
		defer cancel()
		opts := d.opts.Fleet
		opts.Now = time.Now()
		clusters, err := fleetview.Status(ctx, d.repo, opts)
		if err != nil {
			d.log.Error("reading the fleet for the dashboard", "error", err)
		}
		d.mu.Lock()
		defer d.mu.Unlock()
		d.fleetErr = err
		if err == nil {
			d.fleet, d.fleetAt = clusters, opts.Now
		}
		d.refreshing = nil
		close(done)
	}()
}

// fleetView is the fleet page's data.
type fleetView struct {
	Title        string
	Repository   string
	ReadAt       time.Time
	Clusters     []fleetview.ClusterStatus
	Total, Stale int
	Bytes        int64
	Environments []string
	// Environment and OnlyStale are the filters applied.
	Environment string
	OnlyStale   bool
	// Problem is why the last reading failed, when the page shows the one
	// before.
	Problem string
}

func (d *dashboard) fleetPage(w http.ResponseWriter, r *http.Request) {
	clusters, at, err := d.readFleet(r.Context())
	if clusters == nil && err != nil {
		d.fail(w, r, 0, fmt.Errorf("reading the fleet: %w", err))
		return
	}
	v := fleetView{Title: "Fleet", Repository: d.repo.Location().String(), ReadAt: at,
		Environment: r.URL.Query().Get("environment"), OnlyStale: r.URL.Query().Get("stale") == "1"}
	if err != nil {
		v.Problem = fmt.Sprintf("The last reading of the repository failed, this is the one before: %v", err)
	}
	envs := map[string]bool{}
	for _, c := range clusters {
		if c.Environment != "" {
			envs[c.Environment] = true
		}
		v.Total++
		v.Bytes += c.BytesStored
		if c.Stale {
			v.Stale++
		}
		if (v.Environment == "" || c.Environment == v.Environment) && (!v.OnlyStale || c.Stale) {
			v.Clusters = append(v.Clusters, c)
		}
	}
	for e := range envs {
		v.Environments = append(v.Environments, e)
	}
	slices.Sort(v.Environments)
	d.render(w, r, http.StatusOK, "fleet", v)
}

// clusterView is a cluster page's data.
type clusterView struct {
	Title    string
	Cluster  string
	Entry    *fleet.ClusterEntry
	Status   *fleetview.ClusterStatus
	Backups  []repo.BackupSummary
	Summary  *repo.ClusterSummary
	Restores []*restore.Result
	// MoreRestores counts the older records not shown.
	MoreRestores int
	Problems     []string
}

func (d *dashboard) clusterPage(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	name := r.PathValue("cluster")
	if err := repo.ValidateClusterName(name); err != nil {
		d.fail(w, r, http.StatusBadRequest, err)
		return
	}
	v := clusterView{Title: "Cluster " + name, Cluster: name}
	entry, err := d.repo.GetCluster(ctx, name)
	switch {
	case err == nil:
		v.Entry = entry
	case !errors.Is(err, storage.ErrNotFound):
		v.Problems = append(v.Problems, err.Error())
	}
	summary, _, err := d.repo.CurrentSummary(ctx, name)
	if err != nil {
		d.fail(w, r, 0, fmt.Errorf("reading the backups of cluster %s: %w", name, err))
		return
	}
	if v.Entry == nil && len(summary.Backups) == 0 {
		d.fail(w, r, http.StatusNotFound, fmt.Errorf("the repository has no cluster %s", name))
		return
	}
	v.Summary = summary
	v.Backups = slices.Clone(summary.Backups)
	slices.Reverse(v.Backups)
	if summary.Unreadable > 0 {
		v.Problems = append(v.Problems, fmt.Sprintf("%d manifests of cluster %s cannot be read; kubectl kbackup verify --all --cluster %s names them", summary.Unreadable, name, name))
	}
	if clusters, _, err := d.readFleet(ctx); err == nil {
		if i := slices.IndexFunc(clusters, func(c fleetview.ClusterStatus) bool { return c.Name == name }); i >= 0 {
			v.Status = &clusters[i]
		}
	}
	records, bad, err := restore.ListRecords(ctx, d.repo, name)
	if err != nil {
		v.Problems = append(v.Problems, fmt.Sprintf("reading the restore records: %v", err))
	}
	for _, e := range bad {
		v.Problems = append(v.Problems, e.Error())
	}
	slices.Reverse(records) // newest first
	if len(records) > maxRestoresShown {
		v.MoreRestores = len(records) - maxRestoresShown
		records = records[:maxRestoresShown]
	}
	for _, rec := range records {
		v.Restores = append(v.Restores, rec.Result)
	}
	d.render(w, r, http.StatusOK, "cluster", v)
}

// namespaceGroup is one namespace of a backup's contents.
type namespaceGroup struct {
	Namespace string
	Types     []catalog.Count
	Objects   int
	Bytes     int64
}

// backupView is a backup page's data.
type backupView struct {
	Title      string
	Cluster    string
	M          *repo.Manifest
	Namespaces []namespaceGroup
}

// manifest reads the manifest the path names.
func (d *dashboard) manifest(r *http.Request) (*repo.Manifest, int, error) {
	cluster, id := r.PathValue("cluster"), r.PathValue("id")
	m, err := d.repo.ReadManifest(r.Context(), cluster, id)
	if err != nil {
		return nil, 0, fmt.Errorf("backup %s of cluster %s: %w", id, cluster, err)
	}
	return m, 0, nil
}

func (d *dashboard) backupPage(w http.ResponseWriter, r *http.Request) {
	m, status, err := d.manifest(r)
	if err != nil {
		d.fail(w, r, status, err)
		return
	}
	v := backupView{Title: "Backup " + m.ID, Cluster: m.Cluster.Name, M: m}
	for _, c := range catalog.Counts(m) {
		if n := len(v.Namespaces); n == 0 || v.Namespaces[n-1].Namespace != c.Namespace {
			v.Namespaces = append(v.Namespaces, namespaceGroup{Namespace: c.Namespace})
		}
		g := &v.Namespaces[len(v.Namespaces)-1]
		g.Types = append(g.Types, c)
		g.Objects += c.Objects
		g.Bytes += c.Bytes
	}
	d.render(w, r, http.StatusOK, "backup", v)
}

// objectsView lists the objects of one type in one namespace of a backup.
type objectsView struct {
	Title     string
	Cluster   string
	M         *repo.Manifest
	Namespace string
	Resource  string
	Names     []string
}

func (d *dashboard) objectsPage(w http.ResponseWriter, r *http.Request) {
	m, status, err := d.manifest(r)
	if err != nil {
		d.fail(w, r, status, err)
		return
	}
	q := r.URL.Query()
	ns, resource := q.Get("namespace"), q.Get("resource")
	v := objectsView{Title: resource + " in " + scopeText(ns), Cluster: m.Cluster.Name, M: m, Namespace: ns, Resource: resource}
	found := false
	for _, p := range catalog.Packs(m) {
		if p.Namespace == ns && p.Resource == resource {
			found = true
			v.Names = append(v.Names, p.Objects...)
		}
	}
	if !found {
		d.fail(w, r, http.StatusNotFound, fmt.Errorf("backup %s holds no %s %s", m.ID, resource, inScope(ns)))
		return
	}
	slices.Sort(v.Names)
	d.render(w, r, http.StatusOK, "objects", v)
}

// objectView is one object's YAML, Secret values masked.
type objectView struct {
	Title     string
	Cluster   string
	M         *repo.Manifest
	Namespace string
	Resource  string
	Name      string
	Kind      string
	YAML      string
	Masked    bool
}

func (d *dashboard) objectPage(w http.ResponseWriter, r *http.Request) {
	m, status, err := d.manifest(r)
	if err != nil {
		d.fail(w, r, status, err)
		return
	}
	q := r.URL.Query()
	ns, resource, name := q.Get("namespace"), q.Get("resource"), q.Get("name")
	obj, err := catalog.Find(r.Context(), d.repo, m, resource, ns, name)
	if err != nil {
		d.fail(w, r, 0, err)
		return
	}
	shown := diff.MaskSecret(obj)
	text, err := diff.YAML(shown)
	if err != nil {
		d.fail(w, r, http.StatusInternalServerError, err)
		return
	}
	d.render(w, r, http.StatusOK, "object", objectView{
		Title: obj.GetKind() + " " + name, Cluster: m.Cluster.Name, M: m, Namespace: ns, Resource: resource, Name: name,
		Kind: obj.GetKind(), YAML: text, Masked: shown != obj,
	})
}

func scopeText(ns string) string {
	if ns == "" {
		return "the cluster scope"
	}
	return "namespace " + ns
}

func inScope(ns string) string {
	if ns == "" {
		return "among cluster-scoped objects"
	}
	return "in namespace " + strings.TrimSpace(ns)
}
