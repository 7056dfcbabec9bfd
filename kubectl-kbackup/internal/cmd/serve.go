package cmd

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"golang.org/x/sync/errgroup"
	"k8s.io/cli-runtime/pkg/genericiooptions"

	"github.com/kbackup/kbackup/core/config"
	"github.com/kbackup/kbackup/core/fleetrun"
	"github.com/kbackup/kbackup/core/fleetview"
	"github.com/kbackup/kbackup/core/metrics"
	"github.com/kbackup/kbackup/core/notify"
	"github.com/kbackup/kbackup/core/prune"
	"github.com/kbackup/kbackup/core/replicate"
	"github.com/kbackup/kbackup/core/repo"
	"github.com/kbackup/kbackup/core/scheduler"
	"github.com/kbackup/kbackup/core/tracing"
	"github.com/kbackup/kbackup/core/version"
	"github.com/kbackup/kbackup/kubectl-kbackup/internal/dashboard"
)

// Defaults of serve's flags.
const (
	// defaultShutdownTimeout is how long running backups may take to end
	// after SIGTERM; Kubernetes' terminationGracePeriodSeconds in
	// examples/serve is set above it.
	defaultShutdownTimeout = 5 * time.Minute
	// readyTimeout bounds /readyz's look at the repository, below the
	// timeouts of Kubernetes' probes.
	readyTimeout = 3 * time.Second
	// notifyFlushTimeout bounds sending queued notifications at shutdown.
	notifyFlushTimeout = 10 * time.Second
)

// ServeOptions run kbackup as a long-running process.
type ServeOptions struct {
	Global *GlobalOptions

	// Scheduler runs the repository's schedules.
	Scheduler bool
	// MetricsAddress is where /metrics, /healthz and /readyz are served.
	MetricsAddress string
	// ShutdownTimeout bounds how long running backups may go on after a
	// shutdown is asked for.
	ShutdownTimeout time.Duration
	CatchUpWindow   time.Duration
	ReloadInterval  time.Duration
	ConnectTimeout  time.Duration
	// Contexts restricts the kubeconfig contexts the scheduler tries.
	Contexts []string
	// Grace and MaxAge judge freshness (kbackup_cluster_stale), as
	// `clusters` does.
	Grace, MaxAge time.Duration
	// MetricsRefresh bounds how often a scrape reads the repository.
	MetricsRefresh time.Duration
	// Dashboard is the web dashboard's listener and access; an empty
	// address turns it off.
	Dashboard dashboard.Options
	// ReplicateTo is a second repository each scheduled run's backups are
	// copied into (storage.replicate_to).
	ReplicateTo string

	config      *LoadedConfig
	metricsPath string
	replica     string
	runID       string
	genericiooptions.IOStreams
}

