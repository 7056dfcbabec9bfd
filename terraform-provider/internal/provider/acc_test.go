package provider_test

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hashicorp/terraform-plugin-framework/providerserver"
	"github.com/hashicorp/terraform-plugin-go/tfprotov6"
	"github.com/hashicorp/terraform-plugin-testing/terraform"
	"github.com/minio/minio-go/v7"

	"github.com/kbackup/kbackup/core/repo"
	"github.com/kbackup/kbackup/core/storage"
	"github.com/kbackup/kbackup/core/testenv"
	kbprovider "github.com/kbackup/kbackup/terraform-provider/internal/provider"
)

// accEnv is what an acceptance test runs against: real clusters, the S3
// server with a fresh bucket, and OpenTofu, with the S3 credentials in the
// environment as a user would have them.
type accEnv struct {
	*testenv.Env
	bucket string
}

func startAcc(t *testing.T, clusters ...string) *accEnv {
	t.Helper()
	env := testenv.Start(t, testenv.Options{ClusterNames: clusters, S3: true, OpenTofu: true})
	env.Tofu.Setenv(t)
	for _, kv := range env.S3.Env() {
		k, v, _ := strings.Cut(kv, "=")
		t.Setenv(k, v)
	}
	t.Setenv("KBACKUP_STORAGE", "")
	return &accEnv{Env: env, bucket: env.S3.NewBucket(t)}
}

var providerFactories = map[string]func() (tfprotov6.ProviderServer, error){
	"kbackup": providerserver.NewProtocol6WithError(kbprovider.New("test")()),
}

// providerBlock configures the provider on the test's bucket; the
// credentials come from AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY.
func (e *accEnv) providerBlock() string {
	return fmt.Sprintf(`provider "kbackup" {
  storage = %q
}
`, e.S3.RepositoryURL(e.bucket))
}

// kubernetesBlock reaches the named test cluster as its admin, by host and
// write-only token: nothing in the block lets a refresh or a destroy reach
// the cluster.
func (e *accEnv) kubernetesBlock(cluster string) string {
	return e.tokenBlock(cluster, fmt.Sprintf("%q", e.Cluster(cluster).AdminToken), 1)
}

// tokenBlock is a kubernetes block of host, the given write-only token (an
// expression, like a quoted string or var.token) and its version.
func (e *accEnv) tokenBlock(cluster, token string, version int) string {
	c := e.Cluster(cluster)
	return fmt.Sprintf(`  kubernetes {
    host                   = %q
    token_wo               = %s
    token_wo_version       = %d
    cluster_ca_certificate = %q
  }
`, c.Server, token, version, string(c.CAData))
}

// kubeconfigBlock reaches the named test cluster through a kubeconfig
// file (whose context is the cluster's name), which a refresh and a
// destroy read again: what drift detection in the cluster needs.
func (e *accEnv) kubeconfigBlock(t *testing.T, cluster string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "kubeconfig")
	if err := e.WriteKubeconfig(path); err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf(`  kubernetes {
    config_path    = %q
    config_context = %q
  }
`, path, cluster)
}

// repository opens the test's repository, as the plugin would.
func (e *accEnv) repository(t *testing.T) *repo.Repository {
	t.Helper()
	loc, err := storage.ParseURL(e.S3.RepositoryURL(e.bucket))
	if err != nil {
		t.Fatal(err)
	}
	r, err := repo.Open(context.Background(), repo.Options{Location: loc,
		Credentials: storage.Credentials{AccessKeyID: e.S3.AccessKey, SecretAccessKey: e.S3.SecretKey}})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// noSecretInState fails when the S3 secret key or a cluster's token is
// anywhere in the state but the kubernetes block's token itself.
func (e *accEnv) noSecretInState(s *terraform.State) error {
	for addr, rs := range s.RootModule().Resources {
		for k, v := range rs.Primary.Attributes {
			if strings.Contains(v, e.S3.SecretKey) {
				return fmt.Errorf("%s.%s holds the S3 secret key", addr, k)
			}
		}
	}
	return nil
}

func minioList() minio.ListObjectsOptions { return minio.ListObjectsOptions{Recursive: true} }
