package e2e

import (
	"bytes"
	"context"
	"errors"
	"os/exec"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kbackup/kbackup/core/restore"
	"github.com/kbackup/kbackup/core/testenv/workload"
)

// A namespace restore names, in its plan, every cluster-scoped object it
// brings, with what it does to it: here a ClusterRoleBinding whose group
// and other-namespace subjects are left out, as the plan says and the
// target shows. --update-cluster-resources is refused without policy
// update.
func TestRestorePlanNamesClusterScopedObjects(t *testing.T) {
	ctx := context.Background()
	const ns = "e2e-rbac"
	cs, err := env.Cluster("prod-eu").Clientset()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := cs.CoreV1().ServiceAccounts(ns).Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "app"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := cs.RbacV1().ClusterRoleBindings().Create(ctx, &rbacv1.ClusterRoleBinding{ObjectMeta: metav1.ObjectMeta{Name: "e2e-rbac-view"},
		RoleRef: rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "ClusterRole", Name: "view"},
		Subjects: []rbacv1.Subject{
			{Kind: "Group", APIGroup: "rbac.authorization.k8s.io", Name: "system:authenticated"},
			{Kind: "ServiceAccount", Namespace: ns, Name: "app"},
			{Kind: "ServiceAccount", Namespace: "default", Name: "default"},
		}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	storage := []string{"--storage", env.S3.RepositoryURL(env.S3.NewBucket(t))}
	mustRun(t, 0, invocation{}, append([]string{"backup", "create", "--context", "prod-eu", "-n", ns, "--cluster-resources", "on"}, storage...)...)
	args := append([]string{"restore", "latest", "--from-cluster", "prod-eu", "-n", ns, "--context", "dr-us"}, storage...)

	refused := mustRun(t, 1, invocation{}, append(args, "--update-cluster-resources", "--yes")...)
	if !strings.Contains(refused.stderr, "--update-cluster-resources") || !strings.Contains(refused.stderr, "--existing-resource-policy update") {
		t.Errorf("--update-cluster-resources without policy update:\n%s", refused)
	}

	res := mustRun(t, 0, invocation{}, append(args, "--yes")...)
	plan, _, _ := strings.Cut(res.stdout, "\nRestore ") // the plan comes first, then the result
	section := plan[strings.Index(plan, "Cluster-scoped objects ("):]
	var binding string
	for _, line := range strings.Split(section, "\n") {
		if strings.Contains(line, "clusterrolebindings.rbac.authorization.k8s.io e2e-rbac-view") {
			binding = line
		}
	}
	if !strings.Contains(binding, "create") {
		t.Errorf("the plan does not name the ClusterRoleBinding to create:\n%s", res)
	}
	if !strings.Contains(res.stdout, "subjects outside the restored namespaces left out: Group system:authenticated, ServiceAccount default/default") {
		t.Errorf("the plan does not say which subjects are left out:\n%s", res)
	}
	if !strings.Contains(section, "clusterroles.rbac.authorization.k8s.io view") {
		t.Errorf("the plan does not name the ClusterRole the binding needs:\n%s", res)
	}
	dst, err := env.Cluster("dr-us").Clientset()
	if err != nil {
		t.Fatal(err)
	}
	crb, err := dst.RbacV1().ClusterRoleBindings().Get(ctx, "e2e-rbac-view", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if want := []rbacv1.Subject{{Kind: "ServiceAccount", Namespace: ns, Name: "app"}}; !slices.Equal(crb.Subjects, want) {
		t.Errorf("the restored ClusterRoleBinding's subjects are %+v, want %+v", crb.Subjects, want)
	}
}

// The first Ctrl-C stops a restore, which writes its record; a second one
// ends the process as soon as the record is written, with exit code 130,
// instead of being ignored.
func TestRestoreSecondInterruptEndsAfterTheRecord(t *testing.T) {
	const ns = "e2e-interrupt"
	cs, err := env.Cluster("prod-eu").Clientset()
	if err != nil {
		t.Fatal(err)
	}
	if err := workload.CreateConfigMaps(context.Background(), cs, workload.ConfigMaps{Namespaces: []string{ns}, Total: 4000, Workers: 32, Prefix: "int"}); err != nil {
		t.Fatal(err)
	}
	bucket := env.S3.NewBucket(t)
	storage := []string{"--storage", env.S3.RepositoryURL(bucket)}
	mustRun(t, 0, invocation{}, append([]string{"backup", "create", "--context", "prod-eu", "-n", ns}, storage...)...)

	cmd := exec.Command(binary, append([]string{"restore", "latest", "--from-cluster", "prod-eu", "-n", ns, "--context", "dr-us", "--yes"}, storage...)...)
	cmd.Env = baseEnv(t)
	cmd.Dir = t.TempDir()
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	// The restore is applying: the Namespace is restored first, then the
	// ConfigMaps. Interrupted once a hundred of them are in, it has
	// surely been told of some (an object whose request is cut by the
	// interrupt is recorded as failed, even if the server made it).
	target, err := env.Cluster("dr-us").Clientset()
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(time.Minute)
	for {
		list, err := target.CoreV1().ConfigMaps(ns).List(context.Background(), metav1.ListOptions{Limit: 100})
		if err == nil && len(list.Items) >= 100 {
			break
		}
		if time.Now().After(deadline) {
			_ = cmd.Process.Kill()
			t.Fatalf("the restore created no hundred ConfigMaps in a minute:\n%s\n%s", stdout.String(), stderr.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
	for range 2 {
		if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
			t.Fatal(err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	var werr error
	select {
	case werr = <-exited:
	case <-time.After(90 * time.Second):
		_ = cmd.Process.Kill()
		t.Fatalf("the restore went on after two interrupts:\n%s\n%s", stdout.String(), stderr.String())
	}
	var exit *exec.ExitError
	if !errors.As(werr, &exit) || exit.ExitCode() != 130 {
		t.Errorf("after two interrupts: %v, want exit code 130\nstdout:\n%s\nstderr:\n%s", werr, stdout.String(), stderr.String())
	}
	if !strings.Contains(stderr.String(), "Ending as soon as the restore record is written") || !strings.Contains(stderr.String(), "record: ") {
		t.Errorf("stderr does not say that the record is written first:\n%s", stderr.String())
	}
	records, bad, err := restore.ListRecords(context.Background(), openBucket(t, bucket), "dr-us")
	if err != nil || len(bad) > 0 || len(records) != 1 {
		t.Fatalf("records of dr-us: %v %v %d", err, bad, len(records))
	}
	rec := records[0].Result
	if rec.Phase != restore.PhaseFailed || rec.Totals.Created == 0 || rec.Totals.Created >= 4000 || len(rec.Objects) != rec.Totals.Total {
		t.Errorf("the interrupted restore's record: %s %+v", rec.Phase, rec.Totals)
	}
}
