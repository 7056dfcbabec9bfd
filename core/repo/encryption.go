package repo

import (
	"context"
	"fmt"

	"github.com/kbackup/kbackup/core/storage"
)

// openBackend opens the repository's storage with the given server-side
// encryption. The config object is left out of SSE-C, so that a reader
// without the key learns from it that one is needed.
func (r *Repository) openBackend(enc storage.Encryption) (storage.Backend, error) {
	storageOpts := r.opts.Storage
	storageOpts.DescribeKey = describeKey
	storageOpts.Encryption = enc
	storageOpts.Encryption.PlainKey = r.layout.Config()
	backend, err := storage.Open(r.location, r.opts.Credentials, storageOpts)
	if err != nil {
		return nil, err
	}
	if r.opts.WrapBackend != nil {
		backend = r.opts.WrapBackend(backend)
	}
	return backend, nil
}

func encryptionSettings(enc storage.Encryption) *EncryptionSettings {
	if enc.Mode == "" {
		return nil
	}
	return &EncryptionSettings{Mode: enc.Mode, KMSKeyID: enc.KMSKeyID, CustomerKeySHA256: enc.CustomerKeySHA256()}
}

// useEncryption reconciles the encryption asked for with the one the
// repository was created with: a writer that asks for none uses the
// repository's (so that every writer encrypts alike), and one that asks for
// another, or brings another customer key, is refused.
func (r *Repository) useEncryption(recorded *EncryptionSettings) error {
	given := r.opts.Storage.Encryption
	where := r.location.Display()
	switch {
	case recorded == nil && given.Mode == "":
		return nil
	case recorded == nil:
		return fmt.Errorf("%w: the repository at %s was created without server-side encryption, and %s is asked for; encryption is chosen when a repository is created: leave storage.encryption out for this one, or use a new repository",
			storage.ErrInvalid, where, given.Mode)
	case given.Mode == "" && recorded.Mode == storage.EncryptionSSEC:
		return fmt.Errorf("%w: the repository at %s is encrypted with a customer key (sse-c); give the key with storage.encryption.customer_key_file or KBACKUP_SSE_CUSTOMER_KEY",
			storage.ErrInvalid, where)
	case given.Mode == "":
		backend, err := r.openBackend(storage.Encryption{Mode: recorded.Mode, KMSKeyID: recorded.KMSKeyID})
		if err != nil {
			return err
		}
		r.backend = backend
		r.opts.Storage.Encryption = storage.Encryption{Mode: recorded.Mode, KMSKeyID: recorded.KMSKeyID}
		return nil
	case given.Mode != recorded.Mode || given.KMSKeyID != recorded.KMSKeyID:
		return fmt.Errorf("%w: the repository at %s is encrypted with %s, and %s is asked for; leave storage.encryption out to use the repository's, or use a new repository",
			storage.ErrInvalid, where, describeEncryption(recorded), describeEncryption(encryptionSettings(given)))
	case given.CustomerKeySHA256() != recorded.CustomerKeySHA256:
		return fmt.Errorf("%w: the customer key given is not the one the repository at %s was created with (sse-c); give that key",
			storage.ErrInvalid, where)
	}
	return nil
}

func describeEncryption(s *EncryptionSettings) string {
	if s.KMSKeyID != "" {
		return s.Mode + " (KMS key " + s.KMSKeyID + ")"
	}
	return s.Mode
}

// checkEncryption asks the server how it stored the probe object: a server
// that ignores the encryption headers (some S3-compatible ones do) would
// store every backup in clear.
func (r *Repository) checkEncryption(ctx context.Context, probeKey string) error {
	want := r.opts.Storage.Encryption.Mode
	if want == "" || r.opts.AcceptUnverifiedEncryption {
		return nil
	}
	info, err := r.backend.Stat(ctx, probeKey)
	if err != nil {
		return err
	}
	if info.Encryption != want {
		got := info.Encryption
		if got == "" {
			got = "none"
		}
		return fmt.Errorf("%w: the server of %s reports server-side encryption %s for an object written with %s: it may store backups unencrypted; use a server that supports %s, or accept it with storage.encryption.accept_unverified: true",
			storage.ErrInvalid, r.location.Display(), got, want, want)
	}
	return nil
}
