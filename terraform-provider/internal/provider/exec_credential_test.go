package provider_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/terraform"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/kbackup/kbackup/core/install"
)

// A kubernetes block with host and an exec credential plugin: the command
// is kept in the state, not the token it prints, so a refresh runs it
// again and sees the ClusterRole deleted outside Terraform, the apply puts
// it back, and the destroy removes what was installed. The plugin is a
// script that prints the cluster's token as an ExecCredential, as aws eks
// get-token does.
func TestAccExecCredentialDetectsDrift(t *testing.T) {
	e := startAcc(t, "edge-ap")
	ctx := context.Background()
	workDirs := t.TempDir()
	t.Setenv("TF_ACC_TEMP_DIR", workDirs)
	c := e.Cluster("edge-ap")
	kc, err := kubernetes.NewForConfig(c.Config())
	if err != nil {
		t.Fatal(err)
	}
	plugin := filepath.Join(t.TempDir(), "get-token")
	script := fmt.Sprintf("#!/bin/sh\nprintf '%%s' '{\"apiVersion\":\"client.authentication.k8s.io/v1\",\"kind\":\"ExecCredential\",\"status\":{\"token\":\"%s\"}}'\n", c.AdminToken)
	if err := os.WriteFile(plugin, []byte(script), 0o700); err != nil {
		t.Fatal(err)
	}
	config := e.providerBlock() + fmt.Sprintf(`
resource "kbackup_repository" "this" {
  force_destroy = true
}

resource "kbackup_cluster" "edge" {
  name = "edge-ap"
  kubernetes {
    host                   = %q
    cluster_ca_certificate = %q
    exec {
      api_version = "client.authentication.k8s.io/v1"
      command     = %q
      args        = ["--cluster", "edge-ap"]
    }
  }
  depends_on = [kbackup_repository.this]
}
`, c.Server, string(c.CAData), plugin)
	secrets := map[string]string{"cluster token": c.AdminToken, "S3 secret key": e.S3.SecretKey}

	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: providerFactories,
		CheckDestroy: func(*terraform.State) error {
			if _, err := kc.RbacV1().ClusterRoles().Get(ctx, install.ClusterRole, metav1.GetOptions{}); err == nil {
				return errors.New("the ClusterRole is still there after destroy")
			}
			return nil
		},
		Steps: []resource.TestStep{
			{
				Config: config,
				Check: resource.ComposeAggregateTestCheckFunc(
					resource.TestCheckResourceAttr("kbackup_cluster.edge", "install_rbac", "true"),
					func(*terraform.State) error { return checkStateFiles(workDirs, secrets) },
				),
			},
			{
				PreConfig: func() {
					if err := kc.RbacV1().ClusterRoles().Delete(ctx, install.ClusterRole, metav1.DeleteOptions{}); err != nil {
						t.Fatal(err)
					}
				},
				Config: config,
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction("kbackup_cluster.edge", plancheck.ResourceActionUpdate),
					noCredentialInPlan{secrets: secrets},
				}},
				Check: func(*terraform.State) error {
					missing, err := install.RBACInstalled(ctx, kc)
					if err != nil || len(missing) > 0 {
						return fmt.Errorf("after the apply, missing %v (%v)", missing, err)
					}
					return nil
				},
			},
		},
	})
}
