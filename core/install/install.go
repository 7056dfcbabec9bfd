// Package install is what kbackup installs into a cluster so that backups
// can run there on a schedule: the kbackup-system namespace, a
// ServiceAccount, a read-only ClusterRole (get, list and watch, nothing
// that writes) bound to it, and per schedule a CronJob that runs
// `kubectl-kbackup backup create --schedule NAME --prune` with the
// repository's credentials in a Secret. The Terraform provider installs
// it; the plugin may later. It imports neither cobra nor Terraform.
package install

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/client-go/kubernetes"
	"k8s.io/utils/ptr"

	"github.com/kbackup/kbackup/core/fleet"
	"github.com/kbackup/kbackup/core/storage"
	"github.com/kbackup/kbackup/core/version"
)

// Names of what is installed.
const (
	Namespace      = "kbackup-system"
	ServiceAccount = "kbackup"
	// ClusterRole is read-only: get, list and watch of every resource.
	ClusterRole        = "kbackup-reader"
	ClusterRoleBinding = "kbackup-reader"
	// ManagedByLabel marks every object kbackup installs.
	ManagedByLabel = "app.kubernetes.io/managed-by"
	managedBy      = "kbackup"
	// ScheduleLabel names the schedule of a CronJob and its Secret.
	ScheduleLabel = "kbackup.io/schedule"
	// ImageRepository is where the plugin's image is published.
	ImageRepository = "ghcr.io/kbackup/kubectl-kbackup"
	// Defaults of the job's resources, the seed's memory_limit and
	// cpu_limit.
	DefaultMemoryLimit = "2Gi"
	DefaultCPULimit    = "2"
	// runAsUser is a non-root UID (distroless's nonroot).
	runAsUser = 65532
)

// ReadVerbs are the only verbs the ClusterRole grants.
var ReadVerbs = []string{"get", "list", "watch"}

// DefaultImage is the plugin's image of this build's version.
func DefaultImage() string { return ImageRepository + ":" + version.Get().Version }

func labels(extra map[string]string) map[string]string {
	l := map[string]string{ManagedByLabel: managedBy}
	maps.Copy(l, extra)
	return l
}

// RBACObjects are the namespace, ServiceAccount, ClusterRole and binding.
func RBACObjects() (*corev1.Namespace, *corev1.ServiceAccount, *rbacv1.ClusterRole, *rbacv1.ClusterRoleBinding) {
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: Namespace, Labels: labels(nil)}}
	sa := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: ServiceAccount, Namespace: Namespace, Labels: labels(nil)}}
	role := &rbacv1.ClusterRole{
		ObjectMeta: metav1.ObjectMeta{Name: ClusterRole, Labels: labels(nil)},
		Rules:      []rbacv1.PolicyRule{{APIGroups: []string{"*"}, Resources: []string{"*"}, Verbs: slices.Clone(ReadVerbs)}},
	}
	binding := &rbacv1.ClusterRoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: ClusterRoleBinding, Labels: labels(nil)},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: ClusterRole},
		Subjects:   []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Name: ServiceAccount, Namespace: Namespace}},
	}
	return ns, sa, role, binding
}

// InstallRBAC creates what scheduled backups need, or puts back what was
// changed: the namespace, the ServiceAccount, the ClusterRole and its
// binding.
func InstallRBAC(ctx context.Context, c kubernetes.Interface) error {
	ns, sa, role, binding := RBACObjects()
	if _, err := c.CoreV1().Namespaces().Create(ctx, ns, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("creating namespace %s: %w", Namespace, err)
	}
	if _, err := c.CoreV1().ServiceAccounts(Namespace).Create(ctx, sa, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("creating service account %s/%s: %w", Namespace, ServiceAccount, err)
	}
	if err := apply(ctx, role, c.RbacV1().ClusterRoles().Get, c.RbacV1().ClusterRoles().Create, c.RbacV1().ClusterRoles().Update,
		func(have, want *rbacv1.ClusterRole) { have.Rules = want.Rules; have.Labels = want.Labels }); err != nil {
		return fmt.Errorf("installing cluster role %s: %w", ClusterRole, err)
	}
	if err := apply(ctx, binding, c.RbacV1().ClusterRoleBindings().Get, c.RbacV1().ClusterRoleBindings().Create, c.RbacV1().ClusterRoleBindings().Update,
		func(have, want *rbacv1.ClusterRoleBinding) {
			have.Subjects = want.Subjects
			have.Labels = want.Labels
		}); err != nil {
		var se apierrors.APIStatus
		// A binding's roleRef cannot change: replace the binding.
		if errors.As(err, &se) && apierrors.IsInvalid(err) {
			_ = c.RbacV1().ClusterRoleBindings().Delete(ctx, ClusterRoleBinding, metav1.DeleteOptions{})
			_, err = c.RbacV1().ClusterRoleBindings().Create(ctx, binding, metav1.CreateOptions{})
		}
		if err != nil {
			return fmt.Errorf("installing cluster role binding %s: %w", ClusterRoleBinding, err)
		}
	}
	return nil
}

