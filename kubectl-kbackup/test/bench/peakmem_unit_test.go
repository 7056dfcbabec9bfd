package bench

import (
	"os"
	"os/exec"
	"runtime"
	"syscall"
	"testing"
)

// The peak is the child's own: a small child started by a process that
// holds a large heap reports a small VmHWM, while wait4's ru_maxrss reports
// (at least) the parent's. A child that allocates much reports that much.
func TestRunMeasuredReportsTheChildsOwnPeak(t *testing.T) {
	if os.Getenv("KBACKUP_BENCH_CHILD") == "allocate" {
		b := make([]byte, 200<<20)
		for i := 0; i < len(b); i += 4096 { // a byte per page makes it resident
			b[i] = 1
		}
		runtime.KeepAlive(b)
		return
	}
	ballast := make([]byte, 300<<20)
	for i := 0; i < len(ballast); i += 4096 {
		ballast[i] = 1
	}
	small := exec.Command("/bin/sleep", "0.05")
	_, peak, err := runMeasured(small)
	if err != nil {
		t.Fatal(err)
	}
	maxrss := small.ProcessState.SysUsage().(*syscall.Rusage).Maxrss << 10
	t.Logf("sleep: VmHWM %d MB, ru_maxrss %d MB, with this process holding %d MB", peak>>20, maxrss>>20, len(ballast)>>20)
	if peak > 50<<20 {
		t.Errorf("sleep's peak is %d MB: that is not its own", peak>>20)
	}
	if maxrss < 300<<20 {
		t.Logf("ru_maxrss %d MB does not carry this process's peak here", maxrss>>20)
	}
	runtime.KeepAlive(ballast)

	big := exec.Command(os.Args[0], "-test.run=^TestRunMeasuredReportsTheChildsOwnPeak$")
	big.Env = append(os.Environ(), "KBACKUP_BENCH_CHILD=allocate")
	if _, peak, err = runMeasured(big); err != nil {
		t.Fatal(err)
	}
	t.Logf("a child allocating 200 MB: VmHWM %d MB", peak>>20)
	// At least what it touched; more under the race detector, whose
	// shadow memory grows with the heap.
	if peak < 200<<20 {
		t.Errorf("a child that touched 200 MB peaked at %d MB", peak>>20)
	}
}
