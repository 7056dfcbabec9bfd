//go:build cgo

package repo

import (
	"bytes"
	"context"
	"os"
	"testing"

	referencezstd "github.com/DataDog/zstd"
)

// A pack is a standard zstd frame: the reference implementation (libzstd,
// the C library of the zstd command line, compiled from the sources that
// github.com/DataDog/zstd vendors) reads it, not only the Go encoder that
// wrote it (github.com/klauspost/compress/zstd).
func TestPackReadableWithReferenceZstd(t *testing.T) {
	s := localStore(t)
	r := openRepo(t, s.opts)
	content := packContent("Secret", "x", "y")
	ref, _, err := r.WritePack(context.Background(), PackSpec{Cluster: "c1", Namespace: "payments", Resource: "secrets"}, content, nil)
	if err != nil {
		t.Fatal(err)
	}
	frame, err := os.ReadFile(s.opts.Location.Path + "/" + ref.Key())
	if err != nil {
		t.Fatal(err)
	}
	out, err := referencezstd.Decompress(nil, frame)
	if err != nil {
		t.Fatalf("libzstd cannot read the pack: %v", err)
	}
	if !bytes.Equal(out, content) {
		t.Fatalf("libzstd read %d bytes, want the %d written", len(out), len(content))
	}
	// A frame damaged in its middle is refused by the reference decoder
	// too: the frame carries a checksum.
	frame[len(frame)/2] ^= 0xff
	if damaged, err := referencezstd.Decompress(nil, frame); err == nil && bytes.Equal(damaged, content) {
		t.Error("libzstd read a damaged frame as the original content")
	}
}
