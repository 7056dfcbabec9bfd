// Package fleetrun backs up many clusters in one run: a few at a time
// (Options.Concurrency), higher priority first, each cluster's transient
// failures retried with backoff behind a circuit breaker of its own, into
// one repository chooser that the whole run shares, so that storage that
// keeps failing moves the run's remaining backups to its fallback.
//
// A cluster that does not answer costs the run at most its connect timeout,
// and one that answers too slowly at most its request timeout per request
// until its breaker opens; either way the other clusters go on.
package fleetrun

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"net"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/cenkalti/backoff/v5"
	"github.com/sony/gobreaker/v2"
	"golang.org/x/sync/errgroup"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/client-go/rest"

	"github.com/kbackup/kbackup/core/backup"
	"github.com/kbackup/kbackup/core/kube"
	"github.com/kbackup/kbackup/core/repo"
	"github.com/kbackup/kbackup/core/storage"
)

// Defaults of Options.
const (
	DefaultConcurrency = 10
	// DefaultConnectTimeout bounds reaching a cluster: the TCP connection,
	// the TLS handshake and its first answer, retries included. A healthy
	// API server answers in milliseconds; ten seconds leaves room for a
	// far region without letting a dead cluster hold a slot for long.
	DefaultConnectTimeout = 10 * time.Second
	// DefaultRequestTimeout bounds each request once connected. A LIST page
	// of 500 objects takes well under a second here (10,000 ConfigMaps in
	// 0.6 s); a minute is for very large objects on a loaded server.
	DefaultRequestTimeout = time.Minute
	// DefaultAttempts is how often a cluster is tried when it fails with a
	// transient error.
	DefaultAttempts = 3
	// MaxConcurrency bounds Concurrency: each backup holds a connection
	// and a few LISTs in flight.
	MaxConcurrency = 256
)

// Cluster is one cluster of a run.
type Cluster struct {
	// Context is the kubeconfig context that reaches the cluster; it names
	// the cluster in progress and results until its name is known.
	Context string
	// Config connects to the cluster. The run sets its timeouts.
	Config *rest.Config
	// ClusterName is the name to store its backups under (a registry
	// entry's); empty detects it, as a one-cluster backup does.
	ClusterName string
	// Environment and Priority come from the registry; higher priorities
	// start first.
	Environment string
	Priority    int
	// Err, when set, is why the cluster cannot be tried at all (a
	// registered cluster whose context did not answer when the run looked
	// for it); the run reports it as failed without contacting it.
	Err error
}

// Options says how a run goes.
type Options struct {
	// RunID is the run's ID; every backup of the run records it.
	RunID string
	// Concurrency is how many clusters are backed up at once
	// (max_concurrent_operations).
	Concurrency int
	// ConnectTimeout and RequestTimeout bound a cluster that does not
	// answer, or answers too slowly (see the package comment).
	ConnectTimeout, RequestTimeout time.Duration
	// Attempts is how often a cluster is tried after transient failures
	// (connection refused or reset, timeouts, 429 and 5xx answers), with
	// exponential backoff between tries, while its breaker is closed.
	Attempts int
	// Backup is what each backup takes; Name, ClusterName and RunID are set
	// per cluster by the run.
	Backup backup.Options
	// Progress receives the run's events, from several goroutines, one at a
	// time.
	Progress func(Event)
	// RetryInterval is the first wait between tries (tests); default 500ms.
	RetryInterval time.Duration
}

func (o Options) withDefaults() Options {
	if o.Concurrency <= 0 {
		o.Concurrency = DefaultConcurrency
	}
	if o.ConnectTimeout <= 0 {
		o.ConnectTimeout = DefaultConnectTimeout
	}
	if o.RequestTimeout <= 0 {
		o.RequestTimeout = DefaultRequestTimeout
	}
	if o.Attempts <= 0 {
		o.Attempts = DefaultAttempts
	}
	if o.RetryInterval <= 0 {
		o.RetryInterval = 500 * time.Millisecond
	}
	if o.Progress == nil {
		o.Progress = func(Event) {}
	}
	return o
}

