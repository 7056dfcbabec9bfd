// Package kube connects to Kubernetes clusters, discovers the resources a
// backup lists, and detects which cluster it is talking to.
//
// Everything here takes plain values (a kubeconfig path, a context name, a
// rest.Config); the front ends turn their flags into these and render what
// comes back.
package kube

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/version"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
	"k8s.io/client-go/util/flowcontrol"

	kbversion "github.com/kbackup/kbackup/core/version"
)

// Defaults of ClientOptions. kbackup has no client-side rate limit by
// default: every part of it that sends requests in bulk bounds how many are
// in flight at once (a restore sends 16 at a time, a backup reads a few types
// at a time), which already bounds the rate, and API Priority and Fairness on
// the server is what protects it (its 429s are retried). A limiter only
// capped restores: at 1000 requests per second, a restore of 10,000 objects
// measured 1,135 objects/s where the same restore without it made 1,934/s.
// ClientOptions.QPS sets one when wanted.
const (
	DefaultQPS   float32 = -1
	DefaultBurst         = 0
	// DefaultPingTimeout bounds Ping when the caller's context allows longer:
	// an unreachable server must be reported in seconds, not after the
	// operating system gives up on a TCP connection.
	DefaultPingTimeout = 5 * time.Second
)

// Content types for ProtobufConfig.
const (
	contentTypeProtobuf = runtime.ContentTypeProtobuf
	acceptProtobuf      = runtime.ContentTypeProtobuf + "," + runtime.ContentTypeJSON
)

// Errors that callers decide on with errors.Is.
var (
	// ErrNoKubeconfig: no kubeconfig file was given or found, and kbackup
	// is not running inside a cluster.
	ErrNoKubeconfig = errors.New("no kubeconfig")
	// ErrContextNotFound: the requested context is not in the kubeconfig,
	// or the kubeconfig names no current context.
	ErrContextNotFound = errors.New("kubeconfig context not found")
	// ErrUnreachable: the API server did not answer (connection refused,
	// DNS, TLS, timeout).
	ErrUnreachable = errors.New("cluster unreachable")
	// ErrUnauthorized: the API server answered 401, the credentials are not
	// accepted.
	ErrUnauthorized = errors.New("credentials rejected")
)

// LoadOptions says where a connection's configuration comes from.
type LoadOptions struct {
	// Kubeconfig is the path of a kubeconfig file. "" follows kubectl:
	// $KUBECONFIG (a list of files), then ~/.kube/config.
	Kubeconfig string
	// Context selects a context of the kubeconfig; "" means its current
	// context.
	Context string
	// InCluster uses the service account of the pod kbackup runs in and
	// ignores Kubeconfig and Context.
	InCluster bool
}

