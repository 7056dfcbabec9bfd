// Package backup reads the resources of a cluster and stores them in a
// kbackup repository: one cluster-wide paginated LIST per resource type,
// split into one pack per namespace, packs first and the manifest last.
//
// Memory stays bounded as clusters grow: types are read a page at a time and
// stored a namespace at a time, never the whole cluster at once.
package backup

import (
	"fmt"
	"time"

	"github.com/sony/gobreaker/v2"

	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/kbackup/kbackup/core/fleet"
	"github.com/kbackup/kbackup/core/repo"
)

// Defaults of Options.
const (
	DefaultPageSize        = 500
	DefaultConcurrency     = 4
	DefaultMaxResourceSize = 10 << 20
	// exactNamespaceLimit is how many named namespaces are listed one by
	// one instead of with one cluster-wide LIST.
	exactNamespaceLimit = 10
)

// Options says what a backup takes and how.
type Options struct {
	// Name becomes the backup's ID; empty means a new time-ordered ID.
	Name string
	// ClusterName overrides detection; ClusterNameSource says where it came
	// from ("explicit", "config", "env"), as manifests record it.
	ClusterName, ClusterNameSource string
	// ForceClusterName writes under ClusterName even when another cluster
	// (another kube-system UID) holds it: for a cluster rebuilt under its
	// old name.
	ForceClusterName bool

	// BackupSpec is what the backup takes: namespaces, resource types,
	// label selector, cluster-scoped resources, size limit, labels. The
	// plugin's flags, kbackup.yaml and a schedule all give one.
	fleet.BackupSpec

	// RunID is the ID of the run the backup belongs to (a fleet run, or the
	// one command that made it), recorded in the manifest so that the
	// backups of one run can be found together, and in logs.
	RunID string
	// APIBreaker is the circuit breaker of the cluster's API server; a run
	// that tries a cluster more than once shares one between its attempts
	// (NewAPIBreaker). Nil gives the backup one of its own.
	APIBreaker *gobreaker.CircuitBreaker[any]

	// PageSize is the limit of each LIST request.
	PageSize int64
	// Concurrency is how many resource types are read at once.
	Concurrency int

	// Progress receives events as the backup goes; it is called from
	// several goroutines, one event at a time.
	Progress func(Event)
	// Now is the clock (tests); defaults to time.Now.
	Now func() time.Time
}

func (o Options) withDefaults() Options {
	if o.PageSize <= 0 {
		o.PageSize = DefaultPageSize
	}
	if o.Concurrency <= 0 {
		o.Concurrency = DefaultConcurrency
	}
	if o.MaxResourceSize == 0 {
		o.MaxResourceSize = DefaultMaxResourceSize
	}
	if o.ClusterResources == "" {
		o.ClusterResources = ClusterResourcesAuto
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Progress == nil {
		o.Progress = func(Event) {}
	}
	return o
}

// Validate checks the options that do not need the cluster. Its errors
// are field errors (k8s.io/apimachinery/pkg/util/validation/field) whose
// paths are name, cluster_name, page_size, concurrency and, for the spec,
// spec.include_namespaces[i], spec.label_selector, spec.labels[key] and
// so on; it returns their aggregate, or nil.
func (o Options) Validate() error {
	var errs field.ErrorList
	if o.Name != "" {
		name := field.NewPath("name")
		if o.Name == "latest" {
			errs = append(errs, field.Invalid(name, o.Name, "is reserved: it names the newest backup; want another name"))
		} else if err := repo.ValidateBackupID(o.Name); err != nil {
			errs = append(errs, fleet.ValidateName(name, o.Name)...)
		}
	}
	errs = append(errs, o.BackupSpec.Validate(field.NewPath("spec"))...)
	if o.RunID != "" {
		if err := repo.ValidateRunID(o.RunID); err != nil {
			errs = append(errs, field.Invalid(field.NewPath("run_id"), o.RunID, "want 1 to 128 letters, digits, '-' and '_', starting with a letter or digit"))
		}
	}
	if o.ForceClusterName && o.ClusterName == "" {
		errs = append(errs, field.Required(field.NewPath("cluster_name"), "forcing the cluster name needs the name to claim"))
	}
	if o.PageSize < 0 || o.PageSize > fleet.MaxPageSize {
		errs = append(errs, field.Invalid(field.NewPath("page_size"), o.PageSize, fmt.Sprintf("want 1 to %d", fleet.MaxPageSize)))
	}
	if o.Concurrency < 0 || o.Concurrency > 64 {
		errs = append(errs, field.Invalid(field.NewPath("concurrency"), o.Concurrency, "want 1 to 64"))
	}
	return errs.ToAggregate()
}