// Field paths of Validate's errors.
const (
	FieldConcurrency    = "concurrency"
	FieldConnectTimeout = "connect_timeout"
	FieldRequestTimeout = "request_timeout"
	FieldAttempts       = "attempts"
	FieldRunID          = "run_id"
)

// Validate checks the options; its errors are field errors whose paths are
// the Field constants, and those of backup.Options.Validate under "backup".
func (o Options) Validate() error {
	var errs field.ErrorList
	if o.Concurrency < 0 || o.Concurrency > MaxConcurrency {
		errs = append(errs, field.Invalid(field.NewPath(FieldConcurrency), o.Concurrency, fmt.Sprintf("want 1 to %d clusters at once", MaxConcurrency)))
	}
	if o.ConnectTimeout < 0 {
		errs = append(errs, field.Invalid(field.NewPath(FieldConnectTimeout), o.ConnectTimeout.String(), "want a positive duration like 10s"))
	}
	if o.RequestTimeout < 0 {
		errs = append(errs, field.Invalid(field.NewPath(FieldRequestTimeout), o.RequestTimeout.String(), "want a positive duration like 1m"))
	}
	if o.Attempts < 0 || o.Attempts > 10 {
		errs = append(errs, field.Invalid(field.NewPath(FieldAttempts), o.Attempts, "want 1 to 10"))
	}
	if o.RunID != "" {
		if err := repo.ValidateRunID(o.RunID); err != nil {
			errs = append(errs, field.Invalid(field.NewPath(FieldRunID), o.RunID, "want 1 to 128 letters, digits, '-' and '_', starting with a letter or digit"))
		}
	}
	if o.Backup.Name != "" {
		errs = append(errs, field.Invalid(field.NewPath("backup", "name"), o.Backup.Name, "a run over several clusters gives each backup an ID of its own; leave the name out"))
	}
	if o.Backup.ClusterName != "" {
		errs = append(errs, field.Invalid(field.NewPath("backup", "cluster_name"), o.Backup.ClusterName, "names one cluster; a run over several clusters detects each cluster's name (or takes its registry entry's)"))
	}
	var agg interface{ Errors() []error }
	if err := o.Backup.Validate(); errors.As(err, &agg) {
		for _, e := range agg.Errors() {
			var fe *field.Error
			if errors.As(e, &fe) {
				c := *fe
				c.Field = "backup." + fe.Field
				errs = append(errs, &c)
			}
		}
	}
	return errs.ToAggregate()
}

// Outcome is how a cluster's part of the run ended.
type Outcome string

// Outcomes of a cluster.
const (
	// Completed, PartiallyFailed and Failed are the phase of the backup
	// committed (repo.Phase).
	Completed       Outcome = Outcome(repo.PhaseCompleted)
	PartiallyFailed Outcome = Outcome(repo.PhasePartiallyFailed)
	Failed          Outcome = Outcome(repo.PhaseFailed)
	// NotBackedUp: no backup of the cluster was stored (unreachable,
	// given up after retries, storage gone); Error says why.
	NotBackedUp Outcome = "NotBackedUp"
)

// ClusterResult is how one cluster's backup went.
type ClusterResult struct {
	// Cluster is the name the backups are stored under; the context's name
	// when the cluster was never reached.
	Cluster     string  `json:"cluster"`
	Context     string  `json:"context,omitempty"`
	Environment string  `json:"environment,omitempty"`
	Priority    int     `json:"priority,omitempty"`
	Result      Outcome `json:"result"`
	// BackupID is the backup stored, "" when none was.
	BackupID      string `json:"backupId,omitempty"`
	Objects       int    `json:"objects"`
	BytesUploaded int64  `json:"bytesUploaded"`
	// Duration is from the cluster's start (not its wait for a slot) to
	// its end.
	Duration time.Duration `json:"durationNanos"`
	// Attempts is how often the cluster was tried.
	Attempts int `json:"attempts"`
	// Location is the repository the backup went to; FallbackUsed when it
	// is not the primary.
	Location     string `json:"location,omitempty"`
	FallbackUsed bool   `json:"fallbackUsed,omitempty"`
	// Error says why the cluster has no backup, or what failed in it.
	Error string `json:"error,omitempty"`
	err   error
}

// Err is the error that Error describes.
func (r *ClusterResult) Err() error { return r.err }

