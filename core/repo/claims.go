package repo

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/kbackup/kbackup/core/storage"
)

// A slot claim, _fleet/claims/<schedule>/<slot>/<cluster>.json, is how
// several schedulers (replicas of `serve --scheduler`) on one repository run
// each scheduled backup once: the scheduler that wants to back up a cluster
// in a slot first creates the claim with a conditional write (If-None-Match:
// *, which Create checks the storage honours). Exactly one creation
// succeeds; every other scheduler gets storage.ErrAlreadyExists and leaves
// the cluster alone for that slot. The winner then rewrites the claim with
// how the backup ended, so the claim is also the record of the slot.

// SlotFormat is how a slot's time is written in a claim's key: UTC, to the
// second, sorting by time.
const SlotFormat = "20060102T150405Z"

// FormatSlot returns the key segment of a slot.
func FormatSlot(t time.Time) string { return t.UTC().Format(SlotFormat) }

// ParseSlot reads a slot's key segment back.
func ParseSlot(s string) (time.Time, error) {
	t, err := time.Parse(SlotFormat, s)
	if err != nil {
		return time.Time{}, invalidf("slot %q: want a UTC time like 20260102T030405Z", s)
	}
	return t, nil
}

// ClaimState is where a claimed slot is.
type ClaimState string

// States of a claim.
const (
	// ClaimRunning: claimed, the backup has not ended (or its scheduler
	// died before writing how it ended).
	ClaimRunning ClaimState = "Running"
	// ClaimCompleted, ClaimPartiallyFailed, ClaimFailed: a backup was
	// stored, with that phase.
	ClaimCompleted       ClaimState = ClaimState(PhaseCompleted)
	ClaimPartiallyFailed ClaimState = ClaimState(PhasePartiallyFailed)
	ClaimFailed          ClaimState = ClaimState(PhaseFailed)
	// ClaimNotBackedUp: no backup was stored (the cluster did not answer,
	// storage failed); Error says why.
	ClaimNotBackedUp ClaimState = "NotBackedUp"
	// ClaimInterrupted: the scheduler was shut down before the backup
	// ended, or before it started.
	ClaimInterrupted ClaimState = "Interrupted"
)

// SlotClaim is the content of a claim.
type SlotClaim struct {
	FormatVersion int       `json:"formatVersion"`
	Schedule      string    `json:"schedule"`
	Slot          time.Time `json:"slot"`
	Cluster       string    `json:"cluster"`
	// ClaimedBy names the scheduler (host and process) that claimed it.
	ClaimedBy string     `json:"claimedBy"`
	ClaimedAt time.Time  `json:"claimedAt"`
	RunID     string     `json:"runId"`
	State     ClaimState `json:"state"`
	// BackupID is the backup stored, when one was.
	BackupID string    `json:"backupId,omitempty"`
	EndedAt  time.Time `json:"endedAt,omitzero"`
	Error    string    `json:"error,omitempty"`
}

func (c *SlotClaim) validate() error {
	if c.Schedule == "" || c.Cluster == "" || c.Slot.IsZero() {
		return invalidf("slot claim: schedule, slot and cluster are required")
	}
	if err := validateID("schedule name", c.Schedule); err != nil {
		return err
	}
	if err := ValidateClusterName(c.Cluster); err != nil {
		return err
	}
	if c.RunID != "" {
		if err := ValidateRunID(c.RunID); err != nil {
			return err
		}
	}
	return nil
}

// ErrSlotClaimed is returned by ClaimSlot when another scheduler claimed the
// slot first; it wraps storage.ErrAlreadyExists.
var ErrSlotClaimed = fmt.Errorf("slot already claimed: %w", storage.ErrAlreadyExists)