// NewCmdServe returns `kubectl kbackup serve`.
func NewCmdServe(global *GlobalOptions, streams genericiooptions.IOStreams) *cobra.Command {
	o := &ServeOptions{Global: global, IOStreams: streams}
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run as a long-running process: the scheduler, Prometheus metrics, health checks",
		Long: `Run kbackup as a long-running process, in a cluster or on a host (docs/serve.md).

It serves /metrics (Prometheus), /healthz (the process is alive) and /readyz
(the repository answers and, with --scheduler, the schedules are read) on
--metrics-address, and logs JSON lines on stderr, each naming the run, the
schedule and the cluster it is about.

With --scheduler it runs the repository's schedules (_fleet/schedules, made by
Terraform's kbackup_schedule): at each slot, every registered cluster that the
schedule covers and that a context of the kubeconfig reaches (matched by
kube-system UID) is backed up, higher priority first, then pruned by the
schedule's retention. Several processes may run the scheduler on one
repository: each cluster's backup of a slot runs once, in whichever process
claims it first. A slot missed while no scheduler ran runs at start when it is
less than --catch-up-window old. Schedules changed in the repository are
followed within --reload-interval.

On SIGTERM or Ctrl-C it starts no new backup, lets the running ones end within
--shutdown-timeout, and records the rest as interrupted.`,
		Example: `  # Run the schedules of the repository, with metrics on :8080
  kubectl kbackup serve --scheduler --storage s3://backups?endpoint=https://s3.example.com

  # Only metrics and health checks, on loopback
  kubectl kbackup serve --metrics-address 127.0.0.1:9090`,
		Args: cobra.NoArgs,
		RunE: runOptions(o),
	}
	fs := cmd.Flags()
	fs.BoolVar(&o.Scheduler, "scheduler", false, "Run the repository's schedules.")
	fs.StringVar(&o.MetricsAddress, "metrics-address", "", "Address of /metrics, /healthz and /readyz (default: \":\" and observability.metrics.port, 8080; the path of the metrics is observability.metrics.path).")
	fs.DurationVar(&o.ShutdownTimeout, "shutdown-timeout", defaultShutdownTimeout, "After SIGTERM, how long running backups may take to end before they are interrupted.")
	fs.DurationVar(&o.CatchUpWindow, "catch-up-window", scheduler.DefaultCatchUpWindow, "A slot missed while no scheduler ran is run at start when it is at most this old.")
	fs.DurationVar(&o.ReloadInterval, "reload-interval", scheduler.DefaultReloadInterval, "How often the schedules are read again from the repository.")
	fs.DurationVar(&o.ConnectTimeout, "connect-timeout", fleetrun.DefaultConnectTimeout, "How long a cluster may take to answer at all (connection, TLS and its first answer, retries included) before its backup is given up.")
	fs.StringSliceVar(&o.Contexts, "contexts", nil, "Kubeconfig contexts the scheduler tries (default: every context of the kubeconfig).")
	fs.DurationVar(&o.Grace, "grace", fleetview.DefaultGrace, "How long after a scheduled time its backup may still be running before the cluster counts as stale (kbackup_cluster_stale).")
	fs.DurationVar(&o.MaxAge, "max-age", fleetview.DefaultMaxAge, "How old the last successful backup of a cluster that no schedule covers may be before it counts as stale.")
	fs.DurationVar(&o.MetricsRefresh, "metrics-refresh-interval", metrics.DefaultRefreshInterval, "Scrapes read the repository at most this often; scrapes in between get the last reading.")
	fs.StringVar(&o.ReplicateTo, "replicate-to", "", "With --scheduler, copy each run's backups into this repository (URL) after the run, as `replicate --to` does (default: storage.replicate_to).")
	o.Dashboard.AddFlags(fs)
	return cmd
}

// Complete reads the configuration.
func (o *ServeOptions) Complete(fs *pflag.FlagSet, _ []string) error {
	cfg, err := o.Global.loadConfig()
	if err != nil {
		return err
	}
	o.config = cfg
	m := cfg.Observability.Metrics
	if !fs.Changed("metrics-address") {
		o.MetricsAddress = ":" + strconv.Itoa(cmp.Or(m.Port, 8080))
	}
	o.metricsPath = cmp.Or(m.Path, "/metrics")
	if !fs.Changed("replicate-to") {
		o.ReplicateTo = cfg.Storage.ReplicateTo
	}
	o.Dashboard.Fleet = fleetview.Options{Schedules: cfg.BackupSchedules, Grace: o.Grace, MaxAge: o.MaxAge}
	host, _ := os.Hostname()
	o.replica = fmt.Sprintf("%s/%d", cmp.Or(host, "unknown-host"), os.Getpid())
	o.runID = repo.NewRunID(time.Now())
	return nil
}

// Validate checks the flags.
func (o *ServeOptions) Validate() error {
	if _, _, err := net.SplitHostPort(o.MetricsAddress); err != nil {
		return fmt.Errorf("--metrics-address %q: want host:port, like :8080 or 127.0.0.1:8080", o.MetricsAddress)
	}
	for flag, d := range map[string]time.Duration{"--shutdown-timeout": o.ShutdownTimeout, "--catch-up-window": o.CatchUpWindow, "--reload-interval": o.ReloadInterval,
		"--connect-timeout": o.ConnectTimeout, "--max-age": o.MaxAge, "--metrics-refresh-interval": o.MetricsRefresh} {
		if d <= 0 {
			return fmt.Errorf("%s %s: want a positive duration like 1m", flag, d)
		}
	}
	if o.Grace < 0 {
		return fmt.Errorf("--grace %s must not be negative, such as 1h", o.Grace)
	}
	if o.Dashboard.Address != "" {
		if err := o.Dashboard.Validate(); err != nil {
			return err
		}
	}
	if o.ReplicateTo != "" && !o.Scheduler {
		return errors.New("--replicate-to copies the scheduler's backups: give --scheduler too, or use `kubectl kbackup replicate --to URL`")
	}
	if o.CatchUpWindow >= scheduler.DefaultClaimRetention {
		return fmt.Errorf("--catch-up-window %s: want less than %s, how long slot claims are kept", o.CatchUpWindow, scheduler.DefaultClaimRetention)
	}
	return nil
}