// LoadRESTConfig reads a connection's configuration and returns it with the
// name of the context it came from ("" in a cluster). Errors name the
// kubeconfig and, for an unknown context, list the contexts it has.
func LoadRESTConfig(opts LoadOptions) (*rest.Config, string, error) {
	if opts.InCluster {
		cfg, err := rest.InClusterConfig()
		if err != nil {
			return nil, "", fmt.Errorf("loading the in-cluster configuration (the pod's service account): %w", err)
		}
		return cfg, "", nil
	}

	rules := clientcmd.NewDefaultClientConfigLoadingRules()
	if opts.Kubeconfig != "" {
		if _, err := os.Stat(opts.Kubeconfig); err != nil {
			return nil, "", fmt.Errorf("reading kubeconfig %s: %w", opts.Kubeconfig, err)
		}
		rules.ExplicitPath = opts.Kubeconfig
	}
	source := kubeconfigSource(rules)
	overrides := &clientcmd.ConfigOverrides{CurrentContext: opts.Context}
	loader := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, overrides)

	raw, err := loader.RawConfig()
	if err != nil {
		return nil, "", fmt.Errorf("reading kubeconfig %s: %w", source, err)
	}
	contextName := opts.Context
	if contextName == "" {
		contextName = raw.CurrentContext
	}
	if len(raw.Contexts) == 0 {
		if contextName == "" {
			// Like kubectl, fall back to the pod's service account when
			// there is no kubeconfig at all.
			if cfg, err := loader.ClientConfig(); err == nil {
				return cfg, "", nil
			}
		}
		what := "kubeconfig " + source + " has no contexts"
		if !anyExists(rules.GetLoadingPrecedence()) {
			what = "no kubeconfig found at " + source
		}
		if contextName != "" {
			what += fmt.Sprintf(" (context %q was asked for)", contextName)
		} else {
			what += " and kbackup is not running in a cluster"
		}
		return nil, "", markError(ErrNoKubeconfig, nil, "%s; give a kubeconfig path, set KUBECONFIG, or write ~/.kube/config", what)
	}
	available := strings.Join(contextNames(raw), ", ")
	if contextName == "" {
		return nil, "", markError(ErrContextNotFound, nil, "kubeconfig %s has no current context; choose one of: %s", source, available)
	}
	if _, ok := raw.Contexts[contextName]; !ok {
		hint := ""
		if c, ok := closest(contextName, contextNames(raw)); ok {
			hint = fmt.Sprintf("; did you mean %q?", c)
		}
		if opts.Context == "" {
			return nil, "", markError(ErrContextNotFound, nil, "kubeconfig %s names %q as its current context but does not define it%s (available contexts: %s)",
				source, contextName, hint, available)
		}
		return nil, "", markError(ErrContextNotFound, nil, "kubeconfig %s has no context %q%s (available contexts: %s)",
			source, contextName, hint, available)
	}
	cfg, err := loader.ClientConfig()
	if err != nil {
		return nil, "", fmt.Errorf("kubeconfig %s, context %q: %w", source, contextName, err)
	}
	return cfg, contextName, nil
}

// kubeconfigSource describes where the loading rules read from, for errors.
func kubeconfigSource(rules *clientcmd.ClientConfigLoadingRules) string {
	if rules.ExplicitPath != "" {
		return rules.ExplicitPath
	}
	if env := os.Getenv(clientcmd.RecommendedConfigPathEnvVar); env != "" {
		return fmt.Sprintf("$%s (%s)", clientcmd.RecommendedConfigPathEnvVar, env)
	}
	return filepath.Clean(clientcmd.RecommendedHomeFile)
}

func anyExists(paths []string) bool {
	for _, p := range paths {
		if _, err := os.Stat(p); err == nil {
			return true
		}
	}
	return false
}

func contextNames(cfg clientcmdapi.Config) []string {
	names := make([]string, 0, len(cfg.Contexts))
	for name := range cfg.Contexts {
		names = append(names, name)
	}
	slices.Sort(names)
	return names
}

// ClientOptions tunes NewClient.
type ClientOptions struct {
	// ContextName is the kubeconfig context the configuration came from, for
	// messages and as a fallback cluster name.
	ContextName string
	// QPS and Burst limit the requests of every client built from one Client
	// together. 0 keeps the rest.Config's value, or the default when it has
	// none (DefaultQPS, DefaultBurst); a negative QPS turns the limit off.
	QPS   float32
	Burst int
	// UserAgent defaults to kbackup/<version> (<os>/<arch>).
	UserAgent string
}

// Client is a connection to one cluster: typed, dynamic and discovery clients
// sharing one HTTP transport and one rate limit.
type Client struct {
	// Kube is the typed clientset; it speaks protobuf, with JSON as fallback.
	Kube kubernetes.Interface
	// Dynamic reads and writes any resource as unstructured JSON.
	Dynamic dynamic.Interface
	// Discovery lists the server's API groups and resources.
	Discovery discovery.DiscoveryInterface
	// ContextName is the kubeconfig context, "" when there was none.
	ContextName string
	// Server is the API server's URL, without credentials.
	Server string

	config *rest.Config
}

