package dashboard

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"time"
)

// Serve listens on o.Address and serves h until ctx ends, over HTTPS when
// o names a certificate (asking for client certificates when it names a
// client CA), then shuts down, giving open requests a few seconds.
func Serve(ctx context.Context, o Options, h http.Handler) error {
	srv := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
	}
	if o.TLSCertFile != "" {
		cfg, err := tlsConfig(o)
		if err != nil {
			return err
		}
		srv.TLSConfig = cfg
	}
	l, err := net.Listen("tcp", o.Address)
	if err != nil {
		return fmt.Errorf("dashboard: listening on %s: %w", o.Address, err)
	}
	return serveOn(ctx, srv, l, o.TLSCertFile != "")
}

func serveOn(ctx context.Context, srv *http.Server, l net.Listener, useTLS bool) error {
	done := make(chan error, 1)
	go func() {
		if useTLS {
			done <- srv.ServeTLS(l, "", "")
		} else {
			done <- srv.Serve(l)
		}
	}()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
	}
	shutdownCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	err := srv.Shutdown(shutdownCtx)
	if serveErr := <-done; !errors.Is(serveErr, http.ErrServerClosed) {
		err = errors.Join(err, serveErr)
	}
	return err
}

// tlsConfig loads the server's certificate and, when given, the client CAs.
// Client certificates are verified when presented, and a request without
// one may still come with the token (the authenticator decides).
func tlsConfig(o Options) (*tls.Config, error) {
	cert, err := tls.LoadX509KeyPair(o.TLSCertFile, o.TLSKeyFile)
	if err != nil {
		return nil, fmt.Errorf("--dashboard-tls-cert and --dashboard-tls-key: %w", err)
	}
	cfg := &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	if o.ClientCAFile != "" {
		pem, err := os.ReadFile(o.ClientCAFile)
		if err != nil {
			return nil, fmt.Errorf("--dashboard-client-ca: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("--dashboard-client-ca %s holds no PEM certificate", o.ClientCAFile)
		}
		cfg.ClientCAs = pool
		cfg.ClientAuth = tls.VerifyClientCertIfGiven
		if o.TokenFile == "" {
			cfg.ClientAuth = tls.RequireAndVerifyClientCert
		}
	}
	return cfg, nil
}