// Run serves until ctx is done (SIGTERM, Ctrl-C), then shuts down
// gracefully.
func (o *ServeOptions) Run(ctx context.Context) error {
	log := o.logger()
	log.Info("serve starting", "version", version.Version, "scheduler", o.Scheduler, "metricsAddress", o.MetricsAddress)
	s, err := o.newServer(ctx, log)
	if err != nil {
		log.Error("serve not started", "error", err.Error())
		return err
	}
	return s.run(ctx)
}

// logger logs JSON (or the configured format) at info unless a level is
// set: a long-running process's log is how it is followed. Every line
// names the process (replica) and serve's run; a scheduled run's lines
// name their own run, schedule and cluster.
func (o *ServeOptions) logger() *slog.Logger {
	cfg := o.config.Config
	level := slog.LevelInfo
	if cfg.Sources["observability.logging.level"] != "default" {
		_ = level.UnmarshalText([]byte(cfg.Observability.Logging.Level))
	}
	opts := &slog.HandlerOptions{Level: level}
	var h slog.Handler = slog.NewJSONHandler(o.ErrOut, opts)
	if cfg.Observability.Logging.Format == "text" {
		h = slog.NewTextHandler(o.ErrOut, opts)
	}
	return slog.New(h).With("replica", o.replica)
}

// server is serve's running parts: HTTP servers, and steps that run until
// shutdown (the scheduler).
type server struct {
	o        *ServeOptions
	log      *slog.Logger
	repo     *repo.Repository
	registry *prometheus.Registry
	mux      *http.ServeMux
	// servers are the HTTP listeners, shut down last.
	servers []*http.Server
	// sched is nil without --scheduler.
	sched *scheduler.Scheduler
	// stopping is set once a shutdown began: /readyz answers 503.
	stopping      atomic.Bool
	repoCollector *metrics.RepositoryCollector
	// afterRun are the steps after each scheduled run, in order:
	// notifications, then replication.
	afterRun []scheduler.AfterRun
	// notifier is nil unless notifications.enabled.
	notifier *notify.Notifier
	// tracer is nil unless observability.tracing.enabled.
	tracer *tracing.Tracer
	// dashboard is nil when --dashboard-address is empty; it listens on
	// its own address, with its own access rules.
	dashboard http.Handler
}

