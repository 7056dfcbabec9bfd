package install_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/kbackup/kbackup/core/fleet"
	"github.com/kbackup/kbackup/core/install"
	"github.com/kbackup/kbackup/core/storage"
)

// The CronJob runs the schedule as the read-only ServiceAccount, never two
// at once, non-root on a read-only root file system, and holds no
// credential: those are in the Secret.
func TestJobObjects(t *testing.T) {
	j := &install.Job{
		Schedule:    &fleet.Schedule{Name: "Prod_nightly", Cron: "0 2 * * *", TimeZone: "Europe/Paris", Cluster: "prod"},
		Storage:     "s3://backups?endpoint=https://minio:9000",
		Credentials: storage.Credentials{AccessKeyID: "AKIDEXAMPLE", SecretAccessKey: "wJalrXUtnFEMI"},
		MemoryLimit: "1Gi",
	}
	secret, cj, err := j.Objects()
	if err != nil {
		t.Fatal(err)
	}
	if cj.Name != "kbackup-prod-nightly" || secret.Name != cj.Name || cj.Namespace != install.Namespace {
		t.Errorf("names: cron job %s/%s, secret %s", cj.Namespace, cj.Name, secret.Name)
	}
	if cj.Spec.ConcurrencyPolicy != "Forbid" || *cj.Spec.TimeZone != "Europe/Paris" || cj.Spec.Schedule != "0 2 * * *" {
		t.Errorf("spec: %+v", cj.Spec)
	}
	pod := cj.Spec.JobTemplate.Spec.Template.Spec
	c := pod.Containers[0]
	if pod.ServiceAccountName != install.ServiceAccount || !*pod.SecurityContext.RunAsNonRoot || !*c.SecurityContext.ReadOnlyRootFilesystem ||
		*c.SecurityContext.AllowPrivilegeEscalation || c.Resources.Limits.Memory().String() != "1Gi" || c.Resources.Limits.Cpu().String() != install.DefaultCPULimit {
		t.Errorf("pod: %+v", pod)
	}
	if got := strings.Join(append(c.Command, c.Args...), " "); got != "kubectl-kbackup backup create --schedule Prod_nightly --prune" {
		t.Errorf("command %q", got)
	}
	for _, e := range c.Env {
		if e.Value == "AKIDEXAMPLE" || e.Value == "wJalrXUtnFEMI" {
			t.Errorf("env %s holds a credential", e.Name)
		}
	}
	if secret.StringData["AWS_SECRET_ACCESS_KEY"] != "wJalrXUtnFEMI" {
		t.Error("the Secret lacks the secret key")
	}
	_, _, role, _ := install.RBACObjects()
	for _, r := range role.Rules {
		if !slices.Equal(r.Verbs, install.ReadVerbs) {
			t.Errorf("the ClusterRole grants %v", r.Verbs)
		}
	}
	bad := *j
	bad.CPULimit = "two"
	if _, _, err := bad.Objects(); err == nil || !strings.Contains(err.Error(), "cpu_limit") {
		t.Errorf("an invalid cpu_limit gave %v", err)
	}
}
