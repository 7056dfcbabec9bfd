package dashboard

import (
	"context"
	"encoding/base64"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kbackup/kbackup/core/repo"
	"github.com/kbackup/kbackup/core/testenv"
	"github.com/kbackup/kbackup/core/testenv/repotest"
)

func TestValidate(t *testing.T) {
	token := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(token, []byte("s3cret-token\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		o       Options
		wantErr string
	}{
		{"loopback by default", Options{Address: DefaultAddress}, ""},
		{"localhost", Options{Address: "localhost:8081"}, ""},
		{"IPv6 loopback", Options{Address: "[::1]:8081"}, ""},
		{"every interface without credentials", Options{Address: ":8081"}, "not a loopback address"},
		{"a public address without credentials", Options{Address: "10.1.2.3:8081"}, "--insecure-no-auth"},
		{"a public address with a token", Options{Address: "0.0.0.0:8081", TokenFile: token}, ""},
		{"a public address, explicitly open", Options{Address: "0.0.0.0:8081", InsecureNoAuth: true}, ""},
		{"no port", Options{Address: "127.0.0.1"}, "want host:port"},
		{"a missing token file", Options{Address: "0.0.0.0:8081", TokenFile: "/nonexistent/token"}, "--dashboard-token-file"},
		{"a certificate without its key", Options{Address: DefaultAddress, TLSCertFile: token}, "go together"},
		{"a client CA without TLS", Options{Address: "0.0.0.0:8081", ClientCAFile: token}, "needs --dashboard-tls-cert"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.o.Validate()
			switch {
			case tc.wantErr == "" && err != nil:
				t.Fatalf("unexpected error: %v", err)
			case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
				t.Fatalf("got %v, want an error containing %q", err, tc.wantErr)
			}
		})
	}
}

