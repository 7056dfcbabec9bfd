//go:build !cgo

package repo

import "testing"

// Without cgo the reference zstd decoder cannot be built; that is a failure,
// not a skip, so that no build passes without checking the frame format.
func TestPackReadableWithReferenceZstd(t *testing.T) {
	t.Fatal("TestPackReadableWithReferenceZstd reads packs with libzstd through cgo: build the tests with CGO_ENABLED=1 " +
		"and a C compiler (Debian: apt-get install gcc), as the race detector of make test also needs")
}
