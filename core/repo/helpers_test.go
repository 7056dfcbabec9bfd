package repo

import (
	"bytes"
	"context"
	"errors"
	"io"
	"iter"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/kbackup/kbackup/core/storage"
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

// store is a place a repository can live, with raw access to its objects
// that bypasses the package, to corrupt or inspect them.
type store struct {
	name   string
	opts   Options
	rawGet func(t testing.TB, key string) []byte
	rawPut func(t testing.TB, key string, data []byte)
	rawDel func(t testing.TB, key string)
}

// forEachStore runs fn against a fresh local directory and a fresh bucket
// on the real S3 server.
func forEachStore(t *testing.T, fn func(t *testing.T, s store)) {
	t.Run("local", func(t *testing.T) { fn(t, localStore(t)) })
	t.Run("s3", func(t *testing.T) { fn(t, s3Store(t, sharedS3(t), "")) })
}

func localStore(t testing.TB) store {
	dir := filepath.Join(t.TempDir(), "repo")
	path := func(key string) string { return filepath.Join(dir, filepath.FromSlash(key)) }
	return store{
		name: "local",
		opts: Options{Location: storage.Location{Scheme: storage.SchemeFile, Path: dir}},
		rawGet: func(t testing.TB, key string) []byte {
			t.Helper()
			data, err := os.ReadFile(path(key))
			if err != nil {
				t.Fatal(err)
			}
			return data
		},
		rawPut: func(t testing.TB, key string, data []byte) {
			t.Helper()
			if err := os.MkdirAll(filepath.Dir(path(key)), 0o700); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(path(key), data, 0o600); err != nil {
				t.Fatal(err)
			}
		},
		rawDel: func(t testing.TB, key string) {
			t.Helper()
			if err := os.Remove(path(key)); err != nil {
				t.Fatal(err)
			}
		},
	}
}

func s3Store(t testing.TB, s3 *testenv.S3Server, prefix string) store {
	bucket := s3.NewBucket(t)
	loc, err := storage.ParseURL(s3.RepositoryURL(bucket))
	if err != nil {
		t.Fatal(err)
	}
	loc.Prefix = prefix
	loc.Region = s3.Region
	client := s3.Client()
	ctx := context.Background()
	return store{
		name: "s3",
		opts: Options{Location: loc, Credentials: storage.Credentials{AccessKeyID: s3.AccessKey, SecretAccessKey: s3.SecretKey}},
		rawGet: func(t testing.TB, key string) []byte {
			t.Helper()
			obj, err := client.GetObject(ctx, bucket, key, minio.GetObjectOptions{})
			if err != nil {
				t.Fatal(err)
			}
			defer obj.Close()
			data, err := io.ReadAll(obj)
			if err != nil {
				t.Fatal(err)
			}
			return data
		},
		rawPut: func(t testing.TB, key string, data []byte) {
			t.Helper()
			if _, err := client.PutObject(ctx, bucket, key, bytes.NewReader(data), int64(len(data)), minio.PutObjectOptions{}); err != nil {
				t.Fatal(err)
			}
		},
		rawDel: func(t testing.TB, key string) {
			t.Helper()
			if err := client.RemoveObject(ctx, bucket, key, minio.RemoveObjectOptions{}); err != nil {
				t.Fatal(err)
			}
		},
	}
}

func openRepo(t testing.TB, opts Options) *Repository {
	t.Helper()
	opts.Create = true
	r, err := Open(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// countingBackend counts the requests that reach the backend.
type countingBackend struct {
	storage.Backend
	gets, puts, creates, stats, lists, deletes atomic.Int64
}

func (c *countingBackend) Unwrap() storage.Backend { return c.Backend }

func (c *countingBackend) total() int64 {
	return c.gets.Load() + c.puts.Load() + c.creates.Load() + c.stats.Load() + c.lists.Load() + c.deletes.Load()
}

func (c *countingBackend) Get(ctx context.Context, key string) ([]byte, error) {
	c.gets.Add(1)
	return c.Backend.Get(ctx, key)
}

func (c *countingBackend) Put(ctx context.Context, key string, data []byte) error {
	c.puts.Add(1)
	return c.Backend.Put(ctx, key, data)
}

func (c *countingBackend) PutIfAbsent(ctx context.Context, key string, data []byte) error {
	c.creates.Add(1)
	return c.Backend.PutIfAbsent(ctx, key, data)
}

func (c *countingBackend) Stat(ctx context.Context, key string) (storage.ObjectInfo, error) {
	c.stats.Add(1)
	return c.Backend.Stat(ctx, key)
}

func (c *countingBackend) List(ctx context.Context, prefix string) iter.Seq2[storage.ObjectInfo, error] {
	c.lists.Add(1)
	return c.Backend.List(ctx, prefix)
}

func (c *countingBackend) Delete(ctx context.Context, key string) error {
	c.deletes.Add(1)
	return c.Backend.Delete(ctx, key)
}

func listKeys(t testing.TB, b storage.Backend, prefix string) []string {
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

// testManifest is a valid manifest of cluster with the given packs.
func testManifest(cluster, id string, started time.Time, phase Phase, packs ...PackEntry) *Manifest {
	return &Manifest{
		FormatVersion: FormatVersion,
		ID:            id,
		Name:          "test " + id,
		Cluster:       ClusterIdentity{Name: cluster, UID: "uid-" + cluster, Provider: "kind", KubernetesVersion: "v1.37.2", Server: "https://127.0.0.1:6443"},
		Phase:         phase,
		StartedAt:     started.UTC(),
		CompletedAt:   started.UTC().Add(time.Second),
		Stats:         Stats{Packs: len(packs)},
		Packs:         packs,
	}
}

func mustTime(t testing.TB, s string) time.Time {
	t.Helper()
	tm, err := time.Parse(time.RFC3339, s)
	if err != nil {
		t.Fatal(err)
	}
	return tm
}

var configMapGVK = schema.GroupVersionKind{Version: "v1", Kind: "ConfigMap"}
