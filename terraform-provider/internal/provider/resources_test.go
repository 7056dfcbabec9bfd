package provider_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/terraform"
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/kbackup/kbackup/core/install"
	"github.com/kbackup/kbackup/core/repo"
	"github.com/kbackup/kbackup/core/storage"
)

type fleetConfig struct {
	environment, cron, policy string
	keepDaily                 int
	// kubernetes is the kubernetes block of the cluster and the schedule.
	kubernetes string
}

func (e *accEnv) fleetConfig(c fleetConfig) string {
	return e.providerBlock() + fmt.Sprintf(`
resource "kbackup_repository" "this" {
  force_destroy = true
}

resource "kbackup_cluster" "dev" {
  name        = "dev-eu"
  environment = %q
  region      = "eu-west-1"
  labels      = { team = "platform" }
  priority    = 10
%s
  depends_on = [kbackup_repository.this]
}

resource "kbackup_retention_policy" "nightly" {
  name        = %q
  keep_daily  = %d
  keep_within = "7d"
  depends_on  = [kbackup_repository.this]
}

resource "kbackup_schedule" "nightly" {
  name               = "dev-eu-nightly"
  cluster            = kbackup_cluster.dev.name
  cron               = %q
  time_zone          = "Europe/Paris"
  include_namespaces = ["shop"]
  retention_policy   = kbackup_retention_policy.nightly.name
  memory_limit       = "1Gi"
%s
}
`, c.environment, c.kubernetes, c.policy, c.keepDaily, c.cron, c.kubernetes)
}