func (o *ServeOptions) newServer(ctx context.Context, log *slog.Logger) (*server, error) {
	primary, fallbacks, err := config.RepositoryOptions(o.config.Config)
	if err != nil {
		return nil, err
	}
	readOnly := primary
	readOnly.Create = false
	r, err := repo.Open(ctx, readOnly)
	if err != nil {
		return nil, fmt.Errorf("serve reads the repository's registry and schedules: %w", err)
	}
	s := &server{o: o, log: log, repo: r, registry: prometheus.NewRegistry(), mux: http.NewServeMux()}
	s.registry.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	s.repoCollector = metrics.NewRepositoryCollector(r, metrics.RepositoryOptions{
		RefreshInterval: o.MetricsRefresh, Restores: true,
		Fleet: fleetview.Options{Schedules: o.config.BackupSchedules, Grace: o.Grace, MaxAge: o.MaxAge},
	})
	s.registry.MustRegister(s.repoCollector)

	if o.Scheduler {
		// After each run, in order: notifications (queued, never waited
		// for), then replication.
		if n := o.config.Notifications; n.Enabled {
			s.notifier = notify.New(notify.Options{
				WebhookURL: n.Webhook.URL, OnSuccess: n.Webhook.OnSuccess, OnFailure: n.Webhook.OnFailure,
				SlackURL: n.Slack.WebhookURL, SlackChannel: n.Slack.Channel, PerCluster: n.PerCluster, Log: log,
			})
			s.afterRun = append(s.afterRun, s.notifier.AfterRun())
		}
		if o.ReplicateTo != "" {
			step, err := replicateAfterRun(ctx, r, primary, o.ReplicateTo, log)
			if err != nil {
				return nil, err
			}
			s.afterRun = append(s.afterRun, step)
		}
		runs := metrics.NewRuns(s.registry)
		observers := []scheduler.Observer{runs, runLogger{log: log}}
		if t := o.config.Observability.Tracing; t.Enabled {
			s.tracer, err = tracing.New(t.Endpoint, version.Version)
			if err != nil {
				return nil, err
			}
			observers = append(observers, s.tracer)
		}
		backupOpts := config.BackupOptions(o.config.Config)
		backupOpts.Concurrency = 0 // max_concurrent_operations counts clusters here
		backupOpts.ClusterName, backupOpts.ClusterNameSource = "", ""
		s.sched, err = scheduler.New(scheduler.Options{
			Repository: r,
			NewChooser: func() *repo.Chooser { return repo.NewChooser(primary, fallbacks...) },
			Candidates: func(context.Context) ([]fleetrun.Candidate, error) {
				return fleetrun.Candidates(deref(o.Global.ConfigFlags.KubeConfig), o.Contexts)
			},
			Run: fleetrun.Options{
				Concurrency:    o.config.Performance.Limits.MaxConcurrentOperations,
				ConnectTimeout: o.ConnectTimeout,
				Backup:         backupOpts,
			},
			Prune:          prune.Options{ConfigDays: o.config.RetentionPolicies, Environments: o.config.EnvironmentNames()},
			CatchUpWindow:  o.CatchUpWindow,
			ReloadInterval: o.ReloadInterval,
			Replica:        o.replica,
			Log:            log,
			Observers:      observers,
			AfterRun:       s.afterRun,
		})
		if err != nil {
			return nil, err
		}
		s.registry.MustRegister(metrics.NewSchedulerCollector(s.sched.Status))
	}

	s.mux.Handle("GET "+o.metricsPath, promhttp.HandlerFor(s.registry, promhttp.HandlerOpts{Registry: s.registry}))
	s.mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprintln(w, "ok")
	})
	s.mux.HandleFunc("GET /readyz", s.ready)
	s.servers = append(s.servers, &http.Server{Addr: o.MetricsAddress, Handler: s.mux, ReadHeaderTimeout: 10 * time.Second})
	if o.Dashboard.Address != "" {
		if s.dashboard, err = dashboard.New(r, o.Dashboard, log.With("component", "dashboard")); err != nil {
			return nil, err
		}
	}
	return s, nil
}

// replicateAfterRun opens the repository at url (created when empty, as
// `replicate --to` does) and returns the step that copies the backups of
// each scheduled run's clusters into it. A failed copy is logged and
// retried by the next run (replication resumes); it never fails a backup.
func replicateAfterRun(ctx context.Context, src *repo.Repository, primary repo.Options, url string, log *slog.Logger) (scheduler.AfterRun, error) {
	targetOpts, err := config.FallbackOptions(primary, url)
	if err != nil {
		return nil, fmt.Errorf("--replicate-to (storage.replicate_to): %w", err)
	}
	targetOpts.Create = true
	targetOpts.AutoCreateBucket = primary.AutoCreateBucket
	dst, err := repo.Open(ctx, targetOpts)
	if err != nil {
		return nil, fmt.Errorf("--replicate-to (storage.replicate_to): %w", err)
	}
	return func(ctx context.Context, run *scheduler.Run) {
		if run.Result == nil {
			return
		}
		var clusters []string
		for _, c := range run.Result.Clusters {
			if c.BackupID != "" {
				clusters = append(clusters, c.Cluster)
			}
		}
		if len(clusters) == 0 {
			return
		}
		l := log.With("run", run.ID, "schedule", run.Schedule.Name, "replicateTo", dst.String())
		report, err := replicate.Run(ctx, src, dst, replicate.Options{Clusters: clusters})
		switch {
		case err != nil:
			l.Error("replication failed; the next run resumes it", "error", err.Error())
		case len(report.Problems) > 0:
			l.Warn("replicated, but not everything", "manifestsCopied", report.ManifestsCopied, "packsCopied", report.PacksCopied, "problems", len(report.Problems))
		default:
			l.Info("replicated", "manifestsCopied", report.ManifestsCopied, "packsCopied", report.PacksCopied, "bytesCopied", report.BytesCopied)
		}
	}, nil
}

