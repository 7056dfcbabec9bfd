package storage

import (
	"bytes"
	"cmp"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"iter"
	"net"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"

	"github.com/kbackup/kbackup/core/version"
)

// s3Backend keeps objects in an S3 bucket through minio-go.
//
// Each request is retried by minio-go (Options.MaxAttempts, with
// exponential backoff capped at 1 s), and all requests go through the
// endpoint's circuit breaker (Breaker).
type s3Backend struct {
	client   *minio.Client
	bucket   string
	where    string
	opts     Options
	breaker  *Breaker
	scrub    scrubber
	describe func(string) string
}

var _ Backend = (*s3Backend)(nil)

func newS3Backend(loc Location, creds Credentials, opts Options) (*s3Backend, error) {
	endpoint, err := url.Parse(loc.EndpointURL())
	if err != nil {
		return nil, invalidf("storage location %s: endpoint: %v", loc.Display(), err)
	}
	secure := endpoint.Scheme == "https"
	transport, err := minio.DefaultTransport(secure)
	if err != nil {
		return nil, fmt.Errorf("storage location %s: %w", loc.Display(), err)
	}
	transport.DialContext = (&net.Dialer{Timeout: opts.DialTimeout, KeepAlive: 30 * time.Second}).DialContext
	transport.ResponseHeaderTimeout = opts.ResponseTimeout
	transport.TLSHandshakeTimeout = 10 * time.Second
	if secure {
		tlsConfig, err := tlsConfigFor(loc)
		if err != nil {
			return nil, fmt.Errorf("storage location %s: %w", loc.Display(), err)
		}
		transport.TLSClientConfig = tlsConfig
	}
	chain := credentialsFor(loc, creds)
	if loc.Profile != "" {
		// Read the profile now, so that a missing one is a clear error
		// rather than every request failing.
		if _, err := chain.GetWithContext(nil); err != nil {
			file := os.Getenv("AWS_SHARED_CREDENTIALS_FILE")
			if file == "" {
				file = "~/.aws/credentials"
			}
			return nil, invalidf("storage location %s: profile=%s: %v in the AWS shared credentials file %s (AWS_SHARED_CREDENTIALS_FILE); give a profile that the file has", loc.Display(), loc.Profile, err, file)
		}
	}
	lookup := minio.BucketLookupAuto
	switch loc.BucketLookup {
	case BucketLookupPath:
		lookup = minio.BucketLookupPath
	case BucketLookupDNS:
		lookup = minio.BucketLookupDNS
	}
	client, err := minio.New(endpoint.Host, &minio.Options{
		Creds:        chain,
		Secure:       secure,
		Region:       loc.Region,
		BucketLookup: lookup,
		Transport:    attemptCountingTransport{transport},
		MaxRetries:   opts.MaxAttempts,
	})
	if err != nil {
		return nil, invalidf("storage location %s: %v", loc.Display(), scrubber(creds.secrets()).wrap(err))
	}
	client.SetAppInfo("kbackup", version.Get().Version)

	b := &s3Backend{
		client:   client,
		bucket:   loc.Bucket,
		where:    loc.Display(),
		opts:     opts,
		scrub:    creds.secrets(),
		breaker:  opts.Breaker,
		describe: opts.DescribeKey,
	}
	if creds.IsZero() {
		// The chain may take them from the environment.
		b.scrub = Credentials{
			AccessKeyID:     cmp.Or(os.Getenv("AWS_ACCESS_KEY_ID"), os.Getenv("AWS_ACCESS_KEY")),
			SecretAccessKey: cmp.Or(os.Getenv("AWS_SECRET_ACCESS_KEY"), os.Getenv("AWS_SECRET_KEY")),
			SessionToken:    os.Getenv("AWS_SESSION_TOKEN"),
		}.secrets()
	}
	if k := opts.Encryption.CustomerKey; len(k) > 0 {
		b.scrub = append(b.scrub, base64.StdEncoding.EncodeToString(k), string(k))
	}
	if b.breaker == nil {
		b.breaker = NewBreaker(b.where, opts)
	}
	return b, nil
}

func tlsConfigFor(loc Location) (*tls.Config, error) {
	cfg := &tls.Config{MinVersion: tls.VersionTLS12, InsecureSkipVerify: loc.InsecureSkipTLSVerify}
	if loc.CAFile == "" {
		return cfg, nil
	}
	pem, err := os.ReadFile(loc.CAFile)
	if err != nil {
		return nil, fmt.Errorf("reading ca-file: %w", err)
	}
	pool, err := x509.SystemCertPool()
	if err != nil {
		pool = x509.NewCertPool()
	}
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("ca-file %s holds no PEM certificate", loc.CAFile)
	}
	cfg.RootCAs = pool
	return cfg, nil
}

