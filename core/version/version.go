// Package version holds the build's version, commit and date, stamped by the
// Makefile with -ldflags -X, and shared by both front ends.
package version

import (
	"fmt"
	"runtime"
	"runtime/debug"
)

// Set at build time by the Makefile; the defaults say the binary was built
// some other way (go build, go run, go install).
var (
	Version   = "v0.0.0-dev"
	Commit    = "unknown"
	BuildDate = "unknown"
)

// Info describes a build.
type Info struct {
	Version   string `json:"version"`
	Commit    string `json:"commit"`
	BuildDate string `json:"buildDate"`
	GoVersion string `json:"goVersion"`
	Platform  string `json:"platform"`
}

// Get returns the build's version information. A binary built without the
// Makefile falls back to what the Go toolchain recorded, when it has it.
func Get() Info {
	info := Info{
		Version:   Version,
		Commit:    Commit,
		BuildDate: BuildDate,
		GoVersion: runtime.Version(),
		Platform:  runtime.GOOS + "/" + runtime.GOARCH,
	}
	if bi, ok := debug.ReadBuildInfo(); ok {
		if info.Version == "v0.0.0-dev" && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
			info.Version = bi.Main.Version
		}
		for _, s := range bi.Settings {
			if s.Key == "vcs.revision" && info.Commit == "unknown" {
				info.Commit = s.Value
			}
		}
	}
	return info
}

// UserAgent is the User-Agent kbackup sends to API servers and storage.
func UserAgent(component string) string {
	return fmt.Sprintf("%s/%s (%s/%s)", component, Get().Version, runtime.GOOS, runtime.GOARCH)
}
