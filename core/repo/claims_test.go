package repo

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/kbackup/kbackup/core/storage"
)

// Of many schedulers claiming one cluster's slot at once, exactly one wins;
// the others get ErrSlotClaimed. The winner records the outcome; old claims
// are collected.
func TestSlotClaimIsWonOnce(t *testing.T) {
	forEachStore(t, func(t *testing.T, s store) {
		r := openRepo(t, s.opts)
		ctx := context.Background()
		slot := time.Date(2026, 11, 29, 2, 0, 0, 0, time.UTC)
		var wg sync.WaitGroup
		results := make([]error, 8)
		for i := range results {
			wg.Go(func() {
				results[i] = r.ClaimSlot(ctx, &SlotClaim{Schedule: "nightly", Slot: slot, Cluster: "prod-eu", ClaimedBy: "host/" + string(rune('a'+i)), ClaimedAt: slot, RunID: "run-1"})
			})
		}
		wg.Wait()
		won := 0
		for _, err := range results {
			switch {
			case err == nil:
				won++
			case !errors.Is(err, ErrSlotClaimed) || !errors.Is(err, storage.ErrAlreadyExists):
				t.Errorf("a losing claim: %v", err)
			}
		}
		if won != 1 {
			t.Fatalf("%d claims won, want 1", won)
		}
		c, err := r.GetSlotClaim(ctx, "nightly", slot, "prod-eu")
		if err != nil || c.State != ClaimRunning {
			t.Fatalf("claim %+v, %v", c, err)
		}
		c.State, c.BackupID, c.EndedAt = ClaimCompleted, "20261129T020001Z-abcdef", slot.Add(time.Minute)
		if err := r.RecordSlot(ctx, c); err != nil {
			t.Fatal(err)
		}
		if got, _ := r.GetSlotClaim(ctx, "nightly", slot, "prod-eu"); got.State != ClaimCompleted || got.BackupID != c.BackupID {
			t.Errorf("recorded claim: %+v", got)
		}
		// Another cluster of the same slot, and a later slot, are claims of
		// their own.
		for _, other := range []*SlotClaim{{Schedule: "nightly", Slot: slot, Cluster: "prod-us"}, {Schedule: "nightly", Slot: slot.Add(24 * time.Hour), Cluster: "prod-eu"}} {
			if err := r.ClaimSlot(ctx, other); err != nil {
				t.Errorf("claiming %+v: %v", other, err)
			}
		}
		keys, err := r.ListSlotClaims(ctx, "nightly")
		if err != nil || len(keys) != 3 || !keys[0].Slot.Equal(slot) || keys[2].Slot != slot.Add(24*time.Hour) {
			t.Fatalf("claims %+v, %v", keys, err)
		}
		n, err := r.DeleteSlotClaims(ctx, "nightly", slot.Add(time.Hour))
		if err != nil || n != 2 {
			t.Fatalf("deleted %d, %v; want the two claims of the first slot", n, err)
		}
		if _, err := r.GetSlotClaim(ctx, "nightly", slot, "prod-eu"); !errors.Is(err, storage.ErrNotFound) {
			t.Errorf("a deleted claim reads %v", err)
		}
	})
}

func TestSlotClaimRefusesBadNames(t *testing.T) {
	r := openRepo(t, localStore(t).opts)
	ctx := context.Background()
	for _, c := range []*SlotClaim{
		{Schedule: "../x", Slot: time.Now(), Cluster: "prod-eu"},
		{Schedule: "nightly", Slot: time.Now(), Cluster: "Prod_EU"},
		{Schedule: "nightly", Cluster: "prod-eu"},
	} {
		if err := r.ClaimSlot(ctx, c); !errors.Is(err, storage.ErrInvalid) {
			t.Errorf("claim %+v: %v, want ErrInvalid", c, err)
		}
	}
}