// credentialsFor returns the location's profile when it names one, static
// credentials when given, or the usual chain. The instance-role provider
// (which asks the EC2 metadata address) is only tried against AWS itself.
func credentialsFor(loc Location, creds Credentials) *credentials.Credentials {
	if loc.Profile != "" {
		// Only the profile: falling back to other keys would send them to
		// a server they were not meant for.
		return credentials.New(&credentials.FileAWSCredentials{Profile: loc.Profile})
	}
	if !creds.IsZero() {
		return credentials.NewStaticV4(creds.AccessKeyID, creds.SecretAccessKey, creds.SessionToken)
	}
	providers := []credentials.Provider{&credentials.EnvAWS{}, &credentials.FileAWSCredentials{}}
	if loc.Endpoint == "" {
		providers = append(providers, &credentials.IAM{})
	}
	return credentials.NewChainCredentials(providers)
}

func (b *s3Backend) String() string { return b.where }

// call runs one request through the circuit breaker and turns its error
// into an *OpError. The request gets a context that is cancelled when it
// makes no progress for StallTimeout; request reports progress through
// progressFrom(ctx).
func (b *s3Backend) call(ctx context.Context, op, key string, request func(context.Context) error) error {
	return b.callSending(ctx, op, key, 0, request)
}

// minUploadRate is the slowest upload that callSending allows for: an
// upload gets StallTimeout plus its size at this rate. An upload reports no
// progress, since minio-go reads the body to sign it before sending it
// and seeks back to retry, so reads do not tell what reached the server.
const minUploadRate = 256 << 10 // bytes per second

// callSending is call for a request that uploads size bytes.
func (b *s3Backend) callSending(ctx context.Context, op, key string, size int64, request func(context.Context) error) error {
	done, err := b.breaker.allow()
	if err != nil {
		return b.opError(op, key, err)
	}
	start := time.Now()
	timeout := b.opts.StallTimeout + time.Duration(size)*time.Second/minUploadRate
	watched, stall := watchStalls(ctx, timeout)
	err = request(watched)
	stall.stop()
	if err != nil && stall.fired() {
		err = &stalledError{err: fmt.Errorf("no progress for %s: %w", roundDuration(timeout), err)}
	}
	outcome := b.breakerOutcome(ctx, err)
	scrubbed := ""
	if outcome != nil && outcome != errExcluded {
		scrubbed = b.scrub.text(err.Error())
	}
	done(outcome, scrubbed)
	if err == nil {
		return nil
	}
	return b.opError(op, key, b.classify(ctx, err, time.Since(start)))
}

func (b *s3Backend) opError(op, key string, err error) error {
	return &OpError{Op: op, What: describe(b.describe, key), Key: key, Location: b.where, Err: err}
}

// breakerOutcome is what the breaker counts: a failure only when the
// storage is unreachable or failing, not when it answered.
func (b *s3Backend) breakerOutcome(ctx context.Context, err error) error {
	switch {
	case err == nil:
		return nil
	case ctx.Err() != nil:
		return errExcluded
	case storageFailure(err):
		return err
	}
	return nil
}

// storageFailure says whether err means the storage is unreachable or
// failing, rather than an answer about the request.
func storageFailure(err error) bool {
	var stalled *stalledError
	if errors.As(err, &stalled) {
		return true
	}
	var resp minio.ErrorResponse
	if !errors.As(err, &resp) {
		// Not an S3 answer: connection refused, timeouts, TLS, resets.
		return true
	}
	switch resp.Code {
	case "RequestTimeout", "SlowDown", "Throttling", "ThrottlingException", "RequestLimitExceeded",
		"RequestThrottled", "InternalError", "ServiceUnavailable":
		return true
	}
	return resp.StatusCode >= 500 || resp.StatusCode == http.StatusTooManyRequests ||
		resp.StatusCode == http.StatusRequestTimeout
}

