package cmd

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"

	"github.com/spf13/pflag"
	"k8s.io/cli-runtime/pkg/genericclioptions"

	"github.com/kbackup/kbackup/core/catalog"
	"github.com/kbackup/kbackup/core/config"
	"github.com/kbackup/kbackup/core/kube"
	"github.com/kbackup/kbackup/core/repo"
	"github.com/kbackup/kbackup/core/storage"
)

// GlobalOptions are the flags every command shares: kubectl's connection
// flags, and where kbackup's repository and configuration are.
type GlobalOptions struct {
	ConfigFlags *genericclioptions.ConfigFlags

	// Storage is --storage, the repository URL.
	Storage string
	// StorageAccessKeyID and StorageSecretAccessKey are S3 credentials
	// given as flags; AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or the
	// configuration, are better places for them.
	StorageAccessKeyID, StorageSecretAccessKey string
	// ConfigFile is --config, the path of kbackup.yaml.
	ConfigFile string
	// Environment is --environment, the configuration's environment.
	Environment string
	// LogFormat and LogLevel are --log-format and --log-level.
	LogFormat, LogLevel string

	// configSource names where ConfigFile came from in messages; "" means
	// the --config flag.
	configSource string
	// lookupEnv reads environment variables; tests replace it.
	lookupEnv func(string) (string, bool)
}

// NewGlobalOptions returns the global options with kubectl's connection
// flags. kubectl's --cluster (a kubeconfig cluster entry) is left out: in
// kbackup --cluster names the cluster whose backups are meant, and
// --context selects a kubeconfig's cluster just as well.
func NewGlobalOptions() *GlobalOptions {
	flags := genericclioptions.NewConfigFlags(true)
	flags.ClusterName = nil
	return &GlobalOptions{ConfigFlags: flags}
}

// AddFlags registers the global flags.
func (g *GlobalOptions) AddFlags(fs *pflag.FlagSet) {
	g.ConfigFlags.AddFlags(fs)
	fs.StringVar(&g.Storage, "storage", "", "Repository URL: s3://bucket[/prefix]?endpoint=https://host:port, file:///path or a directory (default: $KBACKUP_STORAGE, then the configuration, then "+defaultLocationText()+").")
	fs.StringVar(&g.StorageAccessKeyID, "storage-access-key-id", "", "S3 access key ID (default: storage.access_key_id, then $AWS_ACCESS_KEY_ID).")
	fs.StringVar(&g.StorageSecretAccessKey, "storage-secret-access-key", "", "S3 secret access key (default: storage.secret_access_key, then $AWS_SECRET_ACCESS_KEY). A flag's value shows in the process list and the shell's history: prefer the variable.")
	fs.StringVar(&g.ConfigFile, "config", "", "Path of kbackup.yaml (default: $KBACKUP_CONFIG, then ~/.kube/kbackup.yaml if it exists).")
	fs.StringVar(&g.Environment, "environment", "", "Environment of the configuration whose overrides apply, such as prod (default: $KBACKUP_ENVIRONMENT).")
	fs.StringVar(&g.LogFormat, "log-format", "", "Format of the logs on stderr: text or json (default: the configuration's, json).")
	fs.StringVar(&g.LogLevel, "log-level", "", "Level of the logs on stderr: debug, info, warn or error (default: the configuration's when it sets one, else warn).")
}

func defaultLocationText() string {
	if loc, err := storage.DefaultLocation(); err == nil {
		return "the local repository " + loc.Path
	}
	return "the local repository $XDG_DATA_HOME/kbackup"
}

// configOverride is a flag that sets a configuration key.
type configOverride struct {
	key, value string
	// flag is the flag's name, without dashes.
	flag string
}

// LoadedConfig is the configuration a command runs with, and where it was
// read from.
type LoadedConfig struct {
	*config.Config
	// File is the file read, with why it was chosen; empty Path when none.
	File config.Located
}