// Result is what a run did.
type Result struct {
	RunID       string          `json:"runId"`
	StartedAt   time.Time       `json:"startedAt"`
	CompletedAt time.Time       `json:"completedAt"`
	Concurrency int             `json:"concurrency"`
	Clusters    []ClusterResult `json:"clusters"`
	// StorageAttempts are the repository locations that failed during the
	// run, and why; the run's later backups went to the next fallback.
	StorageAttempts []StorageFailure `json:"storageFailures,omitempty"`
}

// StorageFailure is a repository location that failed during the run.
type StorageFailure struct {
	Location string `json:"location"`
	Error    string `json:"error"`
}

// Count returns how many clusters ended with outcome o.
func (r *Result) Count(o Outcome) int {
	n := 0
	for _, c := range r.Clusters {
		if c.Result == o {
			n++
		}
	}
	return n
}

// EventKind says what happened to a cluster.
type EventKind string

// Kinds of Event.
const (
	// EventQueued: the cluster waits for a slot (every cluster, at the start).
	EventQueued EventKind = "Queued"
	// EventConnecting: the run is reaching the cluster.
	EventConnecting EventKind = "Connecting"
	// EventBackup: progress of the cluster's backup (Backup is set).
	EventBackup EventKind = "Backup"
	// EventRetrying: an attempt failed with a transient error (Err); the
	// cluster is tried again after Wait.
	EventRetrying EventKind = "Retrying"
	// EventDone: the cluster's part is over (Result is set).
	EventDone EventKind = "Done"
)

// Event is progress of one cluster of a run.
type Event struct {
	Kind EventKind
	// Index is the cluster's position in the run's order (priority, then
	// name); Context names it.
	Index   int
	Context string
	// Cluster is the cluster's name once known.
	Cluster string
	Attempt int
	Backup  backup.Event
	Err     error
	Wait    time.Duration
	Result  *ClusterResult
}

// Order sorts clusters as a run takes them: higher priority first, and
// clusters of equal priority in the order given.
func Order(clusters []Cluster) {
	slices.SortStableFunc(clusters, func(a, b Cluster) int { return cmp.Compare(b.Priority, a.Priority) })
}

// Run backs up every cluster into the repository target chooses, and
// returns how each went, in the run's order (Order). It returns an error
// only for options it refuses; what happens to clusters is in the result.
// target is shared by the whole run: one open and probe per location, one
// circuit breaker per storage endpoint, and when a location keeps failing,
// every later backup of the run goes to the next fallback.
func Run(ctx context.Context, clusters []Cluster, target *repo.Chooser, opts Options) (*Result, error) {
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	opts = opts.withDefaults()
	clusters = slices.Clone(clusters)
	Order(clusters)
	res := &Result{RunID: opts.RunID, StartedAt: time.Now().UTC(), Concurrency: opts.Concurrency, Clusters: make([]ClusterResult, len(clusters))}

	var mu sync.Mutex // one event at a time
	emit := func(e Event) {
		mu.Lock()
		defer mu.Unlock()
		opts.Progress(e)
	}
	for i, c := range clusters {
		emit(Event{Kind: EventQueued, Index: i, Context: c.Context, Cluster: c.ClusterName})
	}
	var g errgroup.Group
	g.SetLimit(opts.Concurrency)
	for i, c := range clusters {
		if ctx.Err() != nil {
			r := result(c)
			r.fail(fmt.Errorf("not started: %w", context.Cause(ctx)))
			res.Clusters[i] = r
			emit(Event{Kind: EventDone, Index: i, Context: c.Context, Cluster: r.Cluster, Result: &res.Clusters[i]})
			continue
		}
		g.Go(func() error {
			w := &worker{index: i, cluster: c, target: target, opts: opts, emit: emit}
			res.Clusters[i] = w.run(ctx)
			emit(Event{Kind: EventDone, Index: i, Context: c.Context, Cluster: res.Clusters[i].Cluster, Result: &res.Clusters[i]})
			return nil
		})
	}
	_ = g.Wait()
	for _, a := range target.Attempts() {
		res.StorageAttempts = append(res.StorageAttempts, StorageFailure{Location: a.Location.String(), Error: a.Err.Error()})
	}
	res.CompletedAt = time.Now().UTC()
	return res, nil
}

