package provider_test

import (
	"bytes"
	"context"
	"regexp"
	"testing"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/minio/minio-go/v7"

	"github.com/kbackup/kbackup/core/testenv"
)

// The provider's configuration fails on the attribute that names the
// repository when the repository cannot be reached, or is of a newer
// format than the provider reads.
func TestAccProviderConfigurationDiagnostics(t *testing.T) {
	e := startAcc(t)
	closed := testenv.ClosedAddress(t)
	newer := e.S3.NewBucket(t)
	config := []byte(`{"formatVersion": 99, "id": "future", "createdAt": "2030-01-01T00:00:00Z", "createdBy": "v9.0.0", "settings": {}}`)
	if _, err := e.S3.Client().PutObject(context.Background(), newer, "_kbackup.json", bytes.NewReader(config), int64(len(config)), minio.PutObjectOptions{}); err != nil {
		t.Fatal(err)
	}
	withStorage := func(url string) string {
		return `provider "kbackup" {
  storage = "` + url + `"
}
data "kbackup_clusters" "all" {}
`
	}
	for _, c := range []struct {
		name, config string
		want         *regexp.Regexp
	}{
		{"unreachable", withStorage("s3://backups?endpoint=http://" + closed), regexp.MustCompile(`(?s)Repository cannot be reached.*in provider "kbackup".*storage = `)},
		{"newer format", withStorage(e.S3.RepositoryURL(newer)), regexp.MustCompile(`(?s)Repository of a newer format.*in provider "kbackup".*storage = .*reads version 1`)},
		{"explicit credentials", `provider "kbackup" {
  bucket            = "` + newer + `"
  endpoint          = "` + e.S3.Endpoint + `"
  access_key_id     = "` + e.S3.AccessKey + `"
  secret_access_key = "` + e.S3.SecretKey + `"
}
data "kbackup_clusters" "all" {}
`, regexp.MustCompile(`(?s)Repository of a newer format.*bucket\s+= `)},
	} {
		t.Run(c.name, func(t *testing.T) {
			resource.Test(t, resource.TestCase{
				ProtoV6ProviderFactories: providerFactories,
				Steps:                    []resource.TestStep{{Config: c.config, PlanOnly: true, ExpectError: c.want}},
			})
		})
	}
}
