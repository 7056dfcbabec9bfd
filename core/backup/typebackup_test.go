package backup

import (
	"slices"
	"testing"
)

// Namespaces in the order etcd returns their objects: by the bytes of
// <namespace>/<name>, where '-' and '.' sort before '/'.
func TestKeyOrder(t *testing.T) {
	want := []string{"shop-dev", "shop-prod", "shop.b", "shop", "shop0", "shopping"}
	got := []string{"shop", "shopping", "shop.b", "shop0", "shop-prod", "shop-dev"}
	slices.SortFunc(got, compareKeyOrder)
	if !slices.Equal(got, want) {
		t.Errorf("key order %v, want %v", got, want)
	}
	for i := 1; i < len(want); i++ {
		if !keyOrdered(want[i-1], want[i]) || keyOrdered(want[i], want[i-1]) {
			t.Errorf("keyOrdered(%q, %q) is wrong", want[i-1], want[i])
		}
	}
}

// Pages after the first hold about pageBytes of objects of the sizes seen,
// at most the page size, at least one.
func TestNextPageLimit(t *testing.T) {
	for _, tc := range []struct {
		n, size int
		want    int64
	}{
		{0, 0, 500},
		{16, 16 * 600, 500},               // small objects: the page size
		{16, 16 * 900 << 10, 4},           // 900 KiB objects: about 4 MiB a page
		{1, 20 << 20, 1},                  // larger than a page: one at a time
		{100, 100 * (pageBytes / 50), 50}, // in between
	} {
		if got := nextPageLimit(500, tc.n, tc.size); got != tc.want {
			t.Errorf("nextPageLimit(500, %d, %d) = %d, want %d", tc.n, tc.size, got, tc.want)
		}
	}
}
