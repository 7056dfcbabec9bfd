package provider_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/terraform"
	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/utils/ptr"

	"github.com/kbackup/kbackup/core/install"
	"github.com/kbackup/kbackup/core/repo"
)

// buildPlugin builds kubectl-kbackup, the binary the CronJob's image runs.
func buildPlugin(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "kubectl-kbackup")
	build := exec.Command("go", "build", "-o", bin, ".")
	build.Dir = filepath.Join("..", "..", "..", "kubectl-kbackup")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("building kubectl-kbackup: %v\n%s", err, out)
	}
	return bin
}

// The scheduled job, run for real: the CronJob that kbackup_schedule
// created is read back, a token of the ServiceAccount that kbackup_cluster
// installed is requested, and the job's exact command, arguments and
// environment (its Secret's values resolved) run with the built binary, as
// the container would. Each run completes a backup; the second prunes the
// first by the schedule's policy (keep_last = 1). With the same token a
// create, an update and a delete are refused.
func TestAccScheduledJobRunsAsItsServiceAccount(t *testing.T) {
	binary := buildPlugin(t)
	e := startAcc(t, "prod-eu")
	ctx := context.Background()
	cluster := e.Cluster("prod-eu")
	kc, err := kubernetes.NewForConfig(cluster.Config())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := kc.CoreV1().ConfigMaps("default").Create(ctx, &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{Name: "settings"}, Data: map[string]string{"mode": "live"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	config := e.providerBlock() + fmt.Sprintf(`
resource "kbackup_repository" "this" {
  force_destroy = true
}
resource "kbackup_cluster" "prod" {
  name        = "prod-eu"
  environment = "prod"
%s
  depends_on = [kbackup_repository.this]
}
resource "kbackup_retention_policy" "last" {
  name       = "keep-last"
  keep_last  = 1
  depends_on = [kbackup_repository.this]
}
resource "kbackup_schedule" "nightly" {
  name             = "prod-eu-nightly"
  cluster          = kbackup_cluster.prod.name
  cron             = "0 2 * * *"
  retention_policy = kbackup_retention_policy.last.name
%s
}
`, e.kubernetesBlock("prod-eu"), e.kubernetesBlock("prod-eu"))

	runJob := func() error {
		cj, err := install.GetJob(ctx, kc, "prod-eu-nightly")
		if err != nil || cj == nil {
			return fmt.Errorf("reading the CronJob: %v", err)
		}
		pod := cj.Spec.JobTemplate.Spec.Template.Spec
		tok, err := kc.CoreV1().ServiceAccounts(install.Namespace).CreateToken(ctx, pod.ServiceAccountName, &authenticationv1.TokenRequest{
			Spec: authenticationv1.TokenRequestSpec{ExpirationSeconds: ptr.To[int64](3600)}}, metav1.CreateOptions{})
		if err != nil {
			return fmt.Errorf("TokenRequest for %s: %w", pod.ServiceAccountName, err)
		}
		kubeconfig := cluster.Kubeconfig("prod-eu")
		for _, a := range kubeconfig.AuthInfos {
			a.Token = tok.Status.Token
		}
		kcPath := filepath.Join(t.TempDir(), "kubeconfig")
		if err := clientcmd.WriteToFile(*kubeconfig, kcPath); err != nil {
			return err
		}
		c := pod.Containers[0]
		if c.Command[0] != "kubectl-kbackup" {
			return fmt.Errorf("the container runs %q, want kubectl-kbackup", c.Command)
		}
		env := []string{"PATH=" + os.Getenv("PATH"), "KUBECONFIG=" + kcPath}
		for _, v := range c.Env {
			value := v.Value
			if ref := v.ValueFrom; ref != nil && ref.SecretKeyRef != nil {
				s, err := kc.CoreV1().Secrets(install.Namespace).Get(ctx, ref.SecretKeyRef.Name, metav1.GetOptions{})
				if err != nil {
					return err
				}
				value = string(s.Data[ref.SecretKeyRef.Key])
			}
			env = append(env, v.Name+"="+value)
		}
		cmd := exec.Command(binary, append(c.Command[1:], c.Args...)...)
		cmd.Env = env
		out, err := cmd.CombinedOutput()
		t.Logf("%s %s:\n%s", c.Command[0], strings.Join(c.Args, " "), out)
		if err != nil {
			return fmt.Errorf("the job's command failed: %w", err)
		}
		return nil
	}

	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: providerFactories,
		Steps: []resource.TestStep{{
			Config: config,
			Check: func(*terraform.State) error {
				r := e.repository(t)
				if err := runJob(); err != nil {
					return err
				}
				first, err := r.ListBackups(ctx, "prod-eu")
				if err != nil || len(first) != 1 || first[0].Phase != repo.PhaseCompleted {
					return fmt.Errorf("after the first run: %d backups (%v); want one Completed", len(first), err)
				}
				if err := runJob(); err != nil {
					return err
				}
				second, err := r.ListBackups(ctx, "prod-eu")
				if err != nil || len(second) != 1 || second[0].ID == first[0].ID || second[0].Phase != repo.PhaseCompleted {
					return fmt.Errorf("after the second run: %d backups (%v); want only the new one, the first pruned by keep_last = 1", len(second), err)
				}
				return checkReadOnly(ctx, kc, cluster.ConfigForToken)
			},
		}, {
			// The data sources see what the job did.
			Config: config + fmt.Sprintf(`
data "kbackup_backups" "prod" {
  cluster = kbackup_cluster.prod.name
}
data "kbackup_clusters" "all" {
  depends_on = [kbackup_schedule.nightly]
}
data "kbackup_cluster_identity" "prod" {
%s
}
`, e.kubeconfigBlock(t, "prod-eu")),
			Check: resource.ComposeAggregateTestCheckFunc(
				resource.TestCheckResourceAttr("data.kbackup_backups.prod", "backups.#", "1"),
				resource.TestCheckResourceAttr("data.kbackup_backups.prod", "latest.phase", "Completed"),
				resource.TestCheckResourceAttrPair("data.kbackup_backups.prod", "latest.id", "data.kbackup_backups.prod", "latest_successful.id"),
				resource.TestCheckResourceAttr("data.kbackup_clusters.all", "clusters.#", "1"),
				resource.TestCheckResourceAttr("data.kbackup_clusters.all", "clusters.0.name", "prod-eu"),
				resource.TestCheckResourceAttr("data.kbackup_clusters.all", "clusters.0.environment", "prod"),
				resource.TestCheckResourceAttr("data.kbackup_clusters.all", "clusters.0.stale", "false"),
				resource.TestCheckResourceAttr("data.kbackup_clusters.all", "clusters.0.backups", "1"),
				resource.TestMatchResourceAttr("data.kbackup_clusters.all", "clusters.0.freshness", regexp.MustCompile(`0 2 \* \* \*`)),
				resource.TestCheckResourceAttrPair("data.kbackup_cluster_identity.prod", "uid", "kbackup_cluster.prod", "uid"),
				resource.TestCheckResourceAttr("data.kbackup_cluster_identity.prod", "kubernetes_version", "v1.37.2"),
			),
		}},
	})
}