// RBACInstalled says whether everything InstallRBAC installs is there, as
// it installs it; missing names what is not.
func RBACInstalled(ctx context.Context, c kubernetes.Interface) (missing []string, err error) {
	_, sa, role, binding := RBACObjects()
	check := func(what string, getErr error, same bool) error {
		switch {
		case apierrors.IsNotFound(getErr):
			missing = append(missing, what)
		case getErr != nil:
			return getErr
		case !same:
			missing = append(missing, what+" (changed)")
		}
		return nil
	}
	_, err = c.CoreV1().Namespaces().Get(ctx, Namespace, metav1.GetOptions{})
	if err := check("namespace "+Namespace, err, true); err != nil {
		return nil, err
	}
	_, err = c.CoreV1().ServiceAccounts(Namespace).Get(ctx, sa.Name, metav1.GetOptions{})
	if err := check("service account "+sa.Name, err, true); err != nil {
		return nil, err
	}
	r, err := c.RbacV1().ClusterRoles().Get(ctx, role.Name, metav1.GetOptions{})
	if err := check("cluster role "+role.Name, err, err == nil && fmt.Sprint(r.Rules) == fmt.Sprint(role.Rules)); err != nil {
		return nil, err
	}
	b, err := c.RbacV1().ClusterRoleBindings().Get(ctx, binding.Name, metav1.GetOptions{})
	if err := check("cluster role binding "+binding.Name, err, err == nil && b.RoleRef == binding.RoleRef && fmt.Sprint(b.Subjects) == fmt.Sprint(binding.Subjects)); err != nil {
		return nil, err
	}
	return missing, nil
}

// UninstallRBAC removes the binding, the ClusterRole, the ServiceAccount
// and the namespace (with any CronJob left in it). Missing objects are not
// an error.
func UninstallRBAC(ctx context.Context, c kubernetes.Interface) error {
	del := func(what string, err error) error {
		if err != nil && !apierrors.IsNotFound(err) {
			return fmt.Errorf("deleting %s: %w", what, err)
		}
		return nil
	}
	return errors.Join(
		del("cluster role binding "+ClusterRoleBinding, c.RbacV1().ClusterRoleBindings().Delete(ctx, ClusterRoleBinding, metav1.DeleteOptions{})),
		del("cluster role "+ClusterRole, c.RbacV1().ClusterRoles().Delete(ctx, ClusterRole, metav1.DeleteOptions{})),
		del("service account "+ServiceAccount, c.CoreV1().ServiceAccounts(Namespace).Delete(ctx, ServiceAccount, metav1.DeleteOptions{})),
		del("namespace "+Namespace, c.CoreV1().Namespaces().Delete(ctx, Namespace, metav1.DeleteOptions{})),
	)
}

// Job is a schedule's CronJob as it is asked for.
type Job struct {
	// Schedule is the stored schedule the job runs; its Cron, TimeZone
	// and Suspend become the CronJob's.
	Schedule *fleet.Schedule
	// Image defaults to DefaultImage.
	Image string
	// Storage is the repository URL (no credential: storage.ParseURL
	// refuses one), given to the job as KBACKUP_STORAGE.
	Storage string
	// Credentials go into the schedule's Secret, never into the CronJob.
	Credentials storage.Credentials
	// MemoryLimit and CPULimit are Kubernetes quantities (default 2Gi, 2).
	MemoryLimit, CPULimit string
	// SuccessfulJobsHistoryLimit and FailedJobsHistoryLimit keep that many
	// finished Jobs (default 3 and 1).
	SuccessfulJobsHistoryLimit, FailedJobsHistoryLimit int32
}

// ObjectName is the name of a schedule's CronJob and Secret: "kbackup-"
// and the schedule's name, lower-cased with '_' as '-' (a DNS label).
func ObjectName(schedule string) string {
	b := []byte("kbackup-" + schedule)
	for i, c := range b {
		switch {
		case c >= 'A' && c <= 'Z':
			b[i] = c + 'a' - 'A'
		case c == '_':
			b[i] = '-'
		}
	}
	if len(b) > 52 { // a CronJob's name is at most 52 characters
		b = b[:52]
	}
	return string(b)
}

