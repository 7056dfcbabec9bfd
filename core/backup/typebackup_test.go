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
