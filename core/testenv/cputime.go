package testenv

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
)

// clockTicks is the unit of /proc/<pid>/stat's times: USER_HZ, 100 on
// every Linux architecture Go supports.
const clockTicks = 100

// CPUTime is the CPU time (user and system) the cluster's kube-apiserver
// and etcd have used since they started, from /proc: benchmarks compare
// what each side of a measurement cost the processes it drives.
func (c *Cluster) CPUTime() (apiserver, etcd time.Duration, err error) {
	if apiserver, err = c.apiserver.cpuTime(); err != nil {
		return 0, 0, err
	}
	etcd, err = c.etcd.cpuTime()
	return apiserver, etcd, err
}

// CPUTime is the CPU time (user and system) the S3 server has used since
// it started.
func (s *S3Server) CPUTime() (time.Duration, error) { return s.proc.cpuTime() }

func (p *process) cpuTime() (time.Duration, error) {
	if p == nil || p.cmd.Process == nil {
		return 0, fmt.Errorf("the process is not running")
	}
	path := fmt.Sprintf("/proc/%d/stat", p.cmd.Process.Pid)
	data, err := os.ReadFile(path)
	if err != nil {
		return 0, fmt.Errorf("reading the CPU time of %s: %w", p.name, err)
	}
	// The command name (field 2) is in parentheses and may hold spaces:
	// the fields after it start after the last ')'. utime and stime are
	// fields 14 and 15, the 12th and 13th after the state.
	s := string(data)
	fields := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	if len(fields) < 13 {
		return 0, fmt.Errorf("%s: %d fields after the command name; want at least 13", path, len(fields))
	}
	var ticks int64
	for _, f := range fields[11:13] {
		n, err := strconv.ParseInt(f, 10, 64)
		if err != nil {
			return 0, fmt.Errorf("%s: %w", path, err)
		}
		ticks += n
	}
	return time.Duration(ticks) * time.Second / clockTicks, nil
}