// ready answers /readyz: 200 when the repository answers and the
// schedules are read, 503 saying why not.
func (s *server) ready(w http.ResponseWriter, r *http.Request) {
	var problems []string
	if s.stopping.Load() {
		problems = append(problems, "shutting down")
	}
	ctx, cancel := context.WithTimeout(r.Context(), readyTimeout)
	defer cancel()
	if _, err := s.repo.Backend().Stat(ctx, s.repo.Layout().Config()); err != nil {
		problems = append(problems, "the repository does not answer: "+err.Error())
	}
	if s.sched != nil {
		if err := s.sched.Ready(); err != nil {
			problems = append(problems, err.Error())
		}
	}
	if len(problems) > 0 {
		http.Error(w, strings.Join(problems, "; "), http.StatusServiceUnavailable)
		return
	}
	fmt.Fprintln(w, "ok")
}

// run starts the listeners and the scheduler; when ctx is done it stops
// scheduling, gives the running backups the shutdown timeout, and then
// closes the listeners.
func (s *server) run(ctx context.Context) error {
	g, gctx := errgroup.WithContext(ctx)
	listeners := make([]net.Listener, len(s.servers))
	for i, srv := range s.servers {
		l, err := net.Listen("tcp", srv.Addr)
		if err != nil {
			return fmt.Errorf("listening on %s: %w", srv.Addr, err)
		}
		listeners[i] = l
		s.log.Info("listening", "address", l.Addr().String())
	}
	for i, srv := range s.servers {
		g.Go(func() error {
			if err := srv.Serve(listeners[i]); !errors.Is(err, http.ErrServerClosed) {
				return fmt.Errorf("serving %s: %w", srv.Addr, err)
			}
			return nil
		})
	}
	if s.dashboard != nil {
		g.Go(func() error {
			s.log.Info("dashboard listening", "address", s.o.Dashboard.Address)
			return dashboard.Serve(gctx, s.o.Dashboard, s.dashboard)
		})
	}
	// work is the backups' context: it outlives ctx by the shutdown
	// timeout, so that running backups can end.
	work, interrupt := context.WithCancel(context.WithoutCancel(ctx))
	defer interrupt()
	schedulerDone := make(chan struct{})
	if s.sched != nil {
		g.Go(func() error {
			defer close(schedulerDone)
			return s.sched.Run(gctx, work)
		})
	} else {
		close(schedulerDone)
	}
	g.Go(func() error {
		<-gctx.Done()
		s.stopping.Store(true)
		if ctx.Err() != nil {
			s.log.Info("shutdown asked: no new backup starts; running ones may end", "timeout", s.o.ShutdownTimeout.String())
		}
		timer := time.AfterFunc(s.o.ShutdownTimeout, func() {
			s.log.Warn("shutdown timeout passed: interrupting the running backups")
			interrupt()
		})
		defer timer.Stop()
		<-schedulerDone
		if s.notifier != nil {
			// What is queued may still go out, briefly: a webhook that
			// hangs does not hold the shutdown.
			flush, cancel := context.WithTimeout(context.Background(), notifyFlushTimeout)
			s.notifier.Close(flush)
			cancel()
		}
		if s.tracer != nil {
			flush, cancel := context.WithTimeout(context.Background(), notifyFlushTimeout)
			if err := s.tracer.Shutdown(flush); err != nil {
				s.log.Warn("spans not sent", "error", err.Error())
			}
			cancel()
		}
		shutdown, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		for _, srv := range s.servers {
			_ = srv.Shutdown(shutdown)
		}
		return nil
	})
	err := g.Wait()
	s.log.Info("serve stopped")
	return err
}

// runLogger logs each cluster's progress in a scheduled run, each line
// with the run's ID, schedule and slot.
type runLogger struct{ log *slog.Logger }

func (l runLogger) with(run *scheduler.Run) *slog.Logger {
	return l.log.With("run", run.ID, "schedule", run.Schedule.Name, "slot", run.Slot.Format(time.RFC3339))
}

func (l runLogger) RunStarted(ctx context.Context, _ *scheduler.Run) context.Context { return ctx }

func (l runLogger) ClusterEvent(_ context.Context, run *scheduler.Run, e fleetrun.Event) {
	logFleetEvent(l.with(run), e)
}

func (l runLogger) RunEnded(context.Context, *scheduler.Run) {}
