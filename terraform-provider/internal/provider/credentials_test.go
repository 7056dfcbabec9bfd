package provider_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/hashicorp/terraform-plugin-testing/config"
	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/terraform"
	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/utils/ptr"

	"github.com/kbackup/kbackup/core/install"
)

// No credential reaches OpenTofu's state or plans: the cluster's token is
// write-only (token_wo) in kbackup_cluster and kbackup_schedule, and the
// S3 keys given in the provider block stay in the provider's
// configuration. The raw state files of the test's working directory and
// the JSON of every plan (which carries sensitive values in clear) are
// searched for the token and the keys. The CronJob still gets the
// repository's credentials in its Secret; a change of token_wo_version
// makes an update that uses the new token (a wrong one fails, a fresh
// one works); with only a write-only token a refresh still sees the
// registry entry changed outside Terraform. kbackup_clusters shows the
// cluster, never backed up, stale and held to its schedule.
func TestAccCredentialsNeverInState(t *testing.T) {
	e := startAcc(t, "prod-eu")
	ctx := context.Background()
	workDirs := t.TempDir()
	t.Setenv("TF_ACC_TEMP_DIR", workDirs)
	logPath := filepath.Join(t.TempDir(), "tofu.log")
	t.Setenv("TF_ACC_LOG_PATH", logPath)
	t.Cleanup(func() { checkNoCredentialLogged(t, logPath, e, "prod-eu") })
	kc, err := kubernetes.NewForConfig(e.Cluster("prod-eu").Config())
	if err != nil {
		t.Fatal(err)
	}
	rotated := adminToken(t, kc, "rotated-admin")
	secrets := map[string]string{"cluster token": e.Cluster("prod-eu").AdminToken, "rotated cluster token": rotated,
		"S3 secret key": e.S3.SecretKey, "S3 access key": e.S3.AccessKey}

	// The credentials are ephemeral variables, as a user gives them (from
	// TF_VAR_... or a secret store): OpenTofu keeps them out of plans and
	// state, and lets them reach only the provider's configuration and
	// write-only arguments.
	fleet := func(version int) string {
		return fmt.Sprintf(`variable "cluster_token" {
  type      = string
  sensitive = true
  ephemeral = true
}
variable "s3_access_key" {
  type      = string
  sensitive = true
  ephemeral = true
}
variable "s3_secret_key" {
  type      = string
  sensitive = true
  ephemeral = true
}

provider "kbackup" {
  storage           = %q
  access_key_id     = var.s3_access_key
  secret_access_key = var.s3_secret_key
}

resource "kbackup_repository" "this" {
  force_destroy = true
}

resource "kbackup_cluster" "prod" {
  name        = "prod-eu"
  environment = "prod"
%s
  depends_on = [kbackup_repository.this]
}

resource "kbackup_schedule" "nightly" {
  name    = "prod-eu-nightly"
  cluster = kbackup_cluster.prod.name
  cron    = "0 2 * * *"
%s
}

data "kbackup_clusters" "all" {
  depends_on = [kbackup_schedule.nightly]
}
`, e.S3.RepositoryURL(e.bucket), e.tokenBlock("prod-eu", "var.cluster_token", version), e.tokenBlock("prod-eu", "var.cluster_token", version))
	}
	vars := func(token string) config.Variables {
		return config.Variables{"cluster_token": config.StringVariable(token),
			"s3_access_key": config.StringVariable(e.S3.AccessKey), "s3_secret_key": config.StringVariable(e.S3.SecretKey)}
	}
	noCredential := noCredentialInPlan{secrets: secrets}
	stateChecks := resource.ComposeAggregateTestCheckFunc(
		func(*terraform.State) error { return checkStateFiles(workDirs, secrets) },
		resource.TestCheckNoResourceAttr("kbackup_cluster.prod", "kubernetes.token_wo"),
		resource.TestCheckResourceAttr("kbackup_cluster.prod", "kubernetes.host", e.Cluster("prod-eu").Server),
		func(*terraform.State) error {
			// The job still has the repository's credentials, in its Secret.
			s, err := kc.CoreV1().Secrets(install.Namespace).Get(ctx, install.ObjectName("prod-eu-nightly"), metav1.GetOptions{})
			if err != nil {
				return fmt.Errorf("the CronJob's Secret: %w", err)
			}
			for _, v := range s.Data {
				if string(v) == e.S3.SecretKey {
					return nil
				}
			}
			return fmt.Errorf("the CronJob's Secret %s has no S3 secret key", s.Name)
		},
	)

	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: providerFactories,
		Steps: []resource.TestStep{
			{
				Config:          fleet(1),
				ConfigVariables: vars(e.Cluster("prod-eu").AdminToken),
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply:             []plancheck.PlanCheck{noCredential},
					PostApplyPostRefresh: []plancheck.PlanCheck{noCredential, plancheck.ExpectEmptyPlan()},
				},
				Check: resource.ComposeAggregateTestCheckFunc(stateChecks,
					// Never backed up: stale, and held to its schedule.
					resource.TestCheckResourceAttr("data.kbackup_clusters.all", "clusters.0.stale", "true"),
					resource.TestCheckResourceAttr("data.kbackup_clusters.all", "clusters.0.stale_reason",
						"no successful backup yet: none taken, held to schedule prod-eu-nightly 0 2 * * *")),
			},
			{
				// Registry drift needs only the repository: it is seen
				// without the token.
				PreConfig: func() {
					r := e.repository(t)
					entry, err := r.GetCluster(ctx, "prod-eu")
					if err != nil {
						t.Fatal(err)
					}
					entry.Environment = "dev"
					if err := r.PutClusterEntry(ctx, entry); err != nil {
						t.Fatal(err)
					}
				},
				Config:          fleet(1),
				ConfigVariables: vars(e.Cluster("prod-eu").AdminToken),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{noCredential,
					plancheck.ExpectResourceAction("kbackup_cluster.prod", plancheck.ResourceActionUpdate),
					plancheck.ExpectResourceAction("kbackup_schedule.nightly", plancheck.ResourceActionNoop),
				}},
				Check: stateChecks,
			},
			{
				// A rotation: the new version makes an update, which uses
				// the token given; a wrong one is refused by the cluster.
				Config:          fleet(2),
				ConfigVariables: vars("not-a-token"),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{noCredential,
					plancheck.ExpectResourceAction("kbackup_cluster.prod", plancheck.ResourceActionUpdate),
				}},
				ExpectError: regexp.MustCompile(`refused the credentials`),
			},
			{
				Config:          fleet(3),
				ConfigVariables: vars(rotated),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{noCredential,
					plancheck.ExpectResourceAction("kbackup_cluster.prod", plancheck.ResourceActionUpdate),
					plancheck.ExpectResourceAction("kbackup_schedule.nightly", plancheck.ResourceActionUpdate),
				}},
				Check: resource.ComposeAggregateTestCheckFunc(stateChecks,
					resource.TestCheckResourceAttr("kbackup_cluster.prod", "kubernetes.token_wo_version", "3"),
					resource.TestCheckResourceAttr("kbackup_schedule.nightly", "kubernetes.token_wo_version", "3")),
			},
		},
	})
}

