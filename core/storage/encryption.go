package storage

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"log/slog"

	"github.com/minio/minio-go/v7/pkg/encrypt"
)

// Server-side encryption modes of an S3 repository.
const (
	// EncryptionSSES3: the server encrypts with keys it manages (AES256).
	EncryptionSSES3 = "sse-s3"
	// EncryptionSSEKMS: the server encrypts with a key of its KMS, named by
	// KMSKeyID (the server's default key when empty).
	EncryptionSSEKMS = "sse-kms"
	// EncryptionSSEC: the server encrypts with a key the client sends with
	// every request and does not keep.
	EncryptionSSEC = "sse-c"
)

// EncryptionModes are the modes Encryption.Mode takes, besides "" (none).
var EncryptionModes = []string{EncryptionSSES3, EncryptionSSEKMS, EncryptionSSEC}

// Encryption is server-side encryption of the objects of an S3 location.
// Its customer key is a secret: every way of printing an Encryption hides it.
type Encryption struct {
	// Mode is "" (none), EncryptionSSES3, EncryptionSSEKMS or
	// EncryptionSSEC.
	Mode string
	// KMSKeyID is the KMS key of EncryptionSSEKMS; "" for the server's
	// default.
	KMSKeyID string
	// CustomerKey is the 32-byte key of EncryptionSSEC.
	CustomerKey []byte
	// PlainKey is one object key that EncryptionSSEC leaves out: the
	// repository's config, so that a reader without the customer key
	// learns from it that one is needed. SSE-S3 and SSE-KMS apply to it
	// like to every object.
	PlainKey string
}

// Validate checks the mode and that it has what it needs.
func (e Encryption) Validate() error {
	switch e.Mode {
	case "":
		if e.KMSKeyID != "" || len(e.CustomerKey) > 0 {
			return invalidf("server-side encryption: a KMS key or a customer key is given but no mode; want mode sse-kms or sse-c")
		}
	case EncryptionSSES3:
		if e.KMSKeyID != "" || len(e.CustomerKey) > 0 {
			return invalidf("server-side encryption sse-s3 takes no key; give a KMS key with mode sse-kms, a customer key with sse-c")
		}
	case EncryptionSSEKMS:
		if len(e.CustomerKey) > 0 {
			return invalidf("server-side encryption sse-kms takes a KMS key ID, not a customer key")
		}
	case EncryptionSSEC:
		if len(e.CustomerKey) != 32 {
			return invalidf("server-side encryption sse-c needs a customer key of 32 bytes (256 bits), got %d bytes", len(e.CustomerKey))
		}
		if e.KMSKeyID != "" {
			return invalidf("server-side encryption sse-c takes a customer key, not a KMS key ID")
		}
	default:
		return invalidf("server-side encryption mode %q is not known; want one of sse-s3, sse-kms, sse-c", e.Mode)
	}
	return nil
}

// ParseCustomerKey reads an SSE-C key as given in a file or a variable: 32
// raw bytes, or their base64 (with or without padding, a final newline
// allowed).
func ParseCustomerKey(data []byte) ([]byte, error) {
	if len(data) == 32 {
		return data, nil
	}
	text := string(data)
	for len(text) > 0 && (text[len(text)-1] == '\n' || text[len(text)-1] == '\r') {
		text = text[:len(text)-1]
	}
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if key, err := enc.DecodeString(text); err == nil && len(key) == 32 {
			return key, nil
		}
	}
	return nil, invalidf("an SSE-C customer key is 32 bytes, raw or base64-encoded (openssl rand -base64 32); this one is neither (%d bytes)", len(data))
}

// CustomerKeySHA256 identifies the customer key without revealing it, so
// that a repository can record which key it was created with.
func (e Encryption) CustomerKeySHA256() string {
	if len(e.CustomerKey) == 0 {
		return ""
	}
	sum := sha256.Sum256(e.CustomerKey)
	return hex.EncodeToString(sum[:])
}

// forWrite is what a PUT of key sends; nil for none.
func (e Encryption) forWrite(key string) (encrypt.ServerSide, error) {
	switch e.Mode {
	case EncryptionSSES3:
		return encrypt.NewSSE(), nil
	case EncryptionSSEKMS:
		return encrypt.NewSSEKMS(e.KMSKeyID, nil)
	case EncryptionSSEC:
		if key == e.PlainKey {
			return nil, nil
		}
		return encrypt.NewSSEC(e.CustomerKey)
	}
	return nil, nil
}

// forRead is what a GET or HEAD of key sends: only SSE-C needs the key
// again.
func (e Encryption) forRead(key string) (encrypt.ServerSide, error) {
	if e.Mode != EncryptionSSEC || key == e.PlainKey {
		return nil, nil
	}
	return encrypt.NewSSEC(e.CustomerKey)
}

func (e Encryption) redacted() map[string]string {
	out := map[string]string{"mode": e.Mode}
	if e.KMSKeyID != "" {
		out["kmsKeyID"] = e.KMSKeyID
	}
	if len(e.CustomerKey) > 0 {
		out["customerKey"] = "REDACTED"
	}
	return out
}

// String never shows the customer key.
func (e Encryption) String() string {
	s := e.Mode
	if s == "" {
		s = "none"
	}
	if e.KMSKeyID != "" {
		s += " (KMS key " + e.KMSKeyID + ")"
	}
	if len(e.CustomerKey) > 0 {
		s += " (customer key REDACTED)"
	}
	return s
}

// GoString, Format, MarshalJSON and LogValue keep the key out of %#v, %+v,
// JSON and logs.
func (e Encryption) GoString() string { return "storage.Encryption{" + e.String() + "}" }

func (e Encryption) Format(f fmt.State, verb rune) { fmt.Fprint(f, e.String()) }

func (e Encryption) MarshalJSON() ([]byte, error) { return json.Marshal(e.redacted()) }

func (e Encryption) LogValue() slog.Value { return slog.StringValue(e.String()) }