// freeAddress returns host:port of a port that was free a moment ago.
func freeAddress(t *testing.T, host string) string {
	t.Helper()
	l, err := net.Listen("tcp", net.JoinHostPort(host, "0"))
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

// serve starts the dashboard over r with o on a real listener, stopped
// when the test ends, and returns its base URL on loopback.
func serve(t *testing.T, r *repo.Repository, o Options) string {
	t.Helper()
	h, err := New(r, o, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- Serve(ctx, o, h) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	_, port, _ := net.SplitHostPort(o.Address)
	base := "http://127.0.0.1:" + port
	deadline := time.Now().Add(30 * time.Second)
	for {
		c, err := net.Dial("tcp", "127.0.0.1:"+port)
		if err == nil {
			c.Close()
			return base
		}
		select {
		case err := <-done:
			t.Fatalf("Serve ended: %v", err)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("the dashboard does not listen on %s: %v", o.Address, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// get fetches path with the Authorization header auth ("" for none).
func get(t *testing.T, base, path, auth string) (int, http.Header, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, base+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, resp.Header, string(body)
}

// On an address other than loopback, every page answers 401 without the
// token, with a wrong one, and when no credential was configured at all;
// the token as Bearer or as a basic-auth password opens it.
func TestNonLoopbackAddressAnswers401WithoutToken(t *testing.T) {
	ctx := context.Background()
	env := testenv.Start(t, testenv.Options{S3: true})
	r, err := repo.Open(ctx, repotest.S3Options(env.S3, env.S3.NewBucket(t)))
	if err != nil {
		t.Fatal(err)
	}
	if err := repotest.GenerateFleet(ctx, r, repotest.FleetSpec{Clusters: 2, Backups: 2, Interval: time.Hour, Newest: time.Now(), SharedPacks: 1}); err != nil {
		t.Fatal(err)
	}
	token := filepath.Join(t.TempDir(), "token")
	const secret = "dashboard-token-7f3a9c"
	if err := os.WriteFile(token, []byte(secret+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	paths := []string{"/", "/style.css", "/clusters/" + repotest.ClusterName(0), "/no/such/page", "/?stale=1"}

	withToken := Options{Address: freeAddress(t, "0.0.0.0"), TokenFile: token}
	if err := withToken.Validate(); err != nil {
		t.Fatal(err)
	}
	base := serve(t, r, withToken)
	basic := "Basic " + base64.StdEncoding.EncodeToString([]byte("anyone:"+secret))
	for _, p := range paths {
		for _, auth := range []string{"", "Bearer wrong-" + secret, "Bearer " + secret[:len(secret)-1], "Basic " + base64.StdEncoding.EncodeToString([]byte(secret+":x"))} {
			status, header, body := get(t, base, p, auth)
			if status != http.StatusUnauthorized {
				t.Errorf("GET %s with %q: status %d, want 401", p, auth, status)
			}
			if !strings.HasPrefix(header.Get("WWW-Authenticate"), "Basic") {
				t.Errorf("GET %s: a 401 without WWW-Authenticate: Basic, which makes a browser ask for the token", p)
			}
			if strings.Contains(body, "cluster-0000") {
				t.Errorf("GET %s with %q: the 401 shows the fleet", p, auth)
			}
		}
	}
	for _, auth := range []string{"Bearer " + secret, basic} {
		if status, _, body := get(t, base, "/", auth); status != http.StatusOK || !strings.Contains(body, "cluster-0001") {
			t.Errorf("GET / with the token (%s): status %d\n%.300s", strings.Fields(auth)[0], status, body)
		}
	}

	// Without any credential configured, a non-loopback handler refuses
	// everything: Validate stops such a start, and the handler does not
	// rely on it.
	open := Options{Address: freeAddress(t, "0.0.0.0")}
	if err := open.Validate(); err == nil {
		t.Fatal("Validate accepted a non-loopback address without credentials")
	}
	base = serve(t, r, open)
	for _, p := range paths {
		if status, _, _ := get(t, base, p, ""); status != http.StatusUnauthorized {
			t.Errorf("GET %s without credentials configured: status %d, want 401", p, status)
		}
	}

	// --insecure-no-auth and loopback serve without credentials.
	for _, o := range []Options{{Address: freeAddress(t, "0.0.0.0"), InsecureNoAuth: true}, {Address: freeAddress(t, "127.0.0.1")}} {
		base := serve(t, r, o)
		if status, header, body := get(t, base, "/", ""); status != http.StatusOK || !strings.Contains(body, "cluster-0000") || header.Get("Content-Security-Policy") == "" {
			t.Errorf("GET / on %s (insecure-no-auth %v): status %d", o.Address, o.InsecureNoAuth, status)
		}
	}
}

func TestServeStopsWithItsContext(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	o := Options{Address: freeAddress(t, "127.0.0.1")}
	done := make(chan error, 1)
	go func() { done <- Serve(ctx, o, http.NotFoundHandler()) }()
	deadline := time.Now().Add(30 * time.Second)
	for {
		c, err := net.Dial("tcp", o.Address)
		if err == nil {
			c.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatal(err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Serve after its context ended: %v", err)
	}
	if c, err := net.Dial("tcp", o.Address); err == nil {
		c.Close()
		t.Fatal("still listening after its context ended")
	}
}

// Pages that name what the repository does not hold answer 404, and names
// that cannot be names 400, with the reason on an error page.
func TestMissingAndInvalidPages(t *testing.T) {
	ctx := context.Background()
	env := testenv.Start(t, testenv.Options{S3: true})
	r, err := repo.Open(ctx, repotest.S3Options(env.S3, env.S3.NewBucket(t)))
	if err != nil {
		t.Fatal(err)
	}
	if err := repotest.GenerateFleet(ctx, r, repotest.FleetSpec{Clusters: 1, Backups: 1, Interval: time.Hour, Newest: time.Now(), SharedPacks: 1}); err != nil {
		t.Fatal(err)
	}
	ids, err := r.BackupIDs(ctx, repotest.ClusterName(0))
	if err != nil {
		t.Fatal(err)
	}
	base := serve(t, r, Options{Address: freeAddress(t, "127.0.0.1")})
	backup := "/clusters/" + repotest.ClusterName(0) + "/backups/" + ids[0]
	for path, want := range map[string]int{
		"/clusters/no-such-cluster": http.StatusNotFound,
		"/clusters/Not_A_Name":      http.StatusBadRequest,
		"/clusters/" + repotest.ClusterName(0) + "/backups/20200101T000000Z-abcdef": http.StatusNotFound,
		"/clusters/" + repotest.ClusterName(0) + "/backups/bad%20id!":               http.StatusBadRequest,
		backup + "/objects?namespace=app-0&resource=secrets":                        http.StatusNotFound,
		backup + "/object?namespace=app-0&resource=configmaps&name=nope":            http.StatusNotFound,
		backup + "/object?namespace=app-0&resource=configmaps&name=cm-0":            http.StatusOK,
		backup + "/objects?namespace=app-0&resource=configmaps":                     http.StatusOK,
		backup:          http.StatusOK,
		"/nothing/here": http.StatusNotFound,
	} {
		status, _, body := get(t, base, path, "")
		if status != want {
			t.Errorf("GET %s: %d, want %d\n%.400s", path, status, want, body)
		}
		if status >= 400 && !strings.Contains(body, `class="error"`) {
			t.Errorf("GET %s: the error page does not say why", path)
		}
	}
}
