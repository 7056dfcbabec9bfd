package kube_test

import (
	"context"
	"errors"
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/kbackup/kbackup/core/kube"
)

// writeKubeconfig writes the package's clusters into one kubeconfig whose
// current context is current ("" for none).
func writeKubeconfig(t *testing.T, current string) string {
	t.Helper()
	cfg := env.Kubeconfig()
	cfg.CurrentContext = current
	path := filepath.Join(t.TempDir(), "kubeconfig")
	if err := clientcmd.WriteToFile(*cfg, path); err != nil {
		t.Fatal(err)
	}
	return path
}

// A kubeconfig with several contexts reaches the cluster of the context
// asked for, or of its current context.
func TestLoadRESTConfigSelectsContext(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	path := writeKubeconfig(t, "labelled")

	for _, tc := range []struct{ context, wantContext, wantServer string }{
		{"", "labelled", labelled.Server},
		{"openshift", "openshift", openshiftCl.Server},
		{"plain", "plain", plain.Server},
	} {
		cfg, name, err := kube.LoadRESTConfig(kube.LoadOptions{Kubeconfig: path, Context: tc.context})
		if err != nil {
			t.Fatalf("context %q: %v", tc.context, err)
		}
		if name != tc.wantContext || cfg.Host != tc.wantServer {
			t.Errorf("context %q: got context %q, host %s; want %q, %s", tc.context, name, cfg.Host, tc.wantContext, tc.wantServer)
		}
		c := newClient(t, cfg, name)
		v, err := c.Ping(ctx)
		if err != nil {
			t.Fatalf("context %q: %v", tc.context, err)
		}
		// testenv's kube-apiserver is built without version stamping and
		// reports v0.0.0-master+$Format:%H$; compare with the server itself.
		raw, err := newClient(t, env.Cluster(tc.wantContext).Config(), "").Kube.Discovery().ServerVersion()
		if err != nil {
			t.Fatal(err)
		}
		if v.GitVersion == "" || v.GitVersion != raw.GitVersion {
			t.Errorf("Ping version %q, server says %q", v.GitVersion, raw.GitVersion)
		}
	}
}

// KUBECONFIG is read when no path is given, as kubectl does; with no
// kubeconfig anywhere the error says so.
func TestLoadRESTConfigFromKUBECONFIG(t *testing.T) {
	// t.Setenv: not parallel.
	path := writeKubeconfig(t, "plain")
	t.Setenv("KUBECONFIG", path)
	cfg, name, err := kube.LoadRESTConfig(kube.LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if name != "plain" || cfg.Host != plain.Server {
		t.Errorf("got context %q, host %s; want plain, %s", name, cfg.Host, plain.Server)
	}

	missing := filepath.Join(t.TempDir(), "none")
	t.Setenv("KUBECONFIG", missing)
	t.Setenv("KUBERNETES_SERVICE_HOST", "")
	_, _, err = kube.LoadRESTConfig(kube.LoadOptions{})
	if !errors.Is(err, kube.ErrNoKubeconfig) || !strings.Contains(err.Error(), "no kubeconfig found at $KUBECONFIG ("+missing+")") {
		t.Errorf("with no kubeconfig: want ErrNoKubeconfig naming %s, got %v", missing, err)
	}
	_, _, err = kube.LoadRESTConfig(kube.LoadOptions{Context: "prod"})
	if !errors.Is(err, kube.ErrNoKubeconfig) || !strings.Contains(err.Error(), `context "prod" was asked for`) {
		t.Errorf("with no kubeconfig and a context: got %v", err)
	}
}

// Errors name the kubeconfig, the context, the contexts there are, and a
// near one.
func TestLoadRESTConfigErrors(t *testing.T) {
	t.Parallel()
	path := writeKubeconfig(t, "plain")

	_, _, err := kube.LoadRESTConfig(kube.LoadOptions{Kubeconfig: path, Context: "labeled"})
	if !errors.Is(err, kube.ErrContextNotFound) {
		t.Fatalf("unknown context: want ErrContextNotFound, got %v", err)
	}
	for _, want := range []string{path, `"labeled"`, `did you mean "labelled"?`, "labelled, openshift, plain"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %s", err, want)
		}
	}

	noCurrent := writeKubeconfig(t, "")
	_, _, err = kube.LoadRESTConfig(kube.LoadOptions{Kubeconfig: noCurrent})
	if !errors.Is(err, kube.ErrContextNotFound) || !strings.Contains(err.Error(), "no current context") ||
		!strings.Contains(err.Error(), "labelled, openshift, plain") {
		t.Errorf("no current context: got %v", err)
	}

	dangling := writeKubeconfig(t, "plian")
	_, _, err = kube.LoadRESTConfig(kube.LoadOptions{Kubeconfig: dangling})
	if !errors.Is(err, kube.ErrContextNotFound) || !strings.Contains(err.Error(), `names "plian" as its current context but does not define it; did you mean "plain"?`) {
		t.Errorf("dangling current context: got %v", err)
	}

	missing := filepath.Join(t.TempDir(), "missing.yaml")
	_, _, err = kube.LoadRESTConfig(kube.LoadOptions{Kubeconfig: missing})
	if err == nil || !strings.Contains(err.Error(), missing) {
		t.Errorf("missing kubeconfig: want an error naming %s, got %v", missing, err)
	}

	_, _, err = kube.LoadRESTConfig(kube.LoadOptions{InCluster: true})
	if err == nil || !strings.Contains(err.Error(), "in-cluster") {
		t.Errorf("in-cluster outside a pod: got %v", err)
	}
}

