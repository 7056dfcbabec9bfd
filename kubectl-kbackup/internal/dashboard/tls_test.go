package dashboard

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
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

// pki is a CA with a server and a client certificate, written as PEM files.
type pki struct {
	caFile, serverCert, serverKey string
	pool                          *x509.CertPool
	client                        tls.Certificate
	// stranger is a client certificate of another CA.
	stranger tls.Certificate
}

func newPKI(t *testing.T) pki {
	t.Helper()
	dir := t.TempDir()
	write := func(name, typ string, der []byte) string {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
			t.Fatal(err)
		}
		return path
	}
	newCA := func(cn string) (*x509.Certificate, *ecdsa.PrivateKey, []byte) {
		key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: cn}, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
			IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
		if err != nil {
			t.Fatal(err)
		}
		cert, _ := x509.ParseCertificate(der)
		return cert, key, der
	}
	issue := func(ca *x509.Certificate, caKey *ecdsa.PrivateKey, cn string, usage x509.ExtKeyUsage) (tls.Certificate, []byte, []byte) {
		key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		tmpl := &x509.Certificate{SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: cn}, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
			ExtKeyUsage: []x509.ExtKeyUsage{usage}, KeyUsage: x509.KeyUsageDigitalSignature, IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
		if err != nil {
			t.Fatal(err)
		}
		keyDER, _ := x509.MarshalECPrivateKey(key)
		cert, err := tls.X509KeyPair(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}))
		if err != nil {
			t.Fatal(err)
		}
		return cert, der, keyDER
	}
	ca, caKey, caDER := newCA("kbackup test CA")
	other, otherKey, _ := newCA("another CA")
	_, serverDER, serverKeyDER := issue(ca, caKey, "dashboard", x509.ExtKeyUsageServerAuth)
	client, _, _ := issue(ca, caKey, "operator", x509.ExtKeyUsageClientAuth)
	stranger, _, _ := issue(other, otherKey, "stranger", x509.ExtKeyUsageClientAuth)
	pool := x509.NewCertPool()
	pool.AddCert(ca)
	return pki{
		caFile: write("ca.pem", "CERTIFICATE", caDER), serverCert: write("server.pem", "CERTIFICATE", serverDER),
		serverKey: write("server-key.pem", "EC PRIVATE KEY", serverKeyDER), pool: pool, client: client, stranger: stranger,
	}
}

// Client certificates on a non-loopback address: without a token file the
// handshake requires one of the CA; with one, a request without a
// certificate needs the token.
func TestClientCertificates(t *testing.T) {
	ctx := t.Context()
	env := testenv.Start(t, testenv.Options{S3: true})
	r, err := repo.Open(ctx, repotest.S3Options(env.S3, env.S3.NewBucket(t)))
	if err != nil {
		t.Fatal(err)
	}
	if err := repotest.GenerateFleet(ctx, r, repotest.FleetSpec{Clusters: 1, Backups: 1, Interval: time.Hour, Newest: time.Now(), SharedPacks: 1}); err != nil {
		t.Fatal(err)
	}
	p := newPKI(t)
	fetch := func(base string, cert *tls.Certificate, auth string) (int, error) {
		tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: p.pool}}
		if cert != nil {
			tr.TLSClientConfig.Certificates = []tls.Certificate{*cert}
		}
		defer tr.CloseIdleConnections()
		req, _ := http.NewRequest(http.MethodGet, strings.Replace(base, "http://", "https://", 1)+"/", nil)
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		resp, err := (&http.Client{Transport: tr}).Do(req)
		if err != nil {
			return 0, err
		}
		resp.Body.Close()
		return resp.StatusCode, nil
	}

	certOnly := Options{Address: freeAddress(t, "0.0.0.0"), ClientCAFile: p.caFile, TLSCertFile: p.serverCert, TLSKeyFile: p.serverKey}
	if err := certOnly.Validate(); err != nil {
		t.Fatal(err)
	}
	base := serve(t, r, certOnly)
	if status, err := fetch(base, &p.client, ""); err != nil || status != http.StatusOK {
		t.Errorf("with the CA's client certificate: %d %v", status, err)
	}
	for name, cert := range map[string]*tls.Certificate{"no certificate": nil, "another CA's certificate": &p.stranger} {
		if status, err := fetch(base, cert, ""); err == nil {
			t.Errorf("with %s the request got through the handshake: %d", name, status)
		}
	}

	token := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(token, []byte("tls-token"), 0o600); err != nil {
		t.Fatal(err)
	}
	either := certOnly
	either.Address, either.TokenFile = freeAddress(t, "0.0.0.0"), token
	base = serve(t, r, either)
	for _, tc := range []struct {
		name string
		cert *tls.Certificate
		auth string
		want int
	}{
		{"the certificate", &p.client, "", http.StatusOK},
		{"the token", nil, "Bearer tls-token", http.StatusOK},
		{"neither", nil, "", http.StatusUnauthorized},
		{"a wrong token", nil, "Bearer nope", http.StatusUnauthorized},
	} {
		if status, err := fetch(base, tc.cert, tc.auth); err != nil || status != tc.want {
			t.Errorf("with %s: %d %v, want %d", tc.name, status, err, tc.want)
		}
	}
}