// Command is what the job's container runs: its command and arguments.
func Command(schedule string) (command, args []string) {
	return []string{"kubectl-kbackup"}, []string{"backup", "create", "--schedule", schedule, "--prune"}
}

// Secret keys; they are the environment variables the plugin reads.
const (
	EnvStorage         = "KBACKUP_STORAGE"
	EnvAccessKeyID     = "AWS_ACCESS_KEY_ID"
	EnvSecretAccessKey = "AWS_SECRET_ACCESS_KEY"
	EnvSessionToken    = "AWS_SESSION_TOKEN"
)

// Validate checks the job's own settings; p is where they are.
func (j *Job) Validate(p *field.Path) field.ErrorList {
	var errs field.ErrorList
	if j.Schedule == nil {
		return field.ErrorList{field.Required(p.Child("schedule"), "the schedule the job runs")}
	}
	errs = append(errs, j.Schedule.Validate(field.NewPath("schedule"))...)
	for _, q := range []struct{ name, v string }{{"memory_limit", j.MemoryLimit}, {"cpu_limit", j.CPULimit}} {
		if q.v == "" {
			continue
		}
		if _, err := resource.ParseQuantity(q.v); err != nil {
			errs = append(errs, field.Invalid(p.Child(q.name), q.v, "not a Kubernetes quantity; want one like 2Gi or 500m"))
		}
	}
	if j.Storage == "" {
		errs = append(errs, field.Required(p.Child("storage"), "the repository URL the job writes to"))
	}
	return errs
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// Objects are the schedule's Secret and CronJob.
func (j *Job) Objects() (*corev1.Secret, *batchv1.CronJob, error) {
	if errs := j.Validate(field.NewPath("job")); len(errs) > 0 {
		return nil, nil, errs.ToAggregate()
	}
	name := ObjectName(j.Schedule.Name)
	l := labels(map[string]string{ScheduleLabel: name})
	secret := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: Namespace, Labels: l},
		Type:       corev1.SecretTypeOpaque,
		StringData: map[string]string{},
	}
	env := []corev1.EnvVar{{Name: EnvStorage, Value: j.Storage}, {Name: "HOME", Value: "/tmp"}}
	for _, kv := range []struct{ k, v string }{
		{EnvAccessKeyID, j.Credentials.AccessKeyID},
		{EnvSecretAccessKey, j.Credentials.SecretAccessKey},
		{EnvSessionToken, j.Credentials.SessionToken},
	} {
		if kv.v == "" {
			continue
		}
		secret.StringData[kv.k] = kv.v
		env = append(env, corev1.EnvVar{Name: kv.k, ValueFrom: &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{
			LocalObjectReference: corev1.LocalObjectReference{Name: name}, Key: kv.k}}})
	}
	command, args := Command(j.Schedule.Name)
	limits := corev1.ResourceList{
		corev1.ResourceMemory: resource.MustParse(orDefault(j.MemoryLimit, DefaultMemoryLimit)),
		corev1.ResourceCPU:    resource.MustParse(orDefault(j.CPULimit, DefaultCPULimit)),
	}
	successful, failed := j.SuccessfulJobsHistoryLimit, j.FailedJobsHistoryLimit
	if successful <= 0 {
		successful = 3
	}
	if failed <= 0 {
		failed = 1
	}
	var timeZone *string
	if j.Schedule.TimeZone != "" {
		timeZone = ptr.To(j.Schedule.TimeZone)
	}
	cron := &batchv1.CronJob{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: Namespace, Labels: l},
		Spec: batchv1.CronJobSpec{
			Schedule:                   j.Schedule.Cron,
			TimeZone:                   timeZone,
			ConcurrencyPolicy:          batchv1.ForbidConcurrent,
			Suspend:                    ptr.To(j.Schedule.Suspend),
			SuccessfulJobsHistoryLimit: ptr.To(successful),
			FailedJobsHistoryLimit:     ptr.To(failed),
			JobTemplate: batchv1.JobTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: l},
				Spec: batchv1.JobSpec{
					BackoffLimit: ptr.To[int32](1),
					Template: corev1.PodTemplateSpec{
						ObjectMeta: metav1.ObjectMeta{Labels: l},
						Spec: corev1.PodSpec{
							ServiceAccountName: ServiceAccount,
							RestartPolicy:      corev1.RestartPolicyNever,
							SecurityContext: &corev1.PodSecurityContext{
								RunAsNonRoot:   ptr.To(true),
								RunAsUser:      ptr.To[int64](runAsUser),
								RunAsGroup:     ptr.To[int64](runAsUser),
								SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault},
							},
							Containers: []corev1.Container{{
								Name:            "backup",
								Image:           orDefault(j.Image, DefaultImage()),
								ImagePullPolicy: corev1.PullIfNotPresent,
								Command:         command,
								Args:            args,
								Env:             env,
								Resources:       corev1.ResourceRequirements{Limits: limits},
								SecurityContext: &corev1.SecurityContext{
									RunAsNonRoot:             ptr.To(true),
									ReadOnlyRootFilesystem:   ptr.To(true),
									AllowPrivilegeEscalation: ptr.To(false),
									Capabilities:             &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}},
								},
								VolumeMounts: []corev1.VolumeMount{{Name: "tmp", MountPath: "/tmp"}},
							}},
							// The root file system is read-only; the plugin's
							// cache and temporary files go to /tmp.
							Volumes: []corev1.Volume{{Name: "tmp", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}}},
						},
					},
				},
			},
		},
	}
	return secret, cron, nil
}

