package storage

import (
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
)

// Credentials are the S3 access keys. They are kept apart from Location so
// that a location can be printed, stored in a manifest and logged. Every
// way of printing Credentials (fmt verbs, JSON, YAML, slog) hides the values
// and only says which are set.
//
// When all fields are empty, S3 uses the usual chain: the AWS_ACCESS_KEY_ID,
// AWS_SECRET_ACCESS_KEY and AWS_SESSION_TOKEN environment variables, then
// the shared credentials file (~/.aws/credentials, AWS_PROFILE), then, for
// AWS itself, the instance or pod role (IAM, IRSA).
type Credentials struct {
	AccessKeyID     string
	SecretAccessKey string
	SessionToken    string
}

// IsZero says whether no credential is set, so the chain is used.
func (c Credentials) IsZero() bool {
	return c.AccessKeyID == "" && c.SecretAccessKey == "" && c.SessionToken == ""
}

const redacted = "REDACTED"

func hide(s string) string {
	if s == "" {
		return ""
	}
	return redacted
}

func (c Credentials) String() string {
	return fmt.Sprintf("{AccessKeyID:%s SecretAccessKey:%s SessionToken:%s}",
		hide(c.AccessKeyID), hide(c.SecretAccessKey), hide(c.SessionToken))
}

func (c Credentials) GoString() string {
	return fmt.Sprintf("repo.Credentials{AccessKeyID:%q, SecretAccessKey:%q, SessionToken:%q}",
		hide(c.AccessKeyID), hide(c.SecretAccessKey), hide(c.SessionToken))
}

// Format covers every verb (%d and %x included, which would otherwise print
// the fields), so no formatting reaches the values.
func (c Credentials) Format(f fmt.State, verb rune) {
	if verb == 'v' && f.Flag('#') {
		_, _ = io.WriteString(f, c.GoString())
		return
	}
	_, _ = io.WriteString(f, c.String())
}

func (c Credentials) redactedFields() map[string]string {
	return map[string]string{
		"accessKeyID":     hide(c.AccessKeyID),
		"secretAccessKey": hide(c.SecretAccessKey),
		"sessionToken":    hide(c.SessionToken),
	}
}

func (c Credentials) MarshalJSON() ([]byte, error) { return json.Marshal(c.redactedFields()) }

// MarshalYAML serves go.yaml.in/yaml and gopkg.in/yaml.
func (c Credentials) MarshalYAML() (any, error) { return c.redactedFields(), nil }

func (c Credentials) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("accessKeyID", hide(c.AccessKeyID)),
		slog.String("secretAccessKey", hide(c.SecretAccessKey)),
		slog.String("sessionToken", hide(c.SessionToken)),
	)
}

// secrets lists the values that must never appear in an error.
func (c Credentials) secrets() []string {
	var out []string
	for _, s := range []string{c.AccessKeyID, c.SecretAccessKey, c.SessionToken} {
		// Very short values would match ordinary text; they are not
		// real keys anyway.
		if len(s) >= 4 {
			out = append(out, s)
		}
	}
	return out
}
