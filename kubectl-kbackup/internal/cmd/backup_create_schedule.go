package cmd

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/kbackup/kbackup/core/fleet"
	"github.com/kbackup/kbackup/core/prune"
	"github.com/kbackup/kbackup/core/repo"
	"github.com/kbackup/kbackup/core/storage"
)

// scheduleExcludes are the flags that --schedule replaces: the schedule
// says what to back up.
var scheduleExcludes = []string{"include-namespaces", "exclude-namespaces", "include-resources", "exclude-resources",
	"selector", "cluster-resources", "all-namespaces"}

func validateScheduleFlags(name string, changed func(string) bool) error {
	var given []string
	for _, f := range scheduleExcludes {
		if changed(f) {
			given = append(given, "--"+f)
		}
	}
	if len(given) > 0 {
		return fmt.Errorf("--schedule %s takes what to back up from the schedule; leave out %s", name, strings.Join(given, ", "))
	}
	return nil
}

// useSchedule reads the stored schedule and takes its spec and cluster.
func (o *BackupCreateOptions) useSchedule(ctx context.Context) error {
	opts := o.primary
	opts.Create = false
	r, err := repo.Open(ctx, opts)
	if err != nil {
		return fmt.Errorf("--schedule %s: %w", o.Schedule, err)
	}
	s, err := r.GetSchedule(ctx, o.Schedule)
	if errors.Is(err, storage.ErrNotFound) {
		// Name the schedules there are: the name is most often misspelt.
		names := []string{}
		schedules, _ := r.ListSchedules(ctx)
		for _, s := range schedules {
			names = append(names, s.Name)
		}
		have := "it has none: a Terraform kbackup_schedule stores them under _fleet/schedules/"
		if len(names) > 0 {
			have = "it has " + strings.Join(names, ", ")
		}
		return fmt.Errorf("--schedule %s: the repository %s has no such schedule; %s", o.Schedule, r, have)
	}
	if err != nil {
		return fmt.Errorf("--schedule %s: %w", o.Schedule, err)
	}
	o.schedule = s
	// The schedule says what to take; the configuration's size limit and
	// skipping stay unless the schedule sets its own.
	o.options.Selection = s.Spec.Selection
	o.options.Labels = mergeLabels(s.Spec.Labels, o.options.Labels)
	if s.Spec.MaxResourceSize != 0 {
		o.options.MaxResourceSize = s.Spec.MaxResourceSize
	}
	o.options.SkipInvalid = o.options.SkipInvalid || s.Spec.SkipInvalid
	if s.Cluster != "" && !o.changed("cluster-name") {
		o.options.ClusterName, o.options.ClusterNameSource = s.Cluster, "schedule"
	}
	return nil
}

func mergeLabels(a, b map[string]string) map[string]string {
	if len(a) == 0 && len(b) == 0 {
		return nil
	}
	out := map[string]string{}
	for k, v := range a {
		out[k] = v
	}
	for k, v := range b {
		out[k] = v
	}
	return out
}

// scheduleRetention is the retention the schedule gives the cluster's
// backups, nil when it gives none.
func (o *BackupCreateOptions) scheduleRetention(ctx context.Context, r *repo.Repository, cluster string) (*fleet.RetentionRules, error) {
	env := ""
	if e, err := r.GetCluster(ctx, cluster); err == nil {
		env = e.Environment
	} else if !errors.Is(err, storage.ErrNotFound) {
		return nil, err
	}
	return prune.ScheduleRules(ctx, r, o.schedule, env)
}
