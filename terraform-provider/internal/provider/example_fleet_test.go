package provider_test

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hashicorp/terraform-plugin-testing/config"
	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/terraform"

	"github.com/kbackup/kbackup/core/fleetview"
)

// examples/terraform/fleet, as a user runs it: OpenTofu plans and applies
// it against four test clusters and the S3 server (the example declares
// source = "kbackup/kbackup"), and `kubectl kbackup clusters` then shows
// the four clusters with their environments and schedules.
func TestAccExampleFleet(t *testing.T) {
	binary := buildPlugin(t)
	e := startAcc(t, "dev", "test", "preprod", "prod")
	t.Setenv("TF_ACC_PROVIDER_NAMESPACE", "kbackup")
	kubeconfig := filepath.Join(t.TempDir(), "kubeconfig")
	if err := e.WriteKubeconfig(kubeconfig); err != nil {
		t.Fatal(err)
	}
	bucket := "fleet-" + e.bucket[len(e.bucket)-6:]
	vars := config.Variables{
		"endpoint":      config.StringVariable(e.S3.Endpoint),
		"bucket":        config.StringVariable(bucket),
		"region":        config.StringVariable(e.S3.Region),
		"kubeconfig":    config.StringVariable(kubeconfig),
		"force_destroy": config.BoolVariable(true),
	}
	var create []plancheck.PlanCheck
	for _, c := range []string{"dev", "test", "preprod", "prod"} {
		create = append(create, plancheck.ExpectResourceAction(fmt.Sprintf("kbackup_cluster.%s", c), plancheck.ResourceActionCreate))
	}
	for _, c := range []string{"dev", "test", "prod"} {
		create = append(create, plancheck.ExpectResourceAction(fmt.Sprintf("kbackup_schedule.%s", c), plancheck.ResourceActionCreate))
	}
	create = append(create, plancheck.ExpectResourceAction("kbackup_bucket.fleet", plancheck.ResourceActionCreate),
		plancheck.ExpectResourceAction("kbackup_repository.fleet", plancheck.ResourceActionCreate),
		plancheck.ExpectResourceAction("kbackup_retention_policy.default", plancheck.ResourceActionCreate))

	clusters := func(args ...string) (string, error) {
		cmd := exec.Command(binary, append([]string{"clusters"}, args...)...)
		cmd.Env = append(os.Environ(), "KBACKUP_STORAGE=s3://"+bucket+"?endpoint="+e.S3.Endpoint, "NO_COLOR=1", "KUBECONFIG="+kubeconfig)
		out, err := cmd.Output()
		return string(out), err
	}
	resource.Test(t, resource.TestCase{
		Steps: []resource.TestStep{{
			// With a configuration directory, the provider is the step's.
			ProtoV6ProviderFactories: providerFactories,
			ConfigDirectory:          config.StaticDirectory(filepath.Join("..", "..", "..", "examples", "terraform", "fleet")),
			ConfigVariables:          vars,
			ConfigPlanChecks:         resource.ConfigPlanChecks{PreApply: create},
			Check: func(*terraform.State) error {
				out, err := clusters("-o", "json")
				if err != nil {
					return fmt.Errorf("kubectl kbackup clusters -o json: %v\n%s", err, out)
				}
				var statuses []fleetview.ClusterStatus
				if err := json.Unmarshal([]byte(out), &statuses); err != nil {
					return fmt.Errorf("%v: %s", err, out)
				}
				want := map[string]string{"dev": "0 4 * * *", "test": "0 3 * * *", "preprod": "", "prod": "0 2 * * *"}
				if len(statuses) != len(want) {
					return fmt.Errorf("clusters shows %d clusters, want 4: %s", len(statuses), out)
				}
				for _, st := range statuses {
					cron, ok := want[st.Name]
					if !ok || !st.Registered || st.Environment != st.Name || !strings.Contains(st.Freshness, cron) {
						return fmt.Errorf("cluster %s: registered %t, environment %q, freshness %q; want environment %s held to %q",
							st.Name, st.Registered, st.Environment, st.Freshness, st.Name, cron)
					}
				}
				table, err := clusters()
				t.Logf("kubectl kbackup clusters:\n%s", table)
				if err != nil {
					return err
				}
				// No cluster is backed up yet: the table says so with what
				// each is held to, its schedule or the max age.
				for _, s := range []string{"dev ", "test ", "preprod ", "prod ", "none taken, held to schedule prod-nightly 0 2 * * *", "none taken, held to max age"} {
					if !strings.Contains(table, s) {
						return fmt.Errorf("the clusters table lacks %q", s)
					}
				}
				return nil
			},
		}},
	})
}