// ApplyJob creates or updates the schedule's Secret and CronJob.
func ApplyJob(ctx context.Context, c kubernetes.Interface, j *Job) (*batchv1.CronJob, error) {
	secret, cron, err := j.Objects()
	if err != nil {
		return nil, err
	}
	if err := apply(ctx, secret, c.CoreV1().Secrets(Namespace).Get, c.CoreV1().Secrets(Namespace).Create, c.CoreV1().Secrets(Namespace).Update,
		func(have, want *corev1.Secret) {
			have.Data = nil
			have.StringData = want.StringData
			have.Labels = want.Labels
		}); err != nil {
		// The error names the Secret, never its data.
		return nil, fmt.Errorf("writing secret %s/%s: %w", Namespace, secret.Name, err)
	}
	var out *batchv1.CronJob
	err = apply(ctx, cron, c.BatchV1().CronJobs(Namespace).Get,
		func(ctx context.Context, o *batchv1.CronJob, opts metav1.CreateOptions) (*batchv1.CronJob, error) {
			created, err := c.BatchV1().CronJobs(Namespace).Create(ctx, o, opts)
			out = created
			return created, err
		},
		func(ctx context.Context, o *batchv1.CronJob, opts metav1.UpdateOptions) (*batchv1.CronJob, error) {
			updated, err := c.BatchV1().CronJobs(Namespace).Update(ctx, o, opts)
			out = updated
			return updated, err
		},
		func(have, want *batchv1.CronJob) { have.Spec = want.Spec; have.Labels = want.Labels })
	if err != nil {
		return nil, fmt.Errorf("writing cron job %s/%s: %w", Namespace, cron.Name, err)
	}
	return out, nil
}

// GetJob reads a schedule's CronJob; nil, nil when there is none.
func GetJob(ctx context.Context, c kubernetes.Interface, schedule string) (*batchv1.CronJob, error) {
	cj, err := c.BatchV1().CronJobs(Namespace).Get(ctx, ObjectName(schedule), metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return nil, nil
	}
	return cj, err
}

// DeleteJob removes a schedule's CronJob and Secret; missing ones are not
// an error.
func DeleteJob(ctx context.Context, c kubernetes.Interface, schedule string) error {
	name := ObjectName(schedule)
	bg := metav1.DeletePropagationBackground
	err := c.BatchV1().CronJobs(Namespace).Delete(ctx, name, metav1.DeleteOptions{PropagationPolicy: &bg})
	if err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("deleting cron job %s/%s: %w", Namespace, name, err)
	}
	err = c.CoreV1().Secrets(Namespace).Delete(ctx, name, metav1.DeleteOptions{})
	if err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("deleting secret %s/%s: %w", Namespace, name, err)
	}
	return nil
}

// apply creates want, or updates what is there with set.
func apply[T metav1.Object](ctx context.Context, want T,
	get func(context.Context, string, metav1.GetOptions) (T, error),
	create func(context.Context, T, metav1.CreateOptions) (T, error),
	update func(context.Context, T, metav1.UpdateOptions) (T, error),
	set func(have, want T)) error {
	have, err := get(ctx, want.GetName(), metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		_, err = create(ctx, want, metav1.CreateOptions{})
		return err
	}
	if err != nil {
		return err
	}
	set(have, want)
	_, err = update(ctx, have, metav1.UpdateOptions{})
	return err
}
