package storage

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// A location that names a profile uses that profile's keys, and only them:
// keys given for another location (the primary's) never reach its server.
func TestProfileGivesALocationItsOwnKeys(t *testing.T) {
	s3 := sharedS3(t)
	st := s3Store(t, s3)
	file := filepath.Join(t.TempDir(), "credentials")
	content := "[default]\naws_access_key_id = nobody\naws_secret_access_key = nothing\n\n" +
		"[dr]\naws_access_key_id = " + s3.AccessKey + "\naws_secret_access_key = " + s3.SecretKey + "\n"
	if err := os.WriteFile(file, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", file)
	ctx := context.Background()
	wrong := Credentials{AccessKeyID: "primary-key", SecretAccessKey: "primary-secret"}

	loc := st.loc
	loc.Profile = "dr"
	b, err := Open(loc, wrong, Options{})
	if err != nil {
		t.Fatalf("opening with profile dr: %v", err)
	}
	if err := b.Put(ctx, "probe", []byte("x")); err != nil {
		t.Fatalf("writing with profile dr's keys: %v", err)
	}

	loc.Profile = "missing"
	b, err = Open(loc, wrong, Options{})
	if err == nil {
		err = b.Put(ctx, "probe2", []byte("x"))
	}
	if err == nil {
		t.Fatal("a profile that the credentials file does not have was accepted (were the static keys used?)")
	}
	if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), "profile=missing") {
		t.Errorf("want an error naming profile=missing, got %v", err)
	}
	if strings.Contains(err.Error(), "primary-secret") {
		t.Errorf("the error shows a secret: %v", err)
	}
	t.Logf("missing profile: %v", err)
}

func TestParseURLProfile(t *testing.T) {
	loc, err := ParseURL("s3://dr-bucket/kb?endpoint=https://dr.example.com:9000&profile=dr")
	if err != nil {
		t.Fatal(err)
	}
	if loc.Profile != "dr" {
		t.Errorf("profile %q, want dr", loc.Profile)
	}
	if back, err := ParseURL(loc.String()); err != nil || back != loc {
		t.Errorf("%s does not parse back to itself: %+v, %v", loc, back, err)
	}
	if _, err := ParseURL("s3://b?profile="); err == nil || !strings.Contains(err.Error(), "profile is empty") {
		t.Errorf("an empty profile: %v", err)
	}
}