func result(c Cluster) ClusterResult {
	name := c.ClusterName
	if name == "" {
		name = c.Context
	}
	return ClusterResult{Cluster: name, Context: c.Context, Environment: c.Environment, Priority: c.Priority, Result: NotBackedUp}
}

func (r *ClusterResult) fail(err error) {
	r.Result = NotBackedUp
	r.err = err
	r.Error = err.Error()
}

// worker backs up one cluster.
type worker struct {
	index   int
	cluster Cluster
	target  *repo.Chooser
	opts    Options
	emit    func(Event)
}

func (w *worker) event(e Event) {
	e.Index, e.Context = w.index, w.cluster.Context
	w.emit(e)
}

func (w *worker) run(ctx context.Context) (r ClusterResult) {
	started := time.Now()
	r = result(w.cluster)
	defer func() { r.Duration = time.Since(started) }()
	if w.cluster.Err != nil {
		r.fail(w.cluster.Err)
		return r
	}
	w.event(Event{Kind: EventConnecting, Cluster: w.cluster.ClusterName})
	client, err := kube.NewClient(WithTimeouts(w.cluster.Config, w.opts.ConnectTimeout, w.opts.RequestTimeout), kube.ClientOptions{ContextName: w.cluster.Context})
	if err != nil {
		r.fail(err)
		return r
	}
	breaker := backup.NewAPIBreaker(client.Server)

	// Reach the cluster first, within the connect timeout, retries
	// included: a cluster that is down costs no more than that.
	r.Attempts = 1
	if err := w.connect(ctx, client, breaker, &r); err != nil {
		r.fail(err)
		return r
	}

	opts := w.opts.Backup
	opts.RunID = w.opts.RunID
	opts.APIBreaker = breaker
	if w.cluster.ClusterName != "" {
		opts.ClusterName, opts.ClusterNameSource = w.cluster.ClusterName, "registry"
	}
	opts.Progress = func(e backup.Event) {
		w.event(Event{Kind: EventBackup, Cluster: r.Cluster, Attempt: r.Attempts, Backup: e})
	}
	b := w.retrier()
	for attempt := 1; ; attempt++ {
		r.Attempts = max(r.Attempts, attempt)
		out, err := backup.Run(ctx, client, w.target, opts)
		if err == nil {
			m := out.Manifest
			r.Cluster, r.BackupID, r.Result = m.Cluster.Name, m.ID, Outcome(m.Phase)
			r.Objects, r.BytesUploaded = m.Stats.Objects, m.Stats.BytesUploaded
			r.Location, r.FallbackUsed = out.Location, out.UsedFallback()
			if m.Phase != repo.PhaseCompleted {
				r.Error = phaseError(m)
			}
			if r.Environment == "" {
				r.Environment = w.environment(ctx, m.Cluster.Name)
			}
			return r
		}
		wait, retry := w.shouldRetry(ctx, err, breaker, attempt, b)
		if !retry {
			r.fail(giveUp(err, breaker, attempt))
			return r
		}
		w.event(Event{Kind: EventRetrying, Cluster: r.Cluster, Attempt: attempt, Err: err, Wait: wait})
		select {
		case <-time.After(wait):
		case <-ctx.Done():
			r.fail(err)
			return r
		}
	}
}

// connect pings the cluster through its breaker until it answers, the
// connect timeout passes, or the error is not transient.
func (w *worker) connect(ctx context.Context, client *kube.Client, breaker *gobreaker.CircuitBreaker[any], r *ClusterResult) error {
	ctx, cancel := context.WithTimeout(ctx, w.opts.ConnectTimeout)
	defer cancel()
	var last error
	_, err := backoff.Retry(ctx, func() (struct{}, error) {
		_, err := breaker.Execute(func() (any, error) { return client.Ping(ctx) })
		if err == nil {
			return struct{}{}, nil
		}
		last = err
		if errors.Is(err, gobreaker.ErrOpenState) || !Transient(err) {
			return struct{}{}, backoff.Permanent(err)
		}
		return struct{}{}, err
	}, backoff.WithBackOff(w.retrier()), backoff.WithNotify(func(err error, wait time.Duration) {
		r.Attempts++
		w.event(Event{Kind: EventRetrying, Attempt: r.Attempts - 1, Err: err, Wait: wait})
	}))
	if err == nil {
		return nil
	}
	if last == nil {
		last = err
	}
	if ctx.Err() != nil && ctx.Err() != context.Canceled {
		return fmt.Errorf("did not answer within the connect timeout of %s (%d tries): %w", w.opts.ConnectTimeout, r.Attempts, last)
	}
	if errors.Is(err, gobreaker.ErrOpenState) {
		return giveUp(last, breaker, r.Attempts)
	}
	return last
}