// NewClient builds a Client from cfg, which it does not change.
func NewClient(cfg *rest.Config, opts ClientOptions) (*Client, error) {
	if cfg == nil {
		return nil, errors.New("kube.NewClient: no rest.Config given")
	}
	config := rest.CopyConfig(cfg)
	switch {
	case opts.QPS != 0:
		config.QPS = opts.QPS
	case config.QPS == 0:
		config.QPS = DefaultQPS
	}
	switch {
	case opts.Burst != 0:
		config.Burst = opts.Burst
	case config.Burst == 0:
		config.Burst = DefaultBurst
	}
	if opts.UserAgent != "" {
		config.UserAgent = opts.UserAgent
	} else if config.UserAgent == "" {
		config.UserAgent = kbversion.UserAgent("kbackup")
	}
	// kbackup reads deprecated APIs on purpose (a backup takes every type
	// the server serves); client-go would print a warning for each.
	if config.WarningHandler == nil && config.WarningHandlerWithContext == nil {
		config.WarningHandlerWithContext = rest.NoWarnings{}
	}
	// One limiter for all clients of the connection (and for those built from
	// Config), so that the limit is per cluster, not per client.
	if config.RateLimiter == nil && config.QPS > 0 {
		config.RateLimiter = flowcontrol.NewTokenBucketRateLimiter(config.QPS, config.Burst)
	}

	server, err := serverURL(config)
	if err != nil {
		return nil, fmt.Errorf("API server address %q: %w", config.Host, err)
	}
	httpClient, err := rest.HTTPClientFor(config)
	if err != nil {
		return nil, fmt.Errorf("configuring the connection to %s: %w", server, err)
	}
	kube, err := kubernetes.NewForConfigAndClient(protobufConfig(config), httpClient)
	if err != nil {
		return nil, fmt.Errorf("configuring the connection to %s: %w", server, err)
	}
	dyn, err := dynamic.NewForConfigAndClient(config, httpClient)
	if err != nil {
		return nil, fmt.Errorf("configuring the connection to %s: %w", server, err)
	}
	disc, err := discovery.NewDiscoveryClientForConfigAndClient(config, httpClient)
	if err != nil {
		return nil, fmt.Errorf("configuring the connection to %s: %w", server, err)
	}
	return &Client{
		Kube:        kube,
		Dynamic:     dyn,
		Discovery:   disc,
		ContextName: opts.ContextName,
		Server:      server,
		config:      config,
	}, nil
}

// Config returns a copy of the connection's configuration (JSON content
// type), with its rate limit applied.
func (c *Client) Config() *rest.Config {
	return rest.CopyConfig(c.config)
}

// ProtobufConfig returns a copy of the configuration that sends protobuf and
// accepts protobuf or JSON. Use it for built-in types only (Resource.Builtin):
// custom resources are served as JSON.
func (c *Client) ProtobufConfig() *rest.Config {
	return protobufConfig(c.config)
}

func protobufConfig(cfg *rest.Config) *rest.Config {
	pc := rest.CopyConfig(cfg)
	pc.ContentType = contentTypeProtobuf
	pc.AcceptContentTypes = acceptProtobuf
	return pc
}

// serverURL is the API server's base URL without user information, query or
// trailing slash.
func serverURL(cfg *rest.Config) (string, error) {
	if cfg.Host == "" {
		return "", errors.New("no API server address (host) given")
	}
	u, _, err := rest.DefaultServerUrlFor(cfg)
	if err != nil {
		return "", err
	}
	clean := url.URL{Scheme: u.Scheme, Host: u.Host, Path: strings.TrimSuffix(u.Path, "/")}
	return clean.String(), nil
}

// describe names the cluster in messages: "https://… (context prod-eu)".
func (c *Client) describe() string {
	if c.ContextName == "" {
		return c.Server
	}
	return fmt.Sprintf("%s (context %s)", c.Server, c.ContextName)
}

// Ping asks the API server for its version, within DefaultPingTimeout or the
// context's deadline, whichever is sooner. An error says whether the server
// could not be reached (ErrUnreachable) or refused the credentials
// (ErrUnauthorized).
func (c *Client) Ping(ctx context.Context) (*version.Info, error) {
	ctx, cancel := context.WithTimeout(ctx, DefaultPingTimeout)
	defer cancel()
	started := time.Now()
	v, err := discovery.ToDiscoveryInterfaceWithContext(c.Discovery).ServerVersionWithContext(ctx)
	if err != nil {
		return nil, c.connectionError(ctx, err, time.Since(started))
	}
	return v, nil
}
