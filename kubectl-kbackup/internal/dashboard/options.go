// Package dashboard is kbackup's web dashboard, which `serve` mounts: the
// fleet at a glance (freshness, last result, sizes), a cluster's backups
// and restores, and one backup's contents by namespace and type down to an
// object's YAML with Secret values masked. It is read-only and rendered on
// the server from Go templates (no JavaScript, no build step), and renders
// what core returns: core/fleetview for the fleet, core/repo and
// core/catalog for backups, core/diff's masking for Secrets.
//
// It listens on loopback by default. On any other address it requires a
// bearer token (--dashboard-token-file) or client certificates
// (--dashboard-client-ca), unless started with --insecure-no-auth.
package dashboard

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"strings"
	"time"

	"github.com/spf13/pflag"

	"github.com/kbackup/kbackup/core/fleetview"
)

// DefaultAddress is where the dashboard listens unless told otherwise:
// loopback, where it needs no credentials.
const DefaultAddress = "127.0.0.1:8081"

// DefaultRefresh is how long the fleet page serves one reading of the
// repository before reading it again.
const DefaultRefresh = 30 * time.Second

// Options configure the dashboard.
type Options struct {
	// Address is host:port to listen on.
	Address string
	// TokenFile holds the bearer token clients must send (Authorization:
	// Bearer <token>, or Basic with the token as password, which browsers
	// ask for).
	TokenFile string
	// ClientCAFile makes the server ask for client certificates signed by
	// these CAs (PEM); it needs TLSCertFile and TLSKeyFile.
	ClientCAFile string
	// TLSCertFile and TLSKeyFile serve HTTPS.
	TLSCertFile, TLSKeyFile string
	// InsecureNoAuth serves a non-loopback address without credentials.
	InsecureNoAuth bool
	// Refresh is how long one reading of the fleet is served (default 30 s).
	Refresh time.Duration
	// Fleet judges freshness as `kubectl kbackup clusters` does: the
	// configuration's schedules per environment, the max age and grace.
	Fleet fleetview.Options
}

// AddFlags registers the dashboard's flags.
func (o *Options) AddFlags(fs *pflag.FlagSet) {
	fs.StringVar(&o.Address, "dashboard-address", DefaultAddress, "Address (host:port) the web dashboard listens on. Any address but loopback needs --dashboard-token-file or --dashboard-client-ca, or --insecure-no-auth.")
	fs.StringVar(&o.TokenFile, "dashboard-token-file", "", "File holding the token the dashboard requires, as Authorization: Bearer <token> (or as the password of HTTP basic authentication, which browsers ask for).")
	fs.StringVar(&o.ClientCAFile, "dashboard-client-ca", "", "PEM file of the CAs whose client certificates the dashboard accepts (needs --dashboard-tls-cert and --dashboard-tls-key).")
	fs.StringVar(&o.TLSCertFile, "dashboard-tls-cert", "", "PEM certificate the dashboard serves HTTPS with.")
	fs.StringVar(&o.TLSKeyFile, "dashboard-tls-key", "", "PEM private key of --dashboard-tls-cert.")
	fs.BoolVar(&o.InsecureNoAuth, "insecure-no-auth", false, "Serve the dashboard on a non-loopback address without a token or client certificates: anyone who reaches it reads the fleet's backups (Secret values stay masked).")
}

// Validate checks the options: an address, TLS files in pairs, and on any
// address but loopback a token or client CA unless InsecureNoAuth.
func (o *Options) Validate() error {
	host, port, err := net.SplitHostPort(o.Address)
	if err != nil {
		return fmt.Errorf("--dashboard-address %q: want host:port, such as %s or 0.0.0.0:8081: %v", o.Address, DefaultAddress, err)
	}
	if port == "" {
		return fmt.Errorf("--dashboard-address %q: the port is missing", o.Address)
	}
	var errs []error
	if (o.TLSCertFile == "") != (o.TLSKeyFile == "") {
		errs = append(errs, errors.New("--dashboard-tls-cert and --dashboard-tls-key go together: give both, or neither"))
	}
	if o.ClientCAFile != "" && o.TLSCertFile == "" {
		errs = append(errs, errors.New("--dashboard-client-ca needs --dashboard-tls-cert and --dashboard-tls-key: client certificates are asked for over HTTPS"))
	}
	for flag, path := range map[string]string{"--dashboard-token-file": o.TokenFile, "--dashboard-client-ca": o.ClientCAFile, "--dashboard-tls-cert": o.TLSCertFile, "--dashboard-tls-key": o.TLSKeyFile} {
		if path == "" {
			continue
		}
		if _, err := os.Stat(path); err != nil {
			errs = append(errs, fmt.Errorf("%s: %v", flag, err))
		}
	}
	if !isLoopback(host) && o.TokenFile == "" && o.ClientCAFile == "" && !o.InsecureNoAuth {
		errs = append(errs, fmt.Errorf("--dashboard-address %s is not a loopback address: give --dashboard-token-file or --dashboard-client-ca so that only those who hold them read the fleet's backups, or accept that anyone who reaches it can with --insecure-no-auth", o.Address))
	}
	return errors.Join(errs...)
}

// isLoopback says whether host (of host:port) is a loopback address or
// localhost. An empty host listens on every interface: not loopback.
func isLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	addr, err := netip.ParseAddr(strings.Trim(host, "[]"))
	return err == nil && addr.IsLoopback()
}

// needsAuth says whether requests must carry credentials.
func (o *Options) needsAuth() bool {
	host, _, err := net.SplitHostPort(o.Address)
	return o.TokenFile != "" || o.ClientCAFile != "" || (!o.InsecureNoAuth && (err != nil || !isLoopback(host)))
}