// Every resource through real OpenTofu, the S3 server and a real cluster:
// create, update in place, replace, import, drift made outside Terraform,
// destroy; terraform-plugin-testing plans again after every apply and
// fails on a non-empty plan. The kubernetes blocks give a kubeconfig, which
// a refresh reads again to see drift in the cluster.
func TestAccFleetResources(t *testing.T) {
	e := startAcc(t, "dev-eu")
	ctx := context.Background()
	// OpenTofu's and the provider's logs, at TRACE, for the check below
	// that no credential reaches them.
	logPath := filepath.Join(t.TempDir(), "tofu.log")
	t.Setenv("TF_ACC_LOG_PATH", logPath)
	t.Cleanup(func() { checkNoCredentialLogged(t, logPath, e, "dev-eu") })
	kc, err := kubernetes.NewForConfig(e.Cluster("dev-eu").Config())
	if err != nil {
		t.Fatal(err)
	}
	base := fleetConfig{environment: "dev", cron: "0 4 * * *", policy: "dev-daily", keepDaily: 7, kubernetes: e.kubeconfigBlock(t, "dev-eu")}
	updated := base
	updated.environment, updated.cron, updated.keepDaily = "test", "0 3 * * *", 14
	renamed := updated
	renamed.policy = "test-daily"

	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: providerFactories,
		CheckDestroy: func(*terraform.State) error {
			cj, err := install.GetJob(ctx, kc, "dev-eu-nightly")
			if err != nil || cj != nil {
				return fmt.Errorf("the CronJob is still there after destroy (%v)", err)
			}
			if _, err := kc.RbacV1().ClusterRoles().Get(ctx, install.ClusterRole, metav1.GetOptions{}); err == nil {
				return errors.New("the ClusterRole is still there after destroy")
			}
			loc, _ := storage.ParseURL(e.S3.RepositoryURL(e.bucket))
			if _, err := repo.Open(ctx, repo.Options{Location: loc}); !errors.Is(err, repo.ErrNoRepository) {
				return fmt.Errorf("the repository is still there after destroy: %v", err)
			}
			return nil
		},
		Steps: []resource.TestStep{
			{
				Config: e.fleetConfig(base),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction("kbackup_cluster.dev", plancheck.ResourceActionCreate),
					plancheck.ExpectResourceAction("kbackup_schedule.nightly", plancheck.ResourceActionCreate),
					plancheck.ExpectKnownValue("kbackup_schedule.nightly", tfjsonpath.New("image"), knownvalue.StringExact("ghcr.io/kbackup/kubectl-kbackup:test")),
				}},
				Check: resource.ComposeAggregateTestCheckFunc(
					resource.TestCheckResourceAttr("kbackup_repository.this", "format_version", "1"),
					resource.TestCheckResourceAttrSet("kbackup_repository.this", "id"),
					resource.TestCheckResourceAttrSet("kbackup_cluster.dev", "uid"),
					resource.TestCheckResourceAttr("kbackup_cluster.dev", "kubernetes_version", "v1.37.2"),
					resource.TestCheckResourceAttr("kbackup_cluster.dev", "install_rbac", "true"),
					resource.TestCheckResourceAttr("kbackup_schedule.nightly", "cron_job", "kbackup-system/kbackup-dev-eu-nightly"),
					e.noSecretInState,
					func(*terraform.State) error { return checkInstalled(ctx, kc, e) },
				),
			},
			{
				// environment, cron and keep_daily change in place.
				Config: e.fleetConfig(updated),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction("kbackup_cluster.dev", plancheck.ResourceActionUpdate),
					plancheck.ExpectResourceAction("kbackup_retention_policy.nightly", plancheck.ResourceActionUpdate),
					plancheck.ExpectResourceAction("kbackup_schedule.nightly", plancheck.ResourceActionUpdate),
					plancheck.ExpectResourceAction("kbackup_repository.this", plancheck.ResourceActionNoop),
				}},
				Check: func(*terraform.State) error {
					cj, err := install.GetJob(ctx, kc, "dev-eu-nightly")
					if err != nil || cj == nil || cj.Spec.Schedule != "0 3 * * *" {
						return fmt.Errorf("CronJob after the update: %v, %v; want schedule 0 3 * * *", cj, err)
					}
					entry, err := e.repository(t).GetCluster(ctx, "dev-eu")
					if err != nil || entry.Environment != "test" {
						return fmt.Errorf("registry entry after the update: %+v, %v; want environment test", entry, err)
					}
					return nil
				},
			},
			{
				// A policy's name cannot change: it is replaced, and the
				// schedule that names it is updated.
				Config: e.fleetConfig(renamed),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction("kbackup_retention_policy.nightly", plancheck.ResourceActionDestroyBeforeCreate),
					plancheck.ExpectResourceAction("kbackup_schedule.nightly", plancheck.ResourceActionUpdate),
					plancheck.ExpectResourceAction("kbackup_cluster.dev", plancheck.ResourceActionNoop),
				}},
			},
			{ResourceName: "kbackup_repository.this", ImportState: true, ImportStateVerify: true,
				ImportStateVerifyIgnore: []string{"force_destroy"}},
			{ResourceName: "kbackup_cluster.dev", ImportState: true, ImportStateVerify: true,
				ImportStateVerifyIgnore: []string{"kubernetes", "install_rbac"}},
			{ResourceName: "kbackup_retention_policy.nightly", ImportState: true, ImportStateVerify: true},
			{ResourceName: "kbackup_schedule.nightly", ImportState: true, ImportStateVerify: true,
				ImportStateVerifyIgnore: []string{"kubernetes", "image", "memory_limit", "cpu_limit", "cron_job"}},
			{
				// Drift: the CronJob is deleted outside Terraform; the plan
				// shows the schedule updated, the apply puts it back.
				PreConfig: func() {
					if err := kc.BatchV1().CronJobs(install.Namespace).Delete(ctx, install.ObjectName("dev-eu-nightly"), metav1.DeleteOptions{}); err != nil {
						t.Fatal(err)
					}
				},
				Config: e.fleetConfig(renamed),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction("kbackup_schedule.nightly", plancheck.ResourceActionUpdate),
					plancheck.ExpectResourceAction("kbackup_cluster.dev", plancheck.ResourceActionNoop),
				}},
				Check: func(*terraform.State) error {
					cj, err := install.GetJob(ctx, kc, "dev-eu-nightly")
					if err != nil || cj == nil {
						return fmt.Errorf("the CronJob was not recreated: %v", err)
					}
					return nil
				},
			},
			{
				// Drift: the registry entry and the ClusterRole are changed
				// outside Terraform; the plan shows the cluster updated.
				PreConfig: func() {
					r := e.repository(t)
					entry, err := r.GetCluster(ctx, "dev-eu")
					if err != nil {
						t.Fatal(err)
					}
					entry.Environment = "prod"
					if err := r.PutClusterEntry(ctx, entry); err != nil {
						t.Fatal(err)
					}
				},
				Config: e.fleetConfig(renamed),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction("kbackup_cluster.dev", plancheck.ResourceActionUpdate),
					plancheck.ExpectKnownValue("kbackup_cluster.dev", tfjsonpath.New("environment"), knownvalue.StringExact("test")),
				}},
				Check: func(*terraform.State) error {
					entry, err := e.repository(t).GetCluster(ctx, "dev-eu")
					if err != nil || entry.Environment != "test" {
						return fmt.Errorf("registry entry after the apply: %+v, %v; want environment test again", entry, err)
					}
					return nil
				},
			},
			{
				PreConfig: func() {
					if err := kc.RbacV1().ClusterRoles().Delete(ctx, install.ClusterRole, metav1.DeleteOptions{}); err != nil {
						t.Fatal(err)
					}
				},
				Config: e.fleetConfig(renamed),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction("kbackup_cluster.dev", plancheck.ResourceActionUpdate),
				}},
				Check: func(*terraform.State) error { return checkInstalled(ctx, kc, e) },
			},
		},
	})
}

