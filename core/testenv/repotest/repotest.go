// Package repotest opens kbackup repositories in the test environment's S3
// server. It is apart from core/testenv because core/repo's own tests use
// testenv, so testenv cannot import core/repo.
package repotest

import (
	"fmt"

	"github.com/kbackup/kbackup/core/repo"
	"github.com/kbackup/kbackup/core/storage"
	"github.com/kbackup/kbackup/core/testenv"
)

// S3Options returns the repository options of bucket on s3, with the
// server's credentials. Create is set: a backup makes the repository.
func S3Options(s3 *testenv.S3Server, bucket string) repo.Options {
	loc, err := storage.ParseURL(s3.RepositoryURL(bucket))
	if err != nil {
		// RepositoryURL builds a URL that ParseURL takes; this is a bug.
		panic(fmt.Sprintf("repotest: repository URL of bucket %s: %v", bucket, err))
	}
	return repo.Options{
		Location:    loc,
		Credentials: storage.Credentials{AccessKeyID: s3.AccessKey, SecretAccessKey: s3.SecretKey},
		Create:      true,
	}
}
