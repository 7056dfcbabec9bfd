package bench

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"time"
)

// peakSampleInterval is how often runMeasured reads the child's VmHWM.
const peakSampleInterval = 5 * time.Millisecond

// runMeasured runs cmd and returns its duration and the peak resident set of
// the process cmd runs, in bytes.
//
// The peak is the VmHWM line of /proc/<pid>/status, the high-water mark of
// the child's own address space, read until the child exits. It is not
// wait4's ru_maxrss: Go starts a child with clone(CLONE_VM|CLONE_VFORK), so
// before exec the child shares the Go process's address space, and Linux
// carries that address space's high-water mark into the child's ru_maxrss
// across exec. ru_maxrss would report this benchmark's own peak. The high-
// water mark only grows, so the last sample before the child exits misses at
// most what it allocated in its last peakSampleInterval.
func runMeasured(cmd *exec.Cmd) (time.Duration, int64, error) {
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return 0, 0, err
	}
	status := fmt.Sprintf("/proc/%d/status", cmd.Process.Pid)
	done := make(chan struct{})
	peak := make(chan int64, 1)
	go func() {
		var max int64
		tick := time.NewTicker(peakSampleInterval)
		defer tick.Stop()
		for {
			// A zombie has no address space and no VmHWM line: what
			// was read before stands.
			if hwm, err := readVmHWM(status); err == nil && hwm > max {
				max = hwm
			}
			select {
			case <-done:
				peak <- max
				return
			case <-tick.C:
			}
		}
	}()
	err := cmd.Wait()
	elapsed := time.Since(start)
	close(done)
	max := <-peak
	if err == nil && max == 0 {
		err = fmt.Errorf("%s: no VmHWM was read from %s", cmd.Path, status)
	}
	return elapsed, max, err
}

// readVmHWM reads "VmHWM:   123456 kB" from a /proc/<pid>/status file.
func readVmHWM(path string) (int64, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return 0, err
	}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "VmHWM:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
			if err != nil {
				return 0, fmt.Errorf("%s: VmHWM %q: %w", path, rest, err)
			}
			return kb << 10, nil
		}
	}
	return 0, fmt.Errorf("%s has no VmHWM", path)
}
