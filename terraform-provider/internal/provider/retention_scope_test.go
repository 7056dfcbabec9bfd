package provider_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/terraform"

	"github.com/kbackup/kbackup/core/backup"
	"github.com/kbackup/kbackup/core/kube"
	"github.com/kbackup/kbackup/core/prune"
	"github.com/kbackup/kbackup/core/repo"
	"github.com/kbackup/kbackup/core/storage"
)

// A kbackup_retention_policy scoped to one cluster prunes that cluster
// only, and the narrowest scope wins: prod-eu and prod-us are both prod,
// whose days (90) keep every backup and whose repository policy keeps
// the last 5; the policy scoped to prod-eu keeps its last one. Two
// backups of each cluster are taken and core's prune (what `kubectl
// kbackup prune --fleet` runs) leaves one of prod-eu and both of prod-us.
func TestAccRetentionPolicyScopedToCluster(t *testing.T) {
	e := startAcc(t, "prod-eu", "prod-us")
	ctx := context.Background()
	config := e.providerBlock() + fmt.Sprintf(`
resource "kbackup_repository" "this" {
  force_destroy = true
}

resource "kbackup_cluster" "eu" {
  name         = "prod-eu"
  environment  = "prod"
  install_rbac = false
%s
  depends_on = [kbackup_repository.this]
}

resource "kbackup_cluster" "us" {
  name         = "prod-us"
  environment  = "prod"
  install_rbac = false
%s
  depends_on = [kbackup_repository.this]
}

resource "kbackup_retention_policy" "repository" {
  name                = "default"
  keep_last           = 5
  days_by_environment = { prod = 90 }
  depends_on          = [kbackup_repository.this]
}

resource "kbackup_retention_policy" "eu" {
  name      = "prod-eu-last"
  keep_last = 1
  clusters  = [kbackup_cluster.eu.name]
}
`, e.kubeconfigBlock(t, "prod-eu"), e.kubeconfigBlock(t, "prod-us"))

	backupTwice := func(cluster string) error {
		c, err := kube.NewClient(e.Cluster(cluster).Config(), kube.ClientOptions{})
		if err != nil {
			return err
		}
		loc, err := storage.ParseURL(e.S3.RepositoryURL(e.bucket))
		if err != nil {
			return err
		}
		target := repo.NewChooser(repo.Options{Location: loc,
			Credentials: storage.Credentials{AccessKeyID: e.S3.AccessKey, SecretAccessKey: e.S3.SecretKey}})
		for range 2 {
			if _, err := backup.Run(ctx, c, target, backup.Options{ClusterName: cluster}); err != nil {
				return fmt.Errorf("backup of %s: %w", cluster, err)
			}
		}
		return nil
	}

	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: providerFactories,
		Steps: []resource.TestStep{
			{
				Config: config,
				Check: resource.ComposeAggregateTestCheckFunc(
					resource.TestCheckResourceAttr("kbackup_retention_policy.eu", "clusters.#", "1"),
					resource.TestCheckTypeSetElemAttr("kbackup_retention_policy.eu", "clusters.*", "prod-eu"),
					func(*terraform.State) error {
						for _, c := range []string{"prod-eu", "prod-us"} {
							if err := backupTwice(c); err != nil {
								return err
							}
						}
						r := e.repository(t)
						plans, err := prune.Plan(ctx, r, prune.Options{})
						if err != nil {
							return fmt.Errorf("prune plan: %w", err)
						}
						sources := map[string]string{}
						for _, p := range plans {
							if p.Policy != nil {
								sources[p.Cluster] = p.Policy.Source
							}
						}
						want := map[string]string{"prod-eu": "retention/prod-eu-last", "prod-us": "retention.days_by_environment.prod"}
						if fmt.Sprint(sources) != fmt.Sprint(want) {
							return fmt.Errorf("the policies that govern the clusters come from %v; want %v", sources, want)
						}
						if err := prune.Execute(ctx, r, plans); err != nil {
							return fmt.Errorf("prune: %w", err)
						}
						for cluster, n := range map[string]int{"prod-eu": 1, "prod-us": 2} {
							backups, err := e.repository(t).ListBackups(ctx, cluster)
							if err != nil || len(backups) != n {
								return fmt.Errorf("cluster %s has %d backups after the prune (%v); want %d", cluster, len(backups), err, n)
							}
						}
						return nil
					},
				),
			},
			{ResourceName: "kbackup_retention_policy.eu", ImportState: true, ImportStateVerify: true},
		},
	})
}
