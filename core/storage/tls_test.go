package storage

import (
	"context"
	"encoding/pem"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TLS is verified by default; ca-file adds a trusted CA, and only
// insecure-skip-tls-verify turns verification off. The server is a stub
// that answers every request "no such key", which is enough to tell a
// completed TLS handshake from a refused one.
func TestS3TLSVerification(t *testing.T) {
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/xml")
		w.WriteHeader(http.StatusNotFound)
		_, _ = w.Write([]byte(`<?xml version="1.0" encoding="UTF-8"?><Error><Code>NoSuchKey</Code><Message>The specified key does not exist.</Message></Error>`))
	}))
	t.Cleanup(srv.Close)
	caFile := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(caFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}), 0o600); err != nil {
		t.Fatal(err)
	}
	base := "s3://backups?endpoint=" + srv.URL + "&region=us-east-1"
	get := func(url string) error {
		t.Helper()
		loc, err := ParseURL(url)
		if err != nil {
			t.Fatal(err)
		}
		b, err := Open(loc, Credentials{AccessKeyID: "id", SecretAccessKey: "secret"}, Options{MaxAttempts: 1})
		if err != nil {
			return err
		}
		_, err = b.Get(context.Background(), "x.json")
		return err
	}

	err := get(base)
	if errors.Is(err, ErrNotFound) || !strings.Contains(err.Error(), "certificate") {
		t.Errorf("an untrusted certificate was accepted, or the error does not say so: %v", err)
	}
	mustIs(t, get(base+"&ca-file="+caFile), ErrNotFound)
	mustIs(t, get(base+"&insecure-skip-tls-verify=true"), ErrNotFound)

	notPEM := filepath.Join(t.TempDir(), "not.pem")
	if err := os.WriteFile(notPEM, []byte("hello"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := get(base + "&ca-file=" + notPEM); err == nil || !strings.Contains(err.Error(), "holds no PEM certificate") {
		t.Errorf("a ca-file without certificates: %v", err)
	}
	if err := get(base + "&ca-file=/nonexistent/ca.pem"); err == nil || !strings.Contains(err.Error(), "reading ca-file") {
		t.Errorf("a missing ca-file: %v", err)
	}
}