// NewClient applies kbackup's defaults, hands out copies of its
// configuration, and its typed client speaks protobuf to the real server.
func TestNewClientDefaultsAndProtobuf(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	cfg := plain.Config()
	cfg.QPS = 0 // testenv turns the limit off; see the defaults
	c := newClient(t, cfg, "plain")

	got := c.Config()
	if got.QPS != kube.DefaultQPS || got.Burst != kube.DefaultBurst || !strings.HasPrefix(got.UserAgent, "kbackup/") {
		t.Errorf("QPS %v, Burst %d, UserAgent %q; want %v, %d, kbackup/…", got.QPS, got.Burst, got.UserAgent, kube.DefaultQPS, kube.DefaultBurst)
	}
	if got.RateLimiter != nil {
		t.Error("by default there is no client-side rate limit")
	}
	got.Host = "https://changed.example"
	if c.Config().Host != plain.Server {
		t.Error("Config() returned the client's own configuration, not a copy")
	}
	if cfg.QPS != 0 || cfg.UserAgent != "" {
		t.Error("NewClient changed the rest.Config it was given")
	}
	if c.Server != plain.Server || c.ContextName != "plain" {
		t.Errorf("Server %q, ContextName %q", c.Server, c.ContextName)
	}

	pb := c.ProtobufConfig()
	if pb.ContentType != runtime.ContentTypeProtobuf || pb.AcceptContentTypes != runtime.ContentTypeProtobuf+","+runtime.ContentTypeJSON {
		t.Errorf("ProtobufConfig: ContentType %q, Accept %q", pb.ContentType, pb.AcceptContentTypes)
	}
	if c.Config().ContentType == runtime.ContentTypeProtobuf {
		t.Error("Config() should stay JSON: the dynamic client needs it")
	}

	// Typed (protobuf) and dynamic (JSON) clients both work.
	if _, err := c.Kube.CoreV1().Namespaces().Get(ctx, "kube-system", metav1.GetOptions{}); err != nil {
		t.Errorf("typed client: %v", err)
	}
	explicit, err := kube.NewClient(plain.Config(), kube.ClientOptions{QPS: 7, Burst: 9, UserAgent: "kbackup-test"})
	if err != nil {
		t.Fatal(err)
	}
	if e := explicit.Config(); e.QPS != 7 || e.Burst != 9 || e.UserAgent != "kbackup-test" {
		t.Errorf("explicit options: QPS %v, Burst %d, UserAgent %q", e.QPS, e.Burst, e.UserAgent)
	}
	if e := explicit.Config(); e.RateLimiter == nil || explicit.Config().RateLimiter != e.RateLimiter {
		t.Error("with a QPS, the clients of one connection should share one rate limiter")
	}
	if off := newClient(t, plain.Config(), ""); off.Config().RateLimiter != nil {
		t.Error("a negative QPS (testenv's) should leave the limit off")
	}
}

