// Package testenv starts the real parts kbackup's tests run against: any
// number of Kubernetes control planes (etcd and kube-apiserver), an S3 server
// (versitygw) and an OpenTofu binary. Everything listens on loopback ports,
// starts in parallel, and is stopped and removed when the test ends.
//
// The binaries are built by `make testenv` into a cache outside the checkout
// (see CacheDir). When they are missing, tests fail with a message naming
// `make testenv`; they never skip.
package testenv

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"golang.org/x/sync/errgroup"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
)

// Options says what to start.
type Options struct {
	// Clusters is the number of Kubernetes clusters to start.
	Clusters int
	// ClusterNames names the clusters (and their kubeconfig contexts); the
	// default is kbackup-1 … kbackup-N. When set, its length is the number
	// of clusters unless Clusters is larger.
	ClusterNames []string
	// S3 starts an S3 server.
	S3 bool
	// OpenTofu locates the OpenTofu binary and prepares its environment.
	OpenTofu bool
}

func (o Options) clusterNames() []string {
	n := max(o.Clusters, len(o.ClusterNames))
	names := make([]string, n)
	for i := range n {
		if i < len(o.ClusterNames) && o.ClusterNames[i] != "" {
			names[i] = o.ClusterNames[i]
		} else {
			names[i] = fmt.Sprintf("kbackup-%d", i+1)
		}
	}
	return names
}

// Env is a running test environment.
type Env struct {
	Clusters []*Cluster
	S3       *S3Server
	Tofu     *OpenTofu
	// Dir holds every file of the environment; Stop removes it.
	Dir string
	// StartupTime is how long New took.
	StartupTime time.Duration

	stopOnce sync.Once
}

// New starts what opts asks for, in parallel. On error, whatever did start is
// stopped again. Call Stop when done.
func New(ctx context.Context, opts Options) (*Env, error) {
	started := time.Now()
	names := opts.clusterNames()
	seen := map[string]bool{}
	for _, n := range names {
		if seen[n] {
			return nil, fmt.Errorf("testenv: cluster name %q given twice; each cluster needs its own name", n)
		}
		seen[n] = true
	}
	dir, err := os.MkdirTemp("", "kbackup-testenv-")
	if err != nil {
		return nil, fmt.Errorf("testenv: creating its directory: %w", err)
	}
	env := &Env{Dir: dir, Clusters: make([]*Cluster, len(names))}

	g, gctx := errgroup.WithContext(ctx)
	for i, name := range names {
		g.Go(func() error {
			c, err := startCluster(gctx, filepath.Join(dir, "cluster-"+name), name)
			env.Clusters[i] = c
			return err
		})
	}
	if opts.S3 {
		g.Go(func() error {
			s, err := startS3(gctx, filepath.Join(dir, "s3"))
			env.S3 = s
			return err
		})
	}
	if opts.OpenTofu {
		g.Go(func() error {
			o, err := newOpenTofu(filepath.Join(dir, "tofu"))
			env.Tofu = o
			return err
		})
	}
	if err := g.Wait(); err != nil {
		env.Stop()
		return nil, fmt.Errorf("testenv: %w", err)
	}
	env.StartupTime = time.Since(started)
	return env, nil
}

// Start starts a test environment for t and stops it when t ends, whether it
// passes or fails. It fails t (never skips it) when something cannot start.
func Start(t testing.TB, opts Options) *Env {
	t.Helper()
	env, err := New(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(env.Stop)
	return env
}

// Stop stops every process of the environment and removes its files.
func (e *Env) Stop() {
	e.stopOnce.Do(func() {
		var wg sync.WaitGroup
		for _, c := range e.Clusters {
			if c != nil {
				wg.Go(c.stop)
			}
		}
		if e.S3 != nil {
			wg.Go(e.S3.Stop)
		}
		wg.Wait()
		_ = os.RemoveAll(e.Dir)
	})
}

// Cluster returns the cluster with the given name, or nil.
func (e *Env) Cluster(name string) *Cluster {
	for _, c := range e.Clusters {
		if c.Name == name {
			return c
		}
	}
	return nil
}

// Kubeconfig returns one kubeconfig with a context per cluster, each named
// after its cluster; the current context is the first cluster's.
func (e *Env) Kubeconfig() *clientcmdapi.Config {
	cfg := clientcmdapi.NewConfig()
	for _, c := range e.Clusters {
		c.addTo(cfg, c.Name)
	}
	if len(e.Clusters) > 0 {
		cfg.CurrentContext = e.Clusters[0].Name
	}
	return cfg
}

// WriteKubeconfig writes Kubeconfig to path with mode 0600.
func (e *Env) WriteKubeconfig(path string) error {
	if len(e.Clusters) == 0 {
		return errors.New("testenv: no clusters to write a kubeconfig for")
	}
	if err := clientcmd.WriteToFile(*e.Kubeconfig(), path); err != nil {
		return fmt.Errorf("testenv: writing kubeconfig %s: %w", path, err)
	}
	return os.Chmod(path, 0o600)
}

// ClosedAddress returns a loopback host:port where nothing listens: the
// address of a server that is down.
func ClosedAddress(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

// Shared is an environment that a package's tests share: started on first
// use (so that fuzz workers, which run no such test, start none) and
// stopped by the package's TestMain.
type Shared struct {
	Options Options

	once sync.Once
	env  *Env
	err  error
}

// Get starts the environment on first use and returns it.
func (s *Shared) Get(t testing.TB) *Env {
	t.Helper()
	s.once.Do(func() { s.env, s.err = New(context.Background(), s.Options) })
	if s.err != nil {
		t.Fatal(s.err)
	}
	return s.env
}

// Stop stops the environment, if it was started.
func (s *Shared) Stop() {
	if s.env != nil {
		s.env.Stop()
	}
}