// adminToken is a token of a new ServiceAccount bound to cluster-admin: a
// second credential for the cluster, as a rotation gives.
func adminToken(t *testing.T, kc kubernetes.Interface, name string) string {
	t.Helper()
	ctx := context.Background()
	if _, err := kc.CoreV1().ServiceAccounts("kube-system").Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: name}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := kc.RbacV1().ClusterRoleBindings().Create(ctx, &rbacv1.ClusterRoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: "cluster-admin"},
		Subjects:   []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Name: name, Namespace: "kube-system"}},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	tok, err := kc.CoreV1().ServiceAccounts("kube-system").CreateToken(ctx, name, &authenticationv1.TokenRequest{
		Spec: authenticationv1.TokenRequestSpec{ExpirationSeconds: ptr.To[int64](3600)}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return tok.Status.Token
}

// checkStateFiles reads every state file under dir, as OpenTofu wrote it,
// and fails on any of the secrets in it, or when there is none to read.
func checkStateFiles(dir string, secrets map[string]string) error {
	var read []string
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.Contains(d.Name(), ".tfstate") {
			return err
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		read = append(read, path)
		for what, secret := range secrets {
			if strings.Contains(string(data), secret) {
				return fmt.Errorf("the %s is in the state file %s", what, path)
			}
		}
		var state any
		if err := json.Unmarshal(data, &state); err != nil {
			return fmt.Errorf("state file %s: %w", path, err)
		}
		if at, v := findKey(state, "token_wo", "state"); at != "" && v != nil {
			return fmt.Errorf("the state file %s has %s = %v; want null", path, at, v)
		}
		return nil
	})
	if err == nil && len(read) == 0 {
		err = fmt.Errorf("no state file under %s: the check read nothing", dir)
	}
	return err
}

// noCredentialInPlan fails when a secret is anywhere in the JSON of the
// plan: its planned values, its changes and the prior state, where
// sensitive values are in clear.
type noCredentialInPlan struct{ secrets map[string]string }

func (c noCredentialInPlan) CheckPlan(_ context.Context, req plancheck.CheckPlanRequest, resp *plancheck.CheckPlanResponse) {
	data, err := json.Marshal(req.Plan)
	if err != nil {
		resp.Error = err
		return
	}
	if !strings.Contains(string(data), "kbackup_cluster") {
		resp.Error = fmt.Errorf("the plan has no kbackup_cluster: the check read nothing")
		return
	}
	var plan any
	if err := json.Unmarshal(data, &plan); err != nil {
		resp.Error = err
		return
	}
	for what, secret := range c.secrets {
		if at := findString(plan, secret, "plan"); at != "" {
			resp.Error = fmt.Errorf("the %s is in the plan at %s", what, at)
			return
		}
	}
}

// findKey is the JSON path and value of the first non-null value of key in
// v, or "".
func findKey(v any, key, at string) (string, any) {
	switch v := v.(type) {
	case []any:
		for i, e := range v {
			if p, x := findKey(e, key, fmt.Sprintf("%s[%d]", at, i)); p != "" {
				return p, x
			}
		}
	case map[string]any:
		for k, e := range v {
			if k == key && e != nil {
				return at + "." + k, e
			}
			if p, x := findKey(e, key, at+"."+k); p != "" {
				return p, x
			}
		}
	}
	return "", nil
}

// findString is the JSON path of the first string of v that holds s, or "".
func findString(v any, s, at string) string {
	switch v := v.(type) {
	case string:
		if strings.Contains(v, s) {
			return at
		}
	case []any:
		for i, e := range v {
			if p := findString(e, s, fmt.Sprintf("%s[%d]", at, i)); p != "" {
				return p
			}
		}
	case map[string]any:
		for k, e := range v {
			if p := findString(e, s, at+"."+k); p != "" {
				return p
			}
		}
	}
	return ""
}
