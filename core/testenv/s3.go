package testenv

import (
	"context"
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
)

// S3Server is a real S3 server (versitygw with its posix backend) on a
// loopback port, with credentials of its own.
type S3Server struct {
	// Endpoint is the server URL, http://127.0.0.1:<port>.
	Endpoint  string
	AccessKey string
	SecretKey string
	Region    string

	dir     string
	proc    *process
	buckets atomic.Int64
}

func startS3(ctx context.Context, dir string) (_ *S3Server, err error) {
	return startS3WithKeys(ctx, dir, "kb"+randomToken()[:18], randomToken()+randomToken()[:8])
}

func startS3WithKeys(ctx context.Context, dir, accessKey, secretKey string) (_ *S3Server, err error) {
	bin, err := BinaryPath(BinVersityGW)
	if err != nil {
		return nil, err
	}
	root := filepath.Join(dir, "root")
	versions := filepath.Join(dir, "versions")
	for _, d := range []string{root, versions} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return nil, err
		}
	}
	s := &S3Server{
		AccessKey: accessKey,
		SecretKey: secretKey,
		Region:    "us-east-1",
		dir:       dir,
	}
	const attempts = 3
	for attempt := 1; ; attempt++ {
		port, err := freePort()
		if err != nil {
			return nil, err
		}
		s.Endpoint = "http://" + hostPort(port)
		logPath := filepath.Join(dir, "versitygw.log")
		err = s.launch(ctx, bin, port, logPath)
		if err == nil {
			return s, nil
		}
		if attempt < attempts && logMentions(logPath, "address already in use") {
			continue
		}
		return nil, err
	}
}

// launch starts versitygw on port, over the server's directories, and
// waits until it answers.
func (s *S3Server) launch(ctx context.Context, bin string, port int, logPath string) error {
	// Credentials go through the environment, not argv, so they do not
	// show in the process list.
	env := []string{"ROOT_ACCESS_KEY=" + s.AccessKey, "ROOT_SECRET_KEY=" + s.SecretKey}
	proc, err := startProcess("versitygw (S3)", logPath, env, bin,
		"--port", hostPort(port), "--region", s.Region,
		"posix", "--versioning-dir", filepath.Join(s.dir, "versions"), filepath.Join(s.dir, "root"))
	if err != nil {
		return err
	}
	s.proc = proc
	err = proc.waitReady(ctx, 30*time.Second, func(ctx context.Context) error {
		_, err := s.Client().ListBuckets(ctx)
		return err
	})
	if err != nil {
		proc.stop()
	}
	return err
}

// Kill ends the server at once (SIGKILL), as a crash or a power cut
// would: requests in flight get a reset connection.
func (s *S3Server) Kill() {
	if s.proc == nil {
		return
	}
	if done, _ := s.proc.exited(); done {
		return
	}
	_ = syscall.Kill(-s.proc.cmd.Process.Pid, syscall.SIGKILL)
	<-s.proc.done
}

// Restart starts the server again, after Kill, on the same port and
// directories, and waits until it answers.
func (s *S3Server) Restart(ctx context.Context) error {
	bin, err := BinaryPath(BinVersityGW)
	if err != nil {
		return err
	}
	_, portText, err := net.SplitHostPort(s.Host())
	if err != nil {
		return err
	}
	port, err := strconv.Atoi(portText)
	if err != nil {
		return err
	}
	return s.launch(ctx, bin, port, filepath.Join(s.dir, fmt.Sprintf("versitygw-restart-%d.log", time.Now().UnixNano())))
}

// Host is the server's host:port.
func (s *S3Server) Host() string {
	u, _ := url.Parse(s.Endpoint)
	return u.Host
}

// Client returns a minio-go client for the server.
func (s *S3Server) Client() *minio.Client {
	c, err := minio.New(s.Host(), &minio.Options{
		Creds:        credentials.NewStaticV4(s.AccessKey, s.SecretKey, ""),
		Secure:       false,
		Region:       s.Region,
		BucketLookup: minio.BucketLookupPath,
	})
	if err != nil {
		panic(fmt.Sprintf("testenv: minio client for %s: %v", s.Endpoint, err))
	}
	return c
}

// CreateBucket creates a bucket with a new unique name starting with prefix
// and returns the name.
func (s *S3Server) CreateBucket(ctx context.Context, prefix string) (string, error) {
	name := strings.ToLower(prefix) + "-" + fmt.Sprint(s.buckets.Add(1)) + "-" + randomToken()[:6]
	if err := s.Client().MakeBucket(ctx, name, minio.MakeBucketOptions{Region: s.Region}); err != nil {
		return "", fmt.Errorf("creating bucket %s on %s: %w", name, s.Endpoint, err)
	}
	return name, nil
}

// NewBucket creates a fresh bucket for the test, named after it.
func (s *S3Server) NewBucket(t testing.TB) string {
	t.Helper()
	name, err := s.CreateBucket(context.Background(), bucketPrefix(t.Name()))
	if err != nil {
		t.Fatal(err)
	}
	return name
}

// bucketPrefix turns a test name into the start of a valid bucket name:
// lower-case letters, digits and single hyphens, at most 30 characters.
func bucketPrefix(testName string) string {
	var b strings.Builder
	hyphen := false
	for _, r := range strings.ToLower(testName) {
		if b.Len() >= 30 {
			break
		}
		if (r >= 'a' && r <= 'z') || (r >= '0' && r <= '9') {
			if hyphen && b.Len() > 0 {
				b.WriteByte('-')
			}
			b.WriteRune(r)
			hyphen = false
		} else {
			hyphen = true
		}
	}
	if b.Len() < 3 {
		return "kbackup"
	}
	return b.String()
}

// RepositoryURL is the kbackup repository URL of bucket on this server.
func (s *S3Server) RepositoryURL(bucket string) string {
	return "s3://" + bucket + "?endpoint=" + s.Endpoint
}

// Env returns the variables kbackup reads for S3 credentials.
func (s *S3Server) Env() []string {
	return []string{
		"AWS_ACCESS_KEY_ID=" + s.AccessKey,
		"AWS_SECRET_ACCESS_KEY=" + s.SecretKey,
		"AWS_REGION=" + s.Region,
	}
}

// Stop stops the server; tests use it to make storage fail in the middle of
// an operation. Stopping twice is harmless.
func (s *S3Server) Stop() { s.proc.stop() }

// Ping reports whether the server answers.
func (s *S3Server) Ping(ctx context.Context) error {
	d := net.Dialer{Timeout: time.Second}
	conn, err := d.DialContext(ctx, "tcp", s.Host())
	if err != nil {
		return err
	}
	return conn.Close()
}