func (w *worker) retrier() *backoff.ExponentialBackOff {
	return &backoff.ExponentialBackOff{
		InitialInterval: w.opts.RetryInterval, RandomizationFactor: 0.3, Multiplier: 2, MaxInterval: 8 * w.opts.RetryInterval,
	}
}

// shouldRetry says whether a failed backup attempt is tried again, and
// after how long: only for transient errors, while attempts are left and
// the cluster's breaker is closed.
func (w *worker) shouldRetry(ctx context.Context, err error, breaker *gobreaker.CircuitBreaker[any], attempt int, b *backoff.ExponentialBackOff) (time.Duration, bool) {
	if ctx.Err() != nil || attempt >= w.opts.Attempts || breaker.State() == gobreaker.StateOpen || !Transient(err) {
		return 0, false
	}
	return b.NextBackOff(), true
}

// giveUp says why the run stopped trying a cluster.
func giveUp(err error, breaker *gobreaker.CircuitBreaker[any], attempts int) error {
	if breaker.State() == gobreaker.StateOpen || errors.Is(err, gobreaker.ErrOpenState) {
		return fmt.Errorf("given up after %d tries: its API server keeps failing (%d requests in a row got no answer, so the circuit breaker opened): %w",
			attempts, breaker.Counts().ConsecutiveFailures, err)
	}
	if attempts > 1 {
		return fmt.Errorf("given up after %d tries: %w", attempts, err)
	}
	return err
}

// environment reads the cluster's environment from its registry entry,
// best effort: the result says "" when it cannot.
func (w *worker) environment(ctx context.Context, cluster string) string {
	r, err := w.target.Repository(ctx)
	if err != nil {
		return ""
	}
	e, err := r.GetCluster(ctx, cluster)
	if err != nil {
		return ""
	}
	return e.Environment
}

func phaseError(m *repo.Manifest) string {
	var parts []string
	for _, e := range m.Errors {
		parts = append(parts, e.Resource+": "+e.Message)
	}
	if len(m.Skipped) > 0 {
		parts = append(parts, fmt.Sprintf("%d objects skipped", len(m.Skipped)))
	}
	if len(parts) > 3 {
		parts = append(parts[:3], fmt.Sprintf("and %d more", len(parts)-3))
	}
	return strings.Join(parts, "; ")
}

// Transient says whether err may go away when tried again: the cluster
// did not answer, answered 429 or 5xx, or a request timed out. A cluster
// that refused the credentials, a name taken by another cluster, or
// storage with no location left are not.
func Transient(err error) bool {
	switch {
	case err == nil, errors.Is(err, context.Canceled):
		return false
	case errors.Is(err, kube.ErrUnauthorized), errors.Is(err, repo.ErrClusterNameTaken), errors.Is(err, backup.ErrBackupExists),
		errors.Is(err, storage.ErrStorageUnavailable), errors.Is(err, storage.ErrInvalid):
		return false
	case errors.Is(err, kube.ErrUnreachable):
		return true
	}
	return backup.Transient(err)
}

// WithTimeouts returns a copy of cfg whose connections are dialled within
// connect and whose requests each end within request.
func WithTimeouts(cfg *rest.Config, connect, request time.Duration) *rest.Config {
	c := rest.CopyConfig(cfg)
	if c.Dial == nil {
		c.Dial = (&net.Dialer{Timeout: connect, KeepAlive: 30 * time.Second}).DialContext
	}
	if request > 0 {
		c.Timeout = request
	}
	return c
}
