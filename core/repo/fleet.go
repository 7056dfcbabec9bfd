package repo

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"golang.org/x/sync/errgroup"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/kbackup/kbackup/core/fleet"
	"github.com/kbackup/kbackup/core/storage"
)

// The fleet's schedules and retention policies, stored under _fleet/ as
// JSON (docs/repository-format.md). Each write validates the object with
// the fleet's rules (field errors under "schedule" or "retention", wrapping
// storage.ErrInvalid); each read checks it again, and reports an object that
// does not pass as ErrCorrupt. Create writes conditionally, as the cluster
// registry does: of two writers creating one name, one wins and the other
// gets storage.ErrAlreadyExists.

// CreateSchedule stores a new schedule; storage.ErrAlreadyExists when the
// name is taken.
func (r *Repository) CreateSchedule(ctx context.Context, s *fleet.Schedule) error {
	return putFleet(ctx, r, r.layout.Schedule(s.Name), s, s.Validate(field.NewPath("schedule")), true)
}

// PutSchedule stores a schedule, replacing any of its name.
func (r *Repository) PutSchedule(ctx context.Context, s *fleet.Schedule) error {
	return putFleet(ctx, r, r.layout.Schedule(s.Name), s, s.Validate(field.NewPath("schedule")), false)
}

// GetSchedule reads a schedule; storage.ErrNotFound when there is none.
func (r *Repository) GetSchedule(ctx context.Context, name string) (*fleet.Schedule, error) {
	if err := invalidFields(fleet.ValidateName(field.NewPath("schedule", "name"), name)); err != nil {
		return nil, err
	}
	s := new(fleet.Schedule)
	if err := getFleet(ctx, r, r.layout.Schedule(name), name, s, func() (string, field.ErrorList) {
		return s.Name, s.Validate(field.NewPath("schedule"))
	}); err != nil {
		return nil, err
	}
	return s, nil
}

// DeleteSchedule removes a schedule; removing a missing one is not an
// error.
func (r *Repository) DeleteSchedule(ctx context.Context, name string) error {
	if err := invalidFields(fleet.ValidateName(field.NewPath("schedule", "name"), name)); err != nil {
		return err
	}
	return r.backend.Delete(ctx, r.layout.Schedule(name))
}

// ListSchedules reads every schedule, sorted by name.
func (r *Repository) ListSchedules(ctx context.Context) ([]*fleet.Schedule, error) {
	return listFleet(ctx, r, r.layout.Schedules(), KindSchedule, r.GetSchedule, func(s *fleet.Schedule) string { return s.Name })
}

// CreateRetentionPolicy stores a new retention policy;
// storage.ErrAlreadyExists when the name is taken.
func (r *Repository) CreateRetentionPolicy(ctx context.Context, p *fleet.RetentionPolicy) error {
	return putFleet(ctx, r, r.layout.RetentionPolicy(p.Name), p, p.Validate(field.NewPath("retention")), true)
}

// PutRetentionPolicy stores a retention policy, replacing any of its name.
func (r *Repository) PutRetentionPolicy(ctx context.Context, p *fleet.RetentionPolicy) error {
	return putFleet(ctx, r, r.layout.RetentionPolicy(p.Name), p, p.Validate(field.NewPath("retention")), false)
}

// GetRetentionPolicy reads a retention policy; storage.ErrNotFound when
// there is none.
func (r *Repository) GetRetentionPolicy(ctx context.Context, name string) (*fleet.RetentionPolicy, error) {
	if err := invalidFields(fleet.ValidateName(field.NewPath("retention", "name"), name)); err != nil {
		return nil, err
	}
	p := new(fleet.RetentionPolicy)
	if err := getFleet(ctx, r, r.layout.RetentionPolicy(name), name, p, func() (string, field.ErrorList) {
		return p.Name, p.Validate(field.NewPath("retention"))
	}); err != nil {
		return nil, err
	}
	return p, nil
}

// DeleteRetentionPolicy removes a retention policy; removing a missing one
// is not an error. Schedules that name it are not checked.
func (r *Repository) DeleteRetentionPolicy(ctx context.Context, name string) error {
	if err := invalidFields(fleet.ValidateName(field.NewPath("retention", "name"), name)); err != nil {
		return err
	}
	return r.backend.Delete(ctx, r.layout.RetentionPolicy(name))
}

// ListRetentionPolicies reads every retention policy, sorted by name.
func (r *Repository) ListRetentionPolicies(ctx context.Context) ([]*fleet.RetentionPolicy, error) {
	return listFleet(ctx, r, r.layout.RetentionPolicies(), KindRetentionPolicy, r.GetRetentionPolicy, func(p *fleet.RetentionPolicy) string { return p.Name })
}

func putFleet(ctx context.Context, r *Repository, key string, v any, errs field.ErrorList, create bool) error {
	if err := invalidFields(errs); err != nil {
		return err
	}
	data, err := marshalJSON(v)
	if err != nil {
		return err
	}
	if create {
		return r.backend.PutIfAbsent(ctx, key, data)
	}
	return r.backend.Put(ctx, key, data)
}

func getFleet(ctx context.Context, r *Repository, key, name string, v any, check func() (string, field.ErrorList)) error {
	data, err := r.backend.Get(ctx, key)
	if err != nil {
		return err
	}
	if err := decodeStrict(data, v); err != nil {
		return fmt.Errorf("%s %s in %s: %w: %v", describeKey(key), key, r.backend, ErrCorrupt, err)
	}
	stored, errs := check()
	if len(errs) > 0 {
		return fmt.Errorf("%s %s in %s: %w: %v", describeKey(key), key, r.backend, ErrCorrupt, errs.ToAggregate())
	}
	if stored != name {
		return fmt.Errorf("%s %s in %s: %w: it is named %q", describeKey(key), key, r.backend, ErrCorrupt, stored)
	}
	return nil
}

// listFleet reads every object of a kind under prefix, concurrently,
// sorted by name; objects deleted since the listing are left out.
func listFleet[T any](ctx context.Context, r *Repository, prefix string, kind KeyKind, get func(context.Context, string) (*T, error), name func(*T) string) ([]*T, error) {
	var names []string
	for obj, err := range r.backend.List(ctx, prefix) {
		if err != nil {
			return nil, err
		}
		if info, err := r.layout.Parse(obj.Key); err == nil && info.Kind == kind {
			names = append(names, info.Name)
		}
	}
	out := make([]*T, len(names))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(r.opts.Concurrency)
	for i, n := range names {
		g.Go(func() error {
			v, err := get(gctx, n)
			if errors.Is(err, storage.ErrNotFound) {
				return nil
			}
			out[i] = v
			return err
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	out = slices.DeleteFunc(out, func(v *T) bool { return v == nil })
	slices.SortFunc(out, func(a, b *T) int { return strings.Compare(name(a), name(b)) })
	return out, nil
}
