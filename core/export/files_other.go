//go:build !unix

package export

import (
	"bytes"
	"os"
)

// files creates and reads the export's files through package os where
// there are no Unix system calls to do it more cheaply (files_unix.go).
type files struct{}

func newFiles() *files { return &files{} }

func (f *files) close() {}

// create writes the new file full with data; it fails when the file exists.
// A file it could not write whole is removed.
func (f *files) create(full string, data []byte) error {
	file, err := os.OpenFile(full, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return err
	}
	if _, err := file.Write(data); err != nil {
		file.Close()
		os.Remove(full)
		return err
	}
	if err := file.Close(); err != nil {
		os.Remove(full)
		return err
	}
	return nil
}

// same says whether the file full holds exactly want.
func (f *files) same(full string, want []byte) (bool, error) {
	current, err := os.ReadFile(full)
	if err != nil {
		return false, err
	}
	return bytes.Equal(current, want), nil
}
