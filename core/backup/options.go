// Package backup reads the resources of a cluster and stores them in a
// kbackup repository: one cluster-wide paginated LIST per resource type,
// split into one pack per namespace, packs first and the manifest last.
//
// Memory stays bounded as clusters grow: types are read a page at a time and
// stored a namespace at a time, never the whole cluster at once.
package backup

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/kbackup/kbackup/core/repo"
	"github.com/kbackup/kbackup/core/selection"
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
	// from ("flag", "config", "env CLUSTER_NAME").
	ClusterName, ClusterNameSource string
	// ForceClusterName writes under ClusterName even when another cluster
	// (another kube-system UID) holds it: for a cluster rebuilt under its
	// old name.
	ForceClusterName bool

	// IncludeNamespaces and ExcludeNamespaces are names or shell patterns
	// (team-*); empty includes every namespace.
	IncludeNamespaces, ExcludeNamespaces []string
	// IncludeResources and ExcludeResources are resource types as users
	// write them (deployments.apps, deploy, Deployment, cm); empty includes
	// every type but DefaultExclusions.
	IncludeResources, ExcludeResources []string
	LabelSelector                      string
	ClusterResources                   ClusterResources

	// MaxResourceSize skips objects whose stored YAML is larger than this
	// many bytes; 0 means DefaultMaxResourceSize, negative means no limit.
	MaxResourceSize int64
	// SkipInvalid records objects that cannot be stored as skipped and goes
	// on; otherwise their type fails.
	SkipInvalid bool

	// PageSize is the limit of each LIST request.
	PageSize int64
	// Concurrency is how many resource types are read at once.
	Concurrency int

	Labels map[string]string
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

// Validate checks the options that do not need the cluster.
func (o Options) Validate() error {
	var errs []error
	if o.Name != "" {
		if o.Name == "latest" {
			errs = append(errs, errors.New(`backup name "latest" is reserved: it names the newest backup; choose another name`))
		} else if err := repo.ValidateBackupID(o.Name); err != nil {
			errs = append(errs, fmt.Errorf("backup name: %w", err))
		}
	}
	if _, err := selection.NewNamespaces(o.IncludeNamespaces, o.ExcludeNamespaces); err != nil {
		errs = append(errs, err)
	}
	if _, err := selection.ParseLabelSelector(o.LabelSelector); err != nil {
		errs = append(errs, err)
	}
	if o.ForceClusterName && o.ClusterName == "" {
		errs = append(errs, errors.New("forcing the cluster name needs the name to claim: give it with --cluster-name (or CLUSTER_NAME, or cluster.name in the configuration)"))
	}
	for _, k := range slices.Sorted(maps.Keys(o.Labels)) {
		if problems := validation.IsQualifiedName(k); len(problems) > 0 {
			errs = append(errs, fmt.Errorf("backup label key %q: %s; want a label key like team or example.com/team", k, strings.Join(problems, "; ")))
		}
		if problems := validation.IsValidLabelValue(o.Labels[k]); len(problems) > 0 {
			errs = append(errs, fmt.Errorf("backup label %s: value %q: %s", k, o.Labels[k], strings.Join(problems, "; ")))
		}
	}
	switch o.ClusterResources {
	case "", ClusterResourcesAuto, ClusterResourcesOn, ClusterResourcesOff:
	default:
		errs = append(errs, fmt.Errorf("cluster resources %q: use auto, on or off", o.ClusterResources))
	}
	if o.PageSize < 0 || o.PageSize > 10000 {
		errs = append(errs, fmt.Errorf("page size %d: use 1 to 10000", o.PageSize))
	}
	if o.Concurrency < 0 || o.Concurrency > 64 {
		errs = append(errs, fmt.Errorf("concurrency %d: use 1 to 64", o.Concurrency))
	}
	return errors.Join(errs...)
}
