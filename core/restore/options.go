// Package restore brings the objects of a backup back into a cluster, the
// one they came from or another: it plans (selects, cleans, maps
// namespaces, orders by dependency and compares with the live target)
// before anything changes, then applies the plan concurrently, stage by
// stage, and records what happened to every object.
//
// A front end calls NewPlan, shows the plan (Plan.Summary, Plan.Differing),
// asks for confirmation, and calls Apply, drawing Options.Progress events
// as they come and rendering the Result. docs/restore.md explains every
// rule.
package restore

import (
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/kbackup/kbackup/core/clean"
	"github.com/kbackup/kbackup/core/repo"
	"github.com/kbackup/kbackup/core/selection"
)

// Defaults of Options.
const (
	DefaultConcurrency = 16
	DefaultCRDTimeout  = time.Minute
	// FieldManager owns the fields kbackup creates and applies.
	FieldManager = "kbackup"
)

// ExistingResourcePolicy says what happens to a selected object that
// already exists in the target and differs from the backup (after
// cleaning). An existing object that does not differ is Unchanged under
// every policy.
type ExistingResourcePolicy string

const (
	// PolicySkip leaves the live object as it is and reports it as Skipped,
	// with the diff from the backup to the live object.
	PolicySkip ExistingResourcePolicy = "skip"
	// PolicyUpdate makes the live object hold what the backup holds, by
	// server-side apply with field manager "kbackup", forcing conflicts.
	PolicyUpdate ExistingResourcePolicy = "update"
	// PolicyFail refuses the whole restore, before anything changes, when
	// any selected object exists and differs (Apply returns
	// ErrExistingObjects).
	PolicyFail ExistingResourcePolicy = "fail"
)

// ObjectRef names one object of a backup.
type ObjectRef struct {
	// Resource is a type as users write it: "deployments.apps", "deploy",
	// "Deployment".
	Resource string `json:"resource"`
	// Namespace is the object's namespace in the backup, "" for a
	// cluster-scoped object.
	Namespace string `json:"namespace,omitempty"`
	Name      string `json:"name"`
}

// Options say what a restore takes from a backup and how it applies it.
// The zero value restores everything with the skip policy.
type Options struct {
	// Selection selects what the backup holds: namespaces by their names
	// in the backup (source names), resource types resolved against the
	// target's discovery and, for types the target does not serve, against
	// the backup (catalog.TypeNames). Under ClusterResourcesAuto a
	// namespace restore takes the cluster-scoped objects its namespaces
	// need (selection.Related).
	selection.Selection
	// Object restores a single object (and its Namespace when needed).
	Object *ObjectRef `json:"object,omitempty"`
	// NamespaceMapping renames namespaces, and the references to them
	// (clean.MappedReferences).
	NamespaceMapping clean.NamespaceMapping `json:"namespaceMapping,omitempty"`
	// IncludeOwned restores objects whose controller is restored too
	// (ReplicaSets of Deployments, Pods, Jobs of CronJobs, ...), which are
	// otherwise left for the controller to make.
	IncludeOwned bool `json:"includeOwned,omitempty"`
	// PreserveNodePorts keeps the node ports of Services.
	PreserveNodePorts bool `json:"preserveNodePorts,omitempty"`

	// ExistingResourcePolicy is skip (default), update or fail.
	ExistingResourcePolicy ExistingResourcePolicy `json:"existingResourcePolicy,omitempty"`
	// DryRun sends every write with dryRun=All: the target's admission and
	// validation answer, and nothing changes. No record is written.
	DryRun bool `json:"dryRun,omitempty"`
	// Concurrency bounds the requests in flight (default 16). The target
	// client's rate limit (kube.ClientOptions.QPS) bounds them too.
	Concurrency int `json:"concurrency,omitempty"`
	// CRDTimeout bounds the wait for restored CustomResourceDefinitions to
	// be Established (default 1 minute).
	CRDTimeout time.Duration `json:"-"`

	// TargetClusterName overrides the detected name of the target, under
	// which the restore is recorded; TargetClusterNameSource says where it
	// came from ("explicit", "env", "config").
	TargetClusterName       string `json:"-"`
	TargetClusterNameSource string `json:"-"`
	// ForceClusterName records under TargetClusterName even when another
	// cluster (another kube-system UID) holds the name.
	ForceClusterName bool `json:"-"`
	// RestoreID names the restore; empty means a new time-ordered ID.
	RestoreID string `json:"-"`
	// RunID is the ID of the command that runs the restore, recorded with
	// it (Result.RunID) and in its logs.
	RunID string `json:"-"`

	// Progress receives events while Apply runs, from several goroutines,
	// one event at a time.
	Progress func(Event) `json:"-"`
	// Now is the clock (tests); defaults to time.Now.
	Now func() time.Time `json:"-"`
}

func (o Options) withDefaults() Options {
	if o.ClusterResources == "" {
		o.ClusterResources = selection.ClusterResourcesAuto
	}
	if o.ExistingResourcePolicy == "" {
		o.ExistingResourcePolicy = PolicySkip
	}
	if o.Concurrency <= 0 {
		o.Concurrency = DefaultConcurrency
	}
	if o.CRDTimeout <= 0 {
		o.CRDTimeout = DefaultCRDTimeout
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Progress == nil {
		o.Progress = func(Event) {}
	}
	return o
}

// Field names of Options in error paths (with those of selection.Selection).
const (
	FieldObject                 = "object"
	FieldExistingResourcePolicy = "existing_resource_policy"
	FieldNamespaceMapping       = "namespace_mapping"
	FieldConcurrency            = "concurrency"
	FieldRestoreID              = "restore_id"
)

// Validate checks the options that do not need a cluster or a backup. Its
// errors are field errors (k8s.io/apimachinery/pkg/util/validation/field)
// naming the field, which front ends map to a flag or an attribute.
func (o Options) Validate() error {
	errs := o.Selection.Validate(nil)
	if o.Object != nil {
		if o.Object.Resource == "" {
			errs = append(errs, field.Required(field.NewPath(FieldObject, "resource"), "the type of the single object to restore"))
		}
		if o.Object.Name == "" {
			errs = append(errs, field.Required(field.NewPath(FieldObject, "name"), "the name of the single object to restore"))
		}
	}
	switch o.ExistingResourcePolicy {
	case "", PolicySkip, PolicyUpdate, PolicyFail:
	default:
		errs = append(errs, field.NotSupported(field.NewPath(FieldExistingResourcePolicy), o.ExistingResourcePolicy,
			[]ExistingResourcePolicy{PolicySkip, PolicyUpdate, PolicyFail}))
	}
	if err := o.NamespaceMapping.Validate(); err != nil {
		errs = append(errs, field.Invalid(field.NewPath(FieldNamespaceMapping), o.NamespaceMapping.String(), err.Error()))
	}
	if o.Concurrency < 0 || o.Concurrency > 256 {
		errs = append(errs, field.Invalid(field.NewPath(FieldConcurrency), o.Concurrency, "use 1 to 256"))
	}
	if o.RunID != "" {
		if err := repo.ValidateRunID(o.RunID); err != nil {
			errs = append(errs, field.Invalid(field.NewPath("run_id"), o.RunID, "want 1 to 128 letters, digits, '-' and '_', starting with a letter or digit"))
		}
	}
	if o.RestoreID != "" {
		if err := repo.ValidateBackupID(o.RestoreID); err != nil {
			errs = append(errs, field.Invalid(field.NewPath(FieldRestoreID), o.RestoreID, strings.Replace(err.Error(), "backup ID", "restore ID", 1)))
		}
	}
	return errs.ToAggregate()
}
