package config

import (
	"math"
	"os"
	"runtime"
	"runtime/debug"
)

// ProcessLimits are what performance.limits asks of the process itself.
type ProcessLimits struct {
	// MemoryBytes is the Go runtime's soft memory limit (GOMEMLIMIT): the
	// garbage collector works harder as the heap nears it, rather than the
	// process growing past it; 0 when GOMEMLIMIT is set, which wins.
	MemoryBytes int64
	// Procs is GOMAXPROCS, cpu_limit rounded up to whole CPUs; 0 when
	// GOMAXPROCS is set, which wins.
	Procs int
}

// ProcessLimits returns the limits of performance.limits.memory_limit and
// cpu_limit, leaving out those the GOMEMLIMIT and GOMAXPROCS variables set.
// A nil lookupEnv reads the process's environment.
func (c *Config) ProcessLimits(lookupEnv func(string) (string, bool)) ProcessLimits {
	if lookupEnv == nil {
		lookupEnv = os.LookupEnv
	}
	var p ProcessLimits
	if _, set := lookupEnv("GOMEMLIMIT"); !set {
		p.MemoryBytes = c.Performance.Limits.MemoryLimit.Value()
	}
	if _, set := lookupEnv("GOMAXPROCS"); !set {
		p.Procs = int(math.Ceil(float64(c.Performance.Limits.CPULimit.MilliValue()) / 1000))
	}
	return p
}

// Apply sets the limits on the running process: a memory_limit of 2Gi makes
// the Go runtime collect garbage before the heap passes 2 GiB, and a
// cpu_limit of 500m runs Go code on one CPU at a time.
func (p ProcessLimits) Apply() {
	if p.MemoryBytes > 0 {
		debug.SetMemoryLimit(p.MemoryBytes)
	}
	if p.Procs > 0 {
		runtime.GOMAXPROCS(p.Procs)
	}
}
