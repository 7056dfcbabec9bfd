package provider_test

import (
	"bytes"
	"context"
	"fmt"
	"regexp"
	"testing"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/terraform"
	"github.com/minio/minio-go/v7"
)

// kbackup_bucket against the real S3 server: create with versioning,
// object lock and tags; tags change in place; object lock replaces;
// import; force_destroy empties a bucket that holds objects; lifecycle
// rules, which versitygw does not implement, are reported on their block.
func TestAccBucket(t *testing.T) {
	e := startAcc(t)
	ctx := context.Background()
	name := "tf-bucket-" + fmt.Sprint(len(e.bucket)) + e.bucket[len(e.bucket)-6:]
	config := func(objectLock bool, team, extra string) string {
		return e.providerBlock() + fmt.Sprintf(`
resource "kbackup_bucket" "b" {
  bucket        = %q
  versioning    = true
  object_lock   = %t
  tags          = { team = %q }
  force_destroy = true
%s
}
`, name, objectLock, team, extra)
	}
	client := e.S3.Client()
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: providerFactories,
		CheckDestroy: func(*terraform.State) error {
			if ok, err := client.BucketExists(ctx, name); err != nil || ok {
				return fmt.Errorf("bucket %s still exists after destroy (%v)", name, err)
			}
			return nil
		},
		Steps: []resource.TestStep{
			{
				Config: config(false, "platform", ""),
				Check: resource.ComposeAggregateTestCheckFunc(
					resource.TestCheckResourceAttr("kbackup_bucket.b", "versioning", "true"),
					resource.TestCheckResourceAttr("kbackup_bucket.b", "tags.team", "platform"),
					func(*terraform.State) error {
						v, err := client.GetBucketVersioning(ctx, name)
						if err != nil || v.Status != "Enabled" {
							return fmt.Errorf("versioning of %s: %+v, %v", name, v, err)
						}
						data := []byte("backup")
						_, err = client.PutObject(ctx, name, "dev/_backups/x.json", bytes.NewReader(data), int64(len(data)), minio.PutObjectOptions{})
						return err
					},
				),
			},
			{
				Config: config(false, "storage", ""),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction("kbackup_bucket.b", plancheck.ResourceActionUpdate)}},
				Check: func(*terraform.State) error {
					tags, err := client.GetBucketTagging(ctx, name)
					if err != nil || tags.ToMap()["team"] != "storage" {
						return fmt.Errorf("tags of %s: %v, %v", name, tags, err)
					}
					return nil
				},
			},
			{ResourceName: "kbackup_bucket.b", ImportState: true, ImportStateId: name, ImportStateVerify: true,
				ImportStateVerifyIgnore: []string{"force_destroy"}},
			{
				// Object lock is chosen at creation: the bucket, with its
				// object, is replaced.
				Config: config(true, "storage", ""),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction("kbackup_bucket.b", plancheck.ResourceActionDestroyBeforeCreate)}},
				Check: resource.TestCheckResourceAttr("kbackup_bucket.b", "object_lock", "true"),
			},
			{
				Config: config(true, "storage", `  lifecycle_rule {
    id              = "expire"
    expiration_days = 90
  }`),
				ExpectError: regexp.MustCompile(`(?s)Not supported by the storage server.*lifecycle_rule.*not implemented`),
			},
		},
	})
}
