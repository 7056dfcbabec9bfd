package storage

import (
	"context"
	"errors"
	"fmt"
	"maps"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/lifecycle"
	"github.com/minio/minio-go/v7/pkg/sse"
	"github.com/minio/minio-go/v7/pkg/tags"
)

// ErrNotImplemented: the S3 server does not implement a bucket setting
// (versitygw answers so for lifecycle rules).
var ErrNotImplemented = errors.New("not implemented by the storage server")

// Bucket server-side encryption of BucketSettings.
const (
	BucketEncryptionSSES3  = "AES256"
	BucketEncryptionSSEKMS = "aws:kms"
)

// BucketSettings are the settings of an S3 bucket that the Terraform
// provider's kbackup_bucket declares.
type BucketSettings struct {
	// ObjectLock is chosen when the bucket is created; it turns on
	// versioning.
	ObjectLock bool
	Versioning bool
	Tags       map[string]string
	// Encryption is the default encryption: "", BucketEncryptionSSES3 or
	// BucketEncryptionSSEKMS with KMSKeyID.
	Encryption string
	KMSKeyID   string
	// Lifecycle rules expire objects; kbackup's own retention (prune) does
	// not need them.
	Lifecycle []LifecycleRule
}

// LifecycleRule expires objects under a prefix after some days.
type LifecycleRule struct {
	ID                       string
	Prefix                   string
	ExpirationDays           int
	NoncurrentExpirationDays int
}

func s3Of(b Backend) (*s3Backend, error) {
	s3, ok := Unwrap(b).(*s3Backend)
	if !ok {
		return nil, invalidf("%s is not an S3 bucket", b)
	}
	return s3, nil
}

// notImplemented marks a server's NotImplemented answer, naming the
// setting.
func notImplemented(what string, err error) error {
	var resp minio.ErrorResponse
	if errors.As(err, &resp) && (resp.Code == "NotImplemented" || resp.StatusCode == 501) {
		return fmt.Errorf("%s: %w (%s)", what, ErrNotImplemented, resp.Message)
	}
	return fmt.Errorf("%s: %w", what, err)
}

// CreateBucketWith creates the bucket of b with object lock when asked,
// then applies the settings.
func CreateBucketWith(ctx context.Context, b Backend, region string, s BucketSettings) error {
	s3, err := s3Of(b)
	if err != nil {
		return err
	}
	if err := s3.client.MakeBucket(ctx, s3.bucket, minio.MakeBucketOptions{Region: region, ObjectLocking: s.ObjectLock}); err != nil {
		return fmt.Errorf("creating bucket %s: %w", s3.where, err)
	}
	return ConfigureBucket(ctx, b, s)
}

// ConfigureBucket applies versioning, tags, encryption and lifecycle.
// Object lock cannot change after creation.
func ConfigureBucket(ctx context.Context, b Backend, s BucketSettings) error {
	s3, err := s3Of(b)
	if err != nil {
		return err
	}
	c, bucket := s3.client, s3.bucket
	if s.Versioning || s.ObjectLock {
		err = c.EnableVersioning(ctx, bucket)
	} else if current, getErr := c.GetBucketVersioning(ctx, bucket); getErr == nil && current.Status == "Enabled" {
		err = c.SuspendVersioning(ctx, bucket)
	}
	if err != nil {
		return notImplemented("versioning", err)
	}
	if len(s.Tags) > 0 {
		t, err := tags.NewTags(s.Tags, false)
		if err != nil {
			return invalidf("tags: %v", err)
		}
		err = c.SetBucketTagging(ctx, bucket, t)
		if err != nil {
			return notImplemented("tags", err)
		}
	} else if current, getErr := c.GetBucketTagging(ctx, bucket); getErr == nil && len(current.ToMap()) > 0 {
		if err := c.RemoveBucketTagging(ctx, bucket); err != nil && !isNoSuch(err) {
			return notImplemented("tags", err)
		}
	}
	switch s.Encryption {
	case "":
		// Remove only what is there: a server without default encryption
		// may not implement removing it either.
		if current, getErr := c.GetBucketEncryption(ctx, bucket); getErr == nil && len(current.Rules) > 0 {
			err = c.RemoveBucketEncryption(ctx, bucket)
		}
	case BucketEncryptionSSES3:
		err = c.SetBucketEncryption(ctx, bucket, sse.NewConfigurationSSES3())
	case BucketEncryptionSSEKMS:
		err = c.SetBucketEncryption(ctx, bucket, sse.NewConfigurationSSEKMS(s.KMSKeyID))
	default:
		return invalidf("server_side_encryption %q: want %s or %s", s.Encryption, BucketEncryptionSSES3, BucketEncryptionSSEKMS)
	}
	if err != nil {
		return notImplemented("server_side_encryption", err)
	}
	if len(s.Lifecycle) > 0 {
		cfg := lifecycle.NewConfiguration()
		for _, r := range s.Lifecycle {
			rule := lifecycle.Rule{ID: r.ID, Status: "Enabled", RuleFilter: lifecycle.Filter{Prefix: r.Prefix}}
			if r.ExpirationDays > 0 {
				rule.Expiration = lifecycle.Expiration{Days: lifecycle.ExpirationDays(r.ExpirationDays)}
			}
			if r.NoncurrentExpirationDays > 0 {
				rule.NoncurrentVersionExpiration = lifecycle.NoncurrentVersionExpiration{NoncurrentDays: lifecycle.ExpirationDays(r.NoncurrentExpirationDays)}
			}
			cfg.Rules = append(cfg.Rules, rule)
		}
		if err := c.SetBucketLifecycle(ctx, bucket, cfg); err != nil {
			return notImplemented("lifecycle_rule", err)
		}
	}
	return nil
}