// classify maps an S3 error to the package's sentinels, with the secrets
// scrubbed from its text.
func (b *s3Backend) classify(ctx context.Context, err error, elapsed time.Duration) error {
	if ctx.Err() != nil {
		return b.scrub.wrap(err)
	}
	var resp minio.ErrorResponse
	if errors.As(err, &resp) {
		switch resp.Code {
		case "NoSuchKey":
			return ErrNotFound
		case "NoSuchBucket":
			return fmt.Errorf("%w: bucket %s; create it, or let kbackup create it (storage.auto_create_bucket)", ErrBucketNotFound, b.bucket)
		case "PreconditionFailed", "ConditionalRequestConflict":
			return ErrAlreadyExists
		}
		switch {
		case resp.StatusCode == http.StatusUnauthorized, resp.StatusCode == http.StatusForbidden,
			resp.Code == "InvalidAccessKeyId", resp.Code == "SignatureDoesNotMatch", resp.Code == "InvalidToken", resp.Code == "ExpiredToken":
			return fmt.Errorf("%s: %w (check the credentials: AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or the access key flags; and the bucket policy)",
				resp.Code, b.scrub.wrap(err))
		}
		if resp.StatusCode == http.StatusNotFound && resp.Code == "" {
			return ErrNotFound
		}
	}
	if storageFailure(err) {
		return fmt.Errorf("%w (gave up after %s): %w", ErrStorageUnavailable, roundDuration(elapsed), b.scrub.wrap(err))
	}
	if resp.Code != "" {
		return fmt.Errorf("%s: %w", resp.Code, b.scrub.wrap(err))
	}
	return b.scrub.wrap(err)
}

func (b *s3Backend) Get(ctx context.Context, key string) ([]byte, error) {
	var data []byte
	err := b.call(ctx, opRead, key, func(ctx context.Context) error {
		opts, err := b.getOptions(key)
		if err != nil {
			return err
		}
		obj, err := b.client.GetObject(ctx, b.bucket, key, opts)
		if err != nil {
			return err
		}
		defer obj.Close()
		data, err = io.ReadAll(progressReader{obj, progressFrom(ctx)})
		return err
	})
	if err != nil {
		return nil, err
	}
	return data, nil
}

// getOptions are the options of every GET, Get's and GetAtMost's.
// getOptions are the options of every GET of key: the customer key under
// SSE-C.
func (b *s3Backend) getOptions(key string) (minio.GetObjectOptions, error) {
	sse, err := b.opts.Encryption.forRead(key)
	return minio.GetObjectOptions{ServerSideEncryption: sse}, err
}

func contentType(key string) string {
	switch {
	case strings.HasSuffix(key, ".json"):
		return "application/json"
	case strings.HasSuffix(key, ".zst"):
		return "application/zstd"
	}
	return "application/octet-stream"
}

func (b *s3Backend) Put(ctx context.Context, key string, data []byte) error {
	return b.callSending(ctx, opWrite, key, int64(len(data)), func(ctx context.Context) error {
		sse, err := b.opts.Encryption.forWrite(key)
		if err != nil {
			return err
		}
		// One PUT, whatever the size (S3 takes up to 5 GiB; packs are at
		// most 1 GiB): minio-go's multipart upload of data over 16 MiB
		// copies it into a 16 MiB buffer per upload thread, four of them.
		_, err = b.client.PutObject(ctx, b.bucket, key, bytes.NewReader(data), int64(len(data)),
			minio.PutObjectOptions{ContentType: contentType(key), DisableMultipart: true, ServerSideEncryption: sse})
		return err
	})
}

func (b *s3Backend) PutIfAbsent(ctx context.Context, key string, data []byte) error {
	var attempts atomic.Int32
	err := b.callSending(ctx, opCreate, key, int64(len(data)), func(ctx context.Context) error {
		sse, err := b.opts.Encryption.forWrite(key)
		if err != nil {
			return err
		}
		opts := minio.PutObjectOptions{ContentType: contentType(key), DisableMultipart: true, ServerSideEncryption: sse}
		// If-None-Match: * makes the server refuse the write when the
		// key exists, atomically (S3 conditional writes).
		opts.SetMatchETagExcept("*")
		_, err = b.client.PutObject(withAttemptCounter(ctx, &attempts), b.bucket, key, bytes.NewReader(data), int64(len(data)), opts)
		return err
	})
	if !errors.Is(err, ErrAlreadyExists) || attempts.Load() < 2 {
		return err
	}
	// minio-go retried the PUT after a transport error or a response
	// timeout: the conflict may be with its own first attempt, which
	// landed. It is one when the key holds exactly these bytes.
	if stored, getErr := b.Get(ctx, key); getErr == nil && bytes.Equal(stored, data) {
		return nil
	}
	return err
}

type attemptCounterKey struct{}

// withAttemptCounter makes the transport count, in n, the attempts of the
// requests made with the returned context.
func withAttemptCounter(ctx context.Context, n *atomic.Int32) context.Context {
	return context.WithValue(ctx, attemptCounterKey{}, n)
}

// attemptCountingTransport counts each HTTP attempt of a request whose
// context carries a counter (withAttemptCounter).
type attemptCountingTransport struct{ base http.RoundTripper }

