package storage

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/kbackup/kbackup/core/testenv"
)

// The S3 server is shared by the package's tests and started on first use.
var shared = testenv.Shared{Options: testenv.Options{S3: true}}

func TestMain(m *testing.M) {
	code := m.Run()
	shared.Stop()
	os.Exit(code)
}

func sharedS3(t testing.TB) *testenv.S3Server {
	t.Helper()
	return shared.Get(t).S3
}

// store is a place objects can live: a location and its credentials.
type store struct {
	name  string
	loc   Location
	creds Credentials
}

// forEachStore runs fn against a fresh local directory and a fresh bucket
// on the real S3 server.
func forEachStore(t *testing.T, fn func(t *testing.T, s store)) {
	t.Run("local", func(t *testing.T) {
		fn(t, store{name: "local", loc: Location{Scheme: SchemeFile, Path: filepath.Join(t.TempDir(), "repo")}})
	})
	t.Run("s3", func(t *testing.T) { fn(t, s3Store(t, sharedS3(t))) })
}

func s3Store(t testing.TB, s3 *testenv.S3Server) store {
	loc, err := ParseURL(s3.RepositoryURL(s3.NewBucket(t)))
	if err != nil {
		t.Fatal(err)
	}
	loc.Region = s3.Region
	return store{name: "s3", loc: loc, creds: Credentials{AccessKeyID: s3.AccessKey, SecretAccessKey: s3.SecretKey}}
}

func listKeys(t testing.TB, b Backend, prefix string) []string {
	t.Helper()
	var keys []string
	for obj, err := range b.List(context.Background(), prefix) {
		if err != nil {
			t.Fatal(err)
		}
		keys = append(keys, obj.Key)
	}
	return keys
}

func mustIs(t testing.TB, err, target error) {
	t.Helper()
	if !errors.Is(err, target) {
		t.Fatalf("got error %v; want one wrapping %q", err, target)
	}
}