func isNoSuch(err error) bool {
	var resp minio.ErrorResponse
	return errors.As(err, &resp) && (resp.StatusCode == 404 || resp.Code == "NoSuchTagSet" ||
		resp.Code == "ServerSideEncryptionConfigurationNotFoundError" || resp.Code == "NoSuchLifecycleConfiguration")
}

// ReadBucket reads the bucket's settings; ErrBucketNotFound when it does
// not exist. A setting the server does not implement reads as unset.
func ReadBucket(ctx context.Context, b Backend) (*BucketSettings, error) {
	s3, err := s3Of(b)
	if err != nil {
		return nil, err
	}
	c, bucket := s3.client, s3.bucket
	exists, err := c.BucketExists(ctx, bucket)
	if err != nil {
		return nil, fmt.Errorf("reading bucket %s: %w", s3.where, err)
	}
	if !exists {
		return nil, fmt.Errorf("bucket %s: %w", s3.where, ErrBucketNotFound)
	}
	s := &BucketSettings{}
	if v, err := c.GetBucketVersioning(ctx, bucket); err == nil {
		s.Versioning = v.Status == "Enabled"
	}
	if lock, _, _, _, err := c.GetObjectLockConfig(ctx, bucket); err == nil {
		s.ObjectLock = lock == "Enabled"
	}
	if t, err := c.GetBucketTagging(ctx, bucket); err == nil && len(t.ToMap()) > 0 {
		s.Tags = maps.Clone(t.ToMap())
	}
	if e, err := c.GetBucketEncryption(ctx, bucket); err == nil && len(e.Rules) > 0 {
		s.Encryption = e.Rules[0].Apply.SSEAlgorithm
		s.KMSKeyID = e.Rules[0].Apply.KmsMasterKeyID
	}
	if l, err := c.GetBucketLifecycle(ctx, bucket); err == nil && l != nil {
		for _, r := range l.Rules {
			s.Lifecycle = append(s.Lifecycle, LifecycleRule{ID: r.ID, Prefix: r.RuleFilter.Prefix,
				ExpirationDays: int(r.Expiration.Days), NoncurrentExpirationDays: int(r.NoncurrentVersionExpiration.NoncurrentDays)})
		}
	}
	return s, nil
}

// DeleteBucket removes the bucket. With force it first removes every
// object and version in it; without, a bucket that holds objects is
// refused by the server.
func DeleteBucket(ctx context.Context, b Backend, force bool) error {
	s3, err := s3Of(b)
	if err != nil {
		return err
	}
	c, bucket := s3.client, s3.bucket
	if force {
		var objects []minio.ObjectInfo
		for o := range c.ListObjects(ctx, bucket, minio.ListObjectsOptions{Recursive: true, WithVersions: true}) {
			if o.Err != nil {
				// A server without versions lists them plainly.
				objects = nil
				for o := range c.ListObjects(ctx, bucket, minio.ListObjectsOptions{Recursive: true}) {
					if o.Err != nil {
						return fmt.Errorf("listing bucket %s: %w", s3.where, o.Err)
					}
					objects = append(objects, o)
				}
				break
			}
			objects = append(objects, o)
		}
		for _, o := range objects {
			if err := c.RemoveObject(ctx, bucket, o.Key, minio.RemoveObjectOptions{VersionID: o.VersionID, GovernanceBypass: true}); err != nil {
				return fmt.Errorf("emptying bucket %s: %s: %w", s3.where, o.Key, err)
			}
		}
	}
	if err := c.RemoveBucket(ctx, bucket); err != nil {
		var resp minio.ErrorResponse
		if errors.As(err, &resp) && resp.Code == "BucketNotEmpty" {
			return fmt.Errorf("bucket %s holds objects; empty it first, or destroy it with force_destroy: %w", s3.where, err)
		}
		return fmt.Errorf("deleting bucket %s: %w", s3.where, err)
	}
	return nil
}