func (t attemptCountingTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if n, ok := req.Context().Value(attemptCounterKey{}).(*atomic.Int32); ok {
		n.Add(1)
	}
	return t.base.RoundTrip(req)
}

func (b *s3Backend) Stat(ctx context.Context, key string) (ObjectInfo, error) {
	var info ObjectInfo
	err := b.call(ctx, opStat, key, func(ctx context.Context) error {
		sse, err := b.opts.Encryption.forRead(key)
		if err != nil {
			return err
		}
		st, err := b.client.StatObject(ctx, b.bucket, key, minio.StatObjectOptions{ServerSideEncryption: sse})
		if err != nil {
			return err
		}
		info = ObjectInfo{Key: key, Size: st.Size, ModTime: st.LastModified, Encryption: reportedEncryption(st.Metadata), ETag: strings.Trim(st.ETag, `"`)}
		return nil
	})
	return info, err
}

// reportedEncryption is the server-side encryption that a HEAD response's
// headers report.
func reportedEncryption(h http.Header) string {
	if h.Get("X-Amz-Server-Side-Encryption-Customer-Algorithm") != "" {
		return EncryptionSSEC
	}
	switch h.Get("X-Amz-Server-Side-Encryption") {
	case "AES256":
		return EncryptionSSES3
	case "aws:kms", "aws:kms:dsse":
		return EncryptionSSEKMS
	}
	return ""
}

// List reads the whole listing before yielding, and sorts it: S3 lists in
// key order, but S3-compatible servers on a file system may list a
// directory's entries before its siblings ("a/b" before "a.b").
func (b *s3Backend) List(ctx context.Context, prefix string) iter.Seq2[ObjectInfo, error] {
	return func(yield func(ObjectInfo, error) bool) {
		var objects []ObjectInfo
		err := b.call(ctx, opList, prefix, func(ctx context.Context) error {
			ctx, cancel := context.WithCancel(ctx)
			defer cancel() // stops minio-go's listing goroutine
			for obj := range b.client.ListObjects(ctx, b.bucket, minio.ListObjectsOptions{Prefix: prefix, Recursive: true}) {
				if obj.Err != nil {
					return obj.Err
				}
				objects = append(objects, ObjectInfo{Key: obj.Key, Size: obj.Size, ModTime: obj.LastModified, ETag: strings.Trim(obj.ETag, `"`)})
				progressFrom(ctx)()
			}
			return ctx.Err()
		})
		if err != nil {
			yield(ObjectInfo{}, err)
			return
		}
		slices.SortFunc(objects, func(a, b ObjectInfo) int { return strings.Compare(a.Key, b.Key) })
		for _, o := range objects {
			if !yield(o, nil) {
				return
			}
		}
	}
}

func (b *s3Backend) Delete(ctx context.Context, key string) error {
	return b.call(ctx, opDelete, key, func(ctx context.Context) error {
		err := b.client.RemoveObject(ctx, b.bucket, key, minio.RemoveObjectOptions{})
		var resp minio.ErrorResponse
		if errors.As(err, &resp) && resp.Code == "NoSuchKey" {
			return nil
		}
		return err
	})
}

// createBucket creates the bucket unless it exists; Open calls it when
// asked to (auto_create_bucket).
func (b *s3Backend) createBucket(ctx context.Context, region string) error {
	return b.call(ctx, opCreate, "", func(ctx context.Context) error {
		err := b.client.MakeBucket(ctx, b.bucket, minio.MakeBucketOptions{Region: region})
		var resp minio.ErrorResponse
		if errors.As(err, &resp) && (resp.Code == "BucketAlreadyOwnedByYou" || resp.Code == "BucketAlreadyExists") {
			exists, existsErr := b.client.BucketExists(ctx, b.bucket)
			if existsErr == nil && exists {
				return nil
			}
		}
		return err
	})
}

// firstKey finds any object under prefix from the first page of a listing.
func (b *s3Backend) firstKey(ctx context.Context, prefix string) (key string, found bool, err error) {
	err = b.call(ctx, opList, prefix, func(ctx context.Context) error {
		ctx, cancel := context.WithCancel(ctx)
		defer cancel()
		for obj := range b.client.ListObjects(ctx, b.bucket, minio.ListObjectsOptions{Prefix: prefix, Recursive: true, MaxKeys: 1}) {
			if obj.Err != nil {
				return obj.Err
			}
			key, found = obj.Key, true
			return nil
		}
		return ctx.Err()
	})
	return key, found, err
}

// roundDuration shortens a duration for messages without making a short
// one zero.
func roundDuration(d time.Duration) time.Duration {
	if d < time.Millisecond {
		return d.Round(time.Microsecond)
	}
	return d.Round(10 * time.Millisecond)
}