// loadConfig reads kbackup.yaml (found by config.Locate), applies the global
// flags and the command's overrides over it, and validates the result.
// Precedence: flags, then environment variables, then the file.
func (g *GlobalOptions) loadConfig(overrides ...configOverride) (*LoadedConfig, error) {
	source := g.configSource
	if source == "" {
		source = "flag --config"
	}
	located, err := config.Locate(g.ConfigFile, source, g.lookupEnv)
	if err != nil {
		return nil, err
	}
	cfg, err := config.Load(located.Path, config.LoadOptions{Environment: g.Environment, LookupEnv: g.lookupEnv})
	if err != nil {
		return nil, configError(located, err)
	}
	global := []configOverride{
		{"storage.url", g.Storage, "storage"},
		{"storage.access_key_id", g.StorageAccessKeyID, "storage-access-key-id"},
		{"storage.secret_access_key", g.StorageSecretAccessKey, "storage-secret-access-key"},
		{"observability.logging.format", g.LogFormat, "log-format"},
		{"observability.logging.level", g.LogLevel, "log-level"},
	}
	var problems config.ValidationErrors
	for _, o := range append(global, overrides...) {
		if o.value == "" {
			continue
		}
		var verrs config.ValidationErrors
		if err := cfg.Set(o.key, o.value, "flag --"+o.flag); errors.As(err, &verrs) {
			problems = append(problems, verrs...)
		} else if err != nil {
			return nil, err
		}
	}
	// Every problem at once: those of the flags' values, then those of the
	// configuration as a whole.
	var verrs config.ValidationErrors
	if err := cfg.Validate(); errors.As(err, &verrs) {
		problems = append(problems, verrs...)
	} else if err != nil {
		return nil, err
	}
	if len(problems) > 0 {
		return nil, configError(located, problems)
	}
	// performance.limits.memory_limit and cpu_limit hold for the whole
	// process, as GOMEMLIMIT and GOMAXPROCS would (which win when set).
	cfg.ProcessLimits(g.lookupEnv).Apply()
	return &LoadedConfig{Config: cfg, File: located}, nil
}

// configError introduces the configuration's problems, one per line.
func configError(located config.Located, err error) error {
	var verrs config.ValidationErrors
	if !errors.As(err, &verrs) {
		return err
	}
	what := "the configuration (flags and environment variables; no kbackup.yaml)"
	if located.Path != "" {
		what = fmt.Sprintf("the configuration %s (from %s)", located.Path, located.Source)
	}
	return fmt.Errorf("%s is not valid:\n  %s", what, strings.ReplaceAll(verrs.Error(), "\n", "\n  "))
}

// newLogger returns the slog logger the configuration asks for, on w. The
// plugin logs warnings and errors only, unless the level is set (by
// --log-level, LOG_LEVEL or the file): what a person needs to see is the
// command's output and progress, not a log. attrs are on every line: the
// IDs of the command's run and of what it works on, so that the lines of
// one run can be found together (correlation IDs).
func newLogger(w io.Writer, cfg *config.Config, attrs ...any) *slog.Logger {
	level := slog.LevelWarn
	if cfg.Sources["observability.logging.level"] != "default" {
		_ = level.UnmarshalText([]byte(cfg.Observability.Logging.Level))
	}
	opts := &slog.HandlerOptions{Level: level}
	if cfg.Observability.Logging.Format == "text" {
		return slog.New(slog.NewTextHandler(w, opts)).With(attrs...)
	}
	return slog.New(slog.NewJSONHandler(w, opts)).With(attrs...)
}

// openRepository opens the configured repository for reading commands. It
// creates nothing: an empty location is an error that says how to make a
// repository there (backup create does).
func openRepository(ctx context.Context, cfg *LoadedConfig) (*repo.Repository, error) {
	primary, _, err := config.RepositoryOptions(cfg.Config)
	if err != nil {
		return nil, err
	}
	return repo.Open(ctx, primary)
}

