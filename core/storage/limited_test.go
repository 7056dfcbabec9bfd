package storage

import (
	"bytes"
	"context"
	"runtime"
	"strings"
	"testing"
)

// GetAtMost takes an object of the expected size, and refuses a larger one
// after reading no more than the limit: a crafted object of any size costs
// a reader what it expected, not what the object holds. The refusal is an
// answer, not an outage: the circuit breaker stays closed.
func TestGetAtMostRefusesMoreThanTheLimit(t *testing.T) {
	forEachStore(t, func(t *testing.T, s store) {
		ctx := context.Background()
		b, err := Open(s.loc, s.creds, Options{FailuresToTrip: 1})
		if err != nil {
			t.Fatal(err)
		}
		if err := b.Put(ctx, "small", []byte("12345")); err != nil {
			t.Fatal(err)
		}
		const big = 32 << 20
		if err := b.Put(ctx, "big", bytes.Repeat([]byte{'x'}, big)); err != nil {
			t.Fatal(err)
		}
		got, err := GetAtMost(ctx, b, "small", 5)
		if err != nil || string(got) != "12345" {
			t.Fatalf("GetAtMost(small, 5) = %q, %v", got, err)
		}
		_, err = GetAtMost(ctx, b, "small", 4)
		mustIs(t, err, ErrTooLarge)
		if !strings.Contains(err.Error(), "small") || !strings.Contains(err.Error(), "more than 4 bytes") {
			t.Errorf("error %q does not name the key and the limit", err)
		}

		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		for range 3 {
			_, err = GetAtMost(ctx, b, "big", 1<<10)
			mustIs(t, err, ErrTooLarge)
		}
		runtime.ReadMemStats(&after)
		if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 8<<20 {
			t.Errorf("three refused reads of a %d MiB object allocated %d MiB; want a few KiB each", big>>20, alloc>>20)
		}
		// Still answering, and not counted as a failure of the storage.
		if _, err := GetAtMost(ctx, b, "small", 5); err != nil {
			t.Errorf("after the refusals: %v", err)
		}
		_, err = GetAtMost(ctx, b, "missing", 5)
		mustIs(t, err, ErrNotFound)
	})
}
