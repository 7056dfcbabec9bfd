package config

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// EnvConfig names the environment variable that points at kbackup.yaml when
// no path is given explicitly.
const EnvConfig = "KBACKUP_CONFIG"

// DefaultFile is where kbackup looks for its configuration when neither a
// path nor KBACKUP_CONFIG is given: beside the user's kubeconfig.
func DefaultFile() (string, error) {
	home, err := os.UserHomeDir()
	if err != nil {
		return "", err
	}
	return filepath.Join(home, ".kube", "kbackup.yaml"), nil
}

// Located says which configuration file to read, and why.
type Located struct {
	// Path is the file to read, "" when there is none (the defaults and
	// the environment variables apply).
	Path string
	// Source says how Path was chosen: "flag --config", "env
	// KBACKUP_CONFIG", "default ~/.kube/kbackup.yaml", or "" for none.
	Source string
}

// Locate finds the configuration file, first found first: explicit (a
// front end's flag, named by source), $KBACKUP_CONFIG, then DefaultFile when
// it exists. A file named explicitly or by KBACKUP_CONFIG must exist; the
// default file is optional. lookup reads environment variables (nil means
// os.LookupEnv).
func Locate(explicit, source string, lookup func(string) (string, bool)) (Located, error) {
	if lookup == nil {
		lookup = os.LookupEnv
	}
	var loc Located
	switch v, _ := lookup(EnvConfig); {
	case explicit != "":
		loc = Located{Path: explicit, Source: source}
	case v != "":
		loc = Located{Path: v, Source: "env " + EnvConfig}
	default:
		def, err := DefaultFile()
		if err != nil {
			// No home directory: there is no default file to read.
			return Located{}, nil
		}
		switch _, err := os.Stat(def); {
		case err == nil:
			return Located{Path: def, Source: "default " + filepath.Join("~", ".kube", "kbackup.yaml")}, nil
		case errors.Is(err, fs.ErrNotExist):
			return Located{}, nil
		default:
			return Located{}, fmt.Errorf("configuration file %s: %w", def, err)
		}
	}
	info, err := os.Stat(loc.Path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return Located{}, fmt.Errorf("configuration file %s (from %s) does not exist; give the path of an existing kbackup.yaml",
			loc.Path, loc.Source)
	case err != nil:
		return Located{}, fmt.Errorf("configuration file %s (from %s): %w", loc.Path, loc.Source, err)
	case info.IsDir():
		return Located{}, fmt.Errorf("configuration file %s (from %s) is a directory; give the path of a kbackup.yaml", loc.Path, loc.Source)
	}
	return loc, nil
}