// kubeClient connects to the cluster of the kubeconfig and context the
// flags select, as kubectl would.
func (g *GlobalOptions) kubeClient() (*kube.Client, error) {
	// With no kubeconfig and no --server, client-go would try kubectl's
	// old default, localhost:8080; core/kube says there is no kubeconfig
	// instead (or uses the pod's service account, in a cluster).
	if raw, err := g.ConfigFlags.ToRawKubeConfigLoader().RawConfig(); err == nil && len(raw.Contexts) == 0 && deref(g.ConfigFlags.APIServer) == "" {
		restConfig, _, err := kube.LoadRESTConfig(kube.LoadOptions{Kubeconfig: deref(g.ConfigFlags.KubeConfig)})
		if err != nil {
			return nil, err
		}
		return kube.NewClient(restConfig, kube.ClientOptions{})
	}
	restConfig, err := g.ConfigFlags.ToRESTConfig()
	if err != nil {
		// core/kube says more about a missing kubeconfig or an unknown
		// context (which contexts there are) than client-go does.
		if _, _, kerr := kube.LoadRESTConfig(kube.LoadOptions{Kubeconfig: deref(g.ConfigFlags.KubeConfig), Context: deref(g.ConfigFlags.Context)}); kerr != nil {
			return nil, kerr
		}
		return nil, fmt.Errorf("loading the kubeconfig: %w", err)
	}
	contextName := deref(g.ConfigFlags.Context)
	if contextName == "" {
		if raw, err := g.ConfigFlags.ToRawKubeConfigLoader().RawConfig(); err == nil {
			contextName = raw.CurrentContext
		}
	}
	return kube.NewClient(restConfig, kube.ClientOptions{ContextName: contextName})
}

// detectIdentity detects the identity of the cluster the flags select.
// name, when set, is the name to use instead of a detected one.
func (g *GlobalOptions) detectIdentity(ctx context.Context, name, nameSource string) (*kube.Identity, error) {
	client, err := g.kubeClient()
	if err != nil {
		return nil, err
	}
	id, err := kube.DetectIdentity(ctx, client, kube.DetectOptions{Name: name, NameSource: nameSource})
	if err != nil {
		return nil, clusterError(err)
	}
	return id, nil
}

// clusterError adds what to check to an error reaching the cluster.
func clusterError(err error) error {
	if errors.Is(err, kube.ErrUnreachable) {
		return fmt.Errorf("%w; check the kubeconfig (--kubeconfig or KUBECONFIG) and context (--context), and that the cluster is running", err)
	}
	return err
}

// clusterName says whose backups a command means: the --cluster flag, else
// cluster.name of the configuration (CLUSTER_NAME), else the name detected
// from the current kubeconfig context.
func (g *GlobalOptions) clusterName(ctx context.Context, cfg *LoadedConfig, flag string) (string, error) {
	if flag != "" {
		return flag, nil
	}
	if cfg.Cluster.Name != "" {
		return cfg.Cluster.Name, nil
	}
	id, err := g.detectIdentity(ctx, "", "")
	if err != nil {
		return "", fmt.Errorf("finding which cluster's backups to show (give --cluster NAME to skip this): %w", err)
	}
	return id.Name, nil
}

// resolveBackup finds the backup named by idOrLatest for the commands that
// read backups (describe, get, delete, verify): in the cluster of --cluster
// or of the configuration when one is given, else an ID in whichever
// cluster has it, and latest in the current context's cluster.
func (g *GlobalOptions) resolveBackup(ctx context.Context, r *repo.Repository, cfg *LoadedConfig, clusterFlag, idOrLatest string) (*repo.Manifest, error) {
	cluster := clusterFlag
	if cluster == "" {
		cluster = cfg.Cluster.Name
	}
	return resolveBackup(ctx, r, cluster, idOrLatest, "--cluster", func(ctx context.Context) (string, error) {
		return g.clusterName(ctx, cfg, "")
	})
}

// resolveBackup is how every command finds the backup a user names
// (catalog.Resolve): in cluster when it is given; else an ID in whichever
// cluster has it, and latest in the cluster that latestCluster says, which
// is asked only then (it may have to reach a cluster). clusterFlag is the
// flag that names the cluster, for messages.
func resolveBackup(ctx context.Context, r *repo.Repository, cluster, idOrLatest, clusterFlag string, latestCluster func(context.Context) (string, error)) (*repo.Manifest, error) {
	ref := catalog.Ref{Cluster: cluster, ID: idOrLatest}
	if ref.Cluster == "" && ref.ID == catalog.Latest {
		name, err := latestCluster(ctx)
		if err != nil {
			return nil, err
		}
		ref.Cluster = name
	}
	m, err := catalog.Resolve(ctx, r, ref)
	return m, flagErrors(err, map[string]string{catalog.FieldCluster: clusterFlag, catalog.FieldBackup: "the backup argument"})
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}