// checkNoCredentialLogged fails when the S3 keys or the cluster's token
// are in the log of every OpenTofu command the test ran (but in the echo of
// the test's configuration).
func checkNoCredentialLogged(t *testing.T, logPath string, e *accEnv, cluster string) {
	data, err := os.ReadFile(logPath)
	if err != nil || len(data) == 0 {
		t.Errorf("no log at %s (%v): the credential check saw nothing", logPath, err)
		return
	}
	for what, secret := range map[string]string{"S3 secret key": e.S3.SecretKey, "S3 access key": e.S3.AccessKey, "cluster token": e.Cluster(cluster).AdminToken} {
		for rest, offset := data, 0; ; {
			i := bytes.Index(rest, []byte(secret))
			if i < 0 {
				break
			}
			line := rest[max(0, bytes.LastIndexByte(rest[:i], '\n')+1):i]
			// The harness echoes the test's own configuration (the
			// kubernetes block's token is in it) as "  | " lines.
			if !bytes.HasPrefix(line, []byte("  |")) {
				t.Errorf("the %s is in the log at byte %d, after %q", what, offset+i, line)
			}
			rest, offset = rest[i+len(secret):], offset+i+len(secret)
		}
	}
	t.Logf("checked %d bytes of OpenTofu and provider logs for credentials", len(data))
}

// checkInstalled checks what kbackup_cluster and kbackup_schedule put into
// the cluster.
func checkInstalled(ctx context.Context, kc kubernetes.Interface, e *accEnv) error {
	missing, err := install.RBACInstalled(ctx, kc)
	if err != nil || len(missing) > 0 {
		return fmt.Errorf("RBAC: missing %v (%v)", missing, err)
	}
	role, err := kc.RbacV1().ClusterRoles().Get(ctx, install.ClusterRole, metav1.GetOptions{})
	if err != nil {
		return err
	}
	for _, rule := range role.Rules {
		for _, v := range rule.Verbs {
			if v != "get" && v != "list" && v != "watch" {
				return fmt.Errorf("the ClusterRole grants %q; want only get, list and watch", v)
			}
		}
	}
	cj, err := install.GetJob(ctx, kc, "dev-eu-nightly")
	if err != nil || cj == nil {
		return fmt.Errorf("no CronJob: %v", err)
	}
	if cj.Spec.ConcurrencyPolicy != "Forbid" {
		return fmt.Errorf("concurrencyPolicy %q, want Forbid", cj.Spec.ConcurrencyPolicy)
	}
	pod := cj.Spec.JobTemplate.Spec.Template.Spec
	c := pod.Containers[0]
	if pod.ServiceAccountName != install.ServiceAccount || c.Image != "ghcr.io/kbackup/kubectl-kbackup:test" ||
		c.SecurityContext == nil || !*c.SecurityContext.ReadOnlyRootFilesystem || !*c.SecurityContext.RunAsNonRoot ||
		c.Resources.Limits.Memory().String() != "1Gi" || c.Resources.Limits.Cpu().String() != "2" {
		return fmt.Errorf("CronJob's pod: service account %q, image %q, security %+v, limits %v", pod.ServiceAccountName, c.Image, c.SecurityContext, c.Resources.Limits)
	}
	if fmt.Sprint(c.Args) != "[backup create --schedule dev-eu-nightly --prune]" {
		return fmt.Errorf("CronJob args %q", c.Args)
	}
	for _, env := range c.Env {
		if env.Value == e.S3.SecretKey || env.Value == e.S3.AccessKey {
			return fmt.Errorf("the CronJob holds a credential in env %s; want it in the Secret", env.Name)
		}
	}
	return nil
}
