package prune

import (
	"context"
	"fmt"

	"github.com/kbackup/kbackup/core/fleet"
	"github.com/kbackup/kbackup/core/repo"
)

// ScheduleRules are the retention rules a schedule gives the backups of a
// cluster of the given environment: its own rules, or its named policy's
// (the environment's days when the policy has them, else the policy's
// rules). Nil when the schedule says nothing for the cluster, which then
// keeps the retention of its entry, environment or repository. A named
// policy that is missing is an error: pruning by a policy nobody can read
// could delete what it was meant to keep.
func ScheduleRules(ctx context.Context, r *repo.Repository, s *fleet.Schedule, environment string) (*fleet.RetentionRules, error) {
	if s.Retention.Policy == "" {
		if s.Retention.RetentionRules.Empty() {
			return nil, nil
		}
		rules := s.Retention.RetentionRules
		return &rules, nil
	}
	p, err := r.GetRetentionPolicy(ctx, s.Retention.Policy)
	if err != nil {
		return nil, fmt.Errorf("schedule %s names retention policy %s: %w", s.Name, s.Retention.Policy, err)
	}
	if days, ok := p.DaysByEnvironment[environment]; ok && environment != "" {
		return &fleet.RetentionRules{KeepWithin: fmt.Sprintf("%dd", days)}, nil
	}
	if p.RetentionRules.Empty() {
		return nil, nil
	}
	rules := p.RetentionRules
	return &rules, nil
}
