package config

import (
	"runtime"
	"runtime/debug"
	"strings"
	"testing"
)

func TestProcessLimits(t *testing.T) {
	cfg := kbackupYAML(t, "performance:\n  limits:\n    memory_limit: 512Mi\n    cpu_limit: 1500m\n", nil)
	none := func(string) (string, bool) { return "", false }
	p := cfg.ProcessLimits(none)
	if p.MemoryBytes != 512<<20 || p.Procs != 2 {
		t.Fatalf("limits %+v, want 512 MiB and 2 procs", p)
	}
	set := func(k string) (string, bool) { return "1", k == "GOMEMLIMIT" || k == "GOMAXPROCS" }
	if p := cfg.ProcessLimits(set); p != (ProcessLimits{}) {
		t.Errorf("with GOMEMLIMIT and GOMAXPROCS set: %+v, want none", p)
	}

	// Applied to this process, then put back.
	oldMem, oldProcs := debug.SetMemoryLimit(-1), runtime.GOMAXPROCS(0)
	t.Cleanup(func() { debug.SetMemoryLimit(oldMem); runtime.GOMAXPROCS(oldProcs) })
	p.Apply()
	if got := debug.SetMemoryLimit(-1); got != 512<<20 {
		t.Errorf("runtime memory limit %d, want %d", got, 512<<20)
	}
	if got := runtime.GOMAXPROCS(0); got != 2 {
		t.Errorf("GOMAXPROCS %d, want 2", got)
	}
}

func TestSwitchesThatChangeNothingAreRefused(t *testing.T) {
	for key, yaml := range map[string]string{
		"performance.optimization.batch_processing": "performance:\n  optimization:\n    batch_processing: false\n",
		"performance.optimization.compression":      "performance:\n  optimization:\n    compression: false\n",
	} {
		cfg := kbackupYAML(t, yaml, nil)
		err := cfg.Validate()
		if err == nil {
			t.Errorf("%s: accepted", key)
			continue
		}
		if want := "kbackup.yaml:"; !strings.Contains(err.Error(), key+":") || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: the error does not name the key and line: %v", key, err)
		}
	}
}