// ClaimSlot claims a cluster's backup in a slot of a schedule: it creates
// the claim only if there is none. It returns ErrSlotClaimed when another
// scheduler (or an earlier run of this one) has it.
func (r *Repository) ClaimSlot(ctx context.Context, c *SlotClaim) error {
	c.FormatVersion = FormatVersion
	c.Slot = c.Slot.UTC().Truncate(time.Second)
	if c.State == "" {
		c.State = ClaimRunning
	}
	if err := c.validate(); err != nil {
		return err
	}
	data, err := marshalJSON(c)
	if err != nil {
		return err
	}
	err = r.backend.PutIfAbsent(ctx, r.layout.Claim(c.Schedule, FormatSlot(c.Slot), c.Cluster), data)
	if errors.Is(err, storage.ErrAlreadyExists) {
		return ErrSlotClaimed
	}
	return err
}

// RecordSlot rewrites a claim this scheduler holds with how its backup
// ended.
func (r *Repository) RecordSlot(ctx context.Context, c *SlotClaim) error {
	if err := c.validate(); err != nil {
		return err
	}
	data, err := marshalJSON(c)
	if err != nil {
		return err
	}
	return r.backend.Put(ctx, r.layout.Claim(c.Schedule, FormatSlot(c.Slot), c.Cluster), data)
}

// GetSlotClaim reads a claim; storage.ErrNotFound when the slot was not
// claimed for the cluster.
func (r *Repository) GetSlotClaim(ctx context.Context, schedule string, slot time.Time, cluster string) (*SlotClaim, error) {
	c := &SlotClaim{Schedule: schedule, Slot: slot, Cluster: cluster}
	if err := c.validate(); err != nil {
		return nil, err
	}
	key := r.layout.Claim(schedule, FormatSlot(slot), cluster)
	data, err := r.backend.Get(ctx, key)
	if err != nil {
		return nil, err
	}
	out := new(SlotClaim)
	if err := decodeStrict(data, out); err != nil {
		return nil, fmt.Errorf("slot claim %s in %s: %w: %v", key, r.backend, ErrCorrupt, err)
	}
	if out.Schedule != schedule || out.Cluster != cluster || !out.Slot.Equal(slot.UTC().Truncate(time.Second)) {
		return nil, fmt.Errorf("slot claim %s in %s: %w: it names schedule %q, slot %s, cluster %q", key, r.backend, ErrCorrupt, out.Schedule, out.Slot, out.Cluster)
	}
	return out, nil
}

// SlotClaimKey names one claim.
type SlotClaimKey struct {
	Schedule string
	Slot     time.Time
	Cluster  string
}

// ListSlotClaims lists the claims of a schedule, oldest slot first, without
// reading them.
func (r *Repository) ListSlotClaims(ctx context.Context, schedule string) ([]SlotClaimKey, error) {
	if err := validateID("schedule name", schedule); err != nil {
		return nil, err
	}
	var out []SlotClaimKey
	for obj, err := range r.backend.List(ctx, r.layout.Claims(schedule)) {
		if err != nil {
			return nil, err
		}
		info, err := r.layout.Parse(obj.Key)
		if err != nil || info.Kind != KindClaim || info.Name != schedule {
			continue
		}
		slot, _ := ParseSlot(info.Slot)
		out = append(out, SlotClaimKey{Schedule: schedule, Slot: slot, Cluster: info.Cluster})
	}
	slices.SortFunc(out, func(a, b SlotClaimKey) int {
		if c := a.Slot.Compare(b.Slot); c != 0 {
			return c
		}
		return strings.Compare(a.Cluster, b.Cluster)
	})
	return out, nil
}

// DeleteSlotClaims removes a schedule's claims of slots before the given
// time: a slot that old is outside every catch-up window, so nobody will
// try to claim it again. It returns how many it removed.
func (r *Repository) DeleteSlotClaims(ctx context.Context, schedule string, before time.Time) (int, error) {
	keys, err := r.ListSlotClaims(ctx, schedule)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, k := range keys {
		if !k.Slot.Before(before) {
			break
		}
		if err := r.backend.Delete(ctx, r.layout.Claim(k.Schedule, FormatSlot(k.Slot), k.Cluster)); err != nil {
			return n, err
		}
		n++
	}
	return n, nil
}