// Server never carries credentials, whatever the host string holds.
func TestClientServerHasNoCredentials(t *testing.T) {
	t.Parallel()
	for host, want := range map[string]string{
		"https://admin:s3cret@prod.example.com:6443/": "https://prod.example.com:6443",
		// Without TLS settings client-go speaks plain HTTP to a bare host.
		"prod.example.com:6443":               "http://prod.example.com:6443",
		"https://10.0.0.1/k8s/clusters/c-abc": "https://10.0.0.1/k8s/clusters/c-abc",
	} {
		c, err := kube.NewClient(&rest.Config{Host: host}, kube.ClientOptions{})
		if err != nil {
			t.Fatalf("%s: %v", host, err)
		}
		if c.Server != want {
			t.Errorf("host %s: Server %q, want %q", host, c.Server, want)
		}
	}
	if _, err := kube.NewClient(&rest.Config{}, kube.ClientOptions{}); err == nil {
		t.Error("a rest.Config without a host should be refused")
	}
}

// A server that refuses connections, or accepts and never answers, is
// reported as unreachable in seconds, naming the server and the context.
func TestPingUnreachable(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)

	closed, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closedAddr := closed.Addr().String()
	closed.Close()

	silent, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { silent.Close() })
	go func() {
		for {
			conn, err := silent.Accept()
			if err != nil {
				return
			}
			t.Cleanup(func() { conn.Close() })
		}
	}()

	// The baseline: a Ping that a real API server answers, timed now,
	// tells how slow this machine is at the moment.
	var baseline time.Duration
	for range 3 {
		started := time.Now()
		if _, err := newClient(t, plain.Config(), "plain").Ping(ctx); err != nil {
			t.Fatal(err)
		}
		baseline = max(baseline, time.Since(started))
	}

	for _, tc := range []struct {
		name, addr string
		timeout    time.Duration
		detail     string
	}{
		{"connection refused", closedAddr, 0, "connection refused"},
		{"no answer", silent.Addr().String(), 1500 * time.Millisecond, "no answer within"},
	} {
		cfg := &rest.Config{Host: "https://" + tc.addr, TLSClientConfig: rest.TLSClientConfig{CAData: plain.CAData}}
		c := newClient(t, cfg, "prod-eu")
		// Timed from before the deadline is set, so that a Ping ended by
		// the deadline never seems to have taken less than it.
		started := time.Now()
		pctx := ctx
		if tc.timeout > 0 {
			var cancel context.CancelFunc
			pctx, cancel = context.WithTimeout(ctx, tc.timeout)
			defer cancel()
		}
		_, err := c.Ping(pctx)
		took := time.Since(started)
		if !errors.Is(err, kube.ErrUnreachable) {
			t.Errorf("%s: want ErrUnreachable, got %v", tc.name, err)
			continue
		}
		want := "cluster at https://" + tc.addr + " (context prod-eu) is unreachable: "
		if !strings.HasPrefix(err.Error(), want) || !strings.Contains(err.Error(), tc.detail) {
			t.Errorf("%s: error %q, want %q… mentioning %q", tc.name, err, want, tc.detail)
		}
		// A refused connection fails without waiting for a timeout; a
		// silent server, at the caller's deadline. Either within a
		// margin of a second plus a hundred answered Pings.
		wait := tc.timeout
		if limit := wait + time.Second + 100*baseline; took > limit || took < wait {
			t.Errorf("%s: took %s, want between %s and %s (a Ping answered took %s)", tc.name, took, wait, limit, baseline)
		}
		t.Logf("%s: %s after %s", tc.name, err, took.Round(time.Millisecond))
	}
}

// Credentials the server does not know are told apart from an unreachable
// server.
func TestPingUnauthorized(t *testing.T) {
	t.Parallel()
	c := newClient(t, plain.ConfigForToken("not-a-token"), "plain")
	_, err := c.Ping(testContext(t))
	if !errors.Is(err, kube.ErrUnauthorized) || errors.Is(err, kube.ErrUnreachable) {
		t.Fatalf("want ErrUnauthorized, got %v", err)
	}
	if !strings.Contains(err.Error(), plain.Server+" (context plain) refused the credentials") {
		t.Errorf("error %q", err)
	}
	if strings.Contains(err.Error(), "not-a-token") {
		t.Errorf("error %q shows the token", err)
	}
}
