package dashboard

import (
	"crypto/subtle"
	"fmt"
	"net/http"
	"os"
	"strings"
)

// readToken reads the token file: its content without surrounding white
// space, which must not be empty.
func readToken(path string) ([]byte, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("--dashboard-token-file: %w", err)
	}
	token := strings.TrimSpace(string(data))
	if token == "" {
		return nil, fmt.Errorf("--dashboard-token-file %s is empty: put the token in it", path)
	}
	return []byte(token), nil
}

// authenticator lets a request through when it needs no credentials, or
// carries the token (Bearer, or Basic with the token as password, which a
// browser asks for), or a client certificate the TLS handshake verified.
// Anything else gets 401, on every path.
type authenticator struct {
	required bool
	token    []byte
	// clientCerts says the server verifies client certificates.
	clientCerts bool
}

func (a *authenticator) wrap(next http.Handler) http.Handler {
	if !a.required {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if a.allowed(r) {
			next.ServeHTTP(w, r)
			return
		}
		if a.token != nil {
			w.Header().Set("WWW-Authenticate", `Basic realm="kbackup", charset="UTF-8"`)
		}
		w.Header().Set("Cache-Control", "no-store")
		http.Error(w, "401 Unauthorized: this dashboard needs a token (Authorization: Bearer) or a client certificate", http.StatusUnauthorized)
	})
}

func (a *authenticator) allowed(r *http.Request) bool {
	if a.clientCerts && r.TLS != nil && len(r.TLS.VerifiedChains) > 0 {
		return true
	}
	if a.token == nil {
		return false
	}
	var given string
	if v, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer "); ok {
		given = strings.TrimSpace(v)
	} else if _, password, ok := r.BasicAuth(); ok {
		given = password
	} else {
		return false
	}
	return subtle.ConstantTimeCompare([]byte(given), a.token) == 1
}