// checkReadOnly checks that the ServiceAccount's token may not create,
// update or delete.
func checkReadOnly(ctx context.Context, admin kubernetes.Interface, forToken func(string) *rest.Config) error {
	tok, err := admin.CoreV1().ServiceAccounts(install.Namespace).CreateToken(ctx, install.ServiceAccount, &authenticationv1.TokenRequest{
		Spec: authenticationv1.TokenRequestSpec{ExpirationSeconds: ptr.To[int64](600)}}, metav1.CreateOptions{})
	if err != nil {
		return err
	}
	sa, err := kubernetes.NewForConfig(forToken(tok.Status.Token))
	if err != nil {
		return err
	}
	if _, err := sa.CoreV1().ConfigMaps("default").List(ctx, metav1.ListOptions{}); err != nil {
		return fmt.Errorf("the ServiceAccount cannot even list: %w", err)
	}
	_, createErr := sa.CoreV1().ConfigMaps("default").Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "intruder"}}, metav1.CreateOptions{})
	cm, err := sa.CoreV1().ConfigMaps("default").Get(ctx, "settings", metav1.GetOptions{})
	if err != nil {
		return err
	}
	cm.Data["mode"] = "changed"
	_, updateErr := sa.CoreV1().ConfigMaps("default").Update(ctx, cm, metav1.UpdateOptions{})
	deleteErr := sa.CoreV1().ConfigMaps("default").Delete(ctx, "settings", metav1.DeleteOptions{})
	for what, err := range map[string]error{"create": createErr, "update": updateErr, "delete": deleteErr} {
		if !apierrors.IsForbidden(err) {
			return fmt.Errorf("%s with the ServiceAccount's token: %v; want 403 Forbidden", what, err)
		}
	}
	return nil
}
