package provider_test

import (
	"context"
	"fmt"
	"regexp"
	"testing"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
)

// Bad input is refused at plan time, each with a diagnostic on the
// attribute, and nothing is created: the bucket stays empty.
func TestAccBadInputAtPlanTime(t *testing.T) {
	e := startAcc(t, "bad-input")
	schedule := func(body string) string {
		return e.providerBlock() + fmt.Sprintf(`
resource "kbackup_schedule" "s" {
  name    = "nightly"
  cluster = "bad-input"
%s
}
`, body)
	}
	cases := []struct {
		name, config string
		want         *regexp.Regexp
	}{
		{"invalid cron", schedule(`  cron = "0 25 * * *"`), regexp.MustCompile(`(?s)Invalid cron.*kbackup_schedule.s.*not a cron schedule`)},
		{"unknown time zone", schedule(`  cron = "0 2 * * *"
  time_zone = "Mars/Olympus"`), regexp.MustCompile(`(?s)Invalid time_zone.*Mars/Olympus.*not in the time zone\s+database`)},
		{"negative keep", e.providerBlock() + `
resource "kbackup_retention_policy" "p" {
  name      = "p"
  keep_last = -1
}`, regexp.MustCompile(`(?s)keep_last.*must be at least 0`)},
		{"cluster name not a DNS label", e.providerBlock() + `
resource "kbackup_cluster" "c" {
  name = "Prod_EU"
  uid  = "1234"
}`, regexp.MustCompile(`(?s)Invalid name.*Prod_EU.*RFC 1123`)},
		{"kubernetes block with neither config nor host", e.providerBlock() + `
resource "kbackup_cluster" "c" {
  name = "prod-eu"
  kubernetes {
    config_context = "prod"
  }
}`, regexp.MustCompile(`(?s)Incomplete kubernetes block.*config_path`)},
		{"the repository's policy scoped to a cluster", e.providerBlock() + `
resource "kbackup_retention_policy" "p" {
  name      = "default"
  keep_last = 3
  clusters  = ["prod-eu"]
}`, regexp.MustCompile(`(?s)Invalid clusters.*kbackup_retention_policy.p.*whole\s+repository's`)},
		{"a token's version without the token", e.providerBlock() + `
resource "kbackup_cluster" "c" {
  name = "prod-eu"
  kubernetes {
    host             = "https://127.0.0.1:6443"
    token_wo_version = 2
  }
}`, regexp.MustCompile(`(?s)token_wo_version.*token_wo`)},
		{"no identity", e.providerBlock() + `
resource "kbackup_cluster" "c" {
  name = "prod-eu"
}`, regexp.MustCompile(`(?s)Missing cluster identity.*kubernetes block, or uid`)},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			resource.Test(t, resource.TestCase{
				ProtoV6ProviderFactories: providerFactories,
				Steps:                    []resource.TestStep{{Config: c.config, PlanOnly: true, ExpectError: c.want}},
			})
		})
	}
	for obj := range e.S3.Client().ListObjects(context.Background(), e.bucket, minioList()) {
		t.Fatalf("the bucket is not empty after refused plans: %q %v", obj.Key, obj.Err)
	}
}
