package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// cpuWatch is the processes whose CPU the measured window of a load is
// charged with (--cpu-watch): the load generator itself ("bench") and
// named others, such as the coordinator ("server") and a database server's
// postmaster ("db"), each with its children (a postmaster's backends). A
// name given more than once (one per cluster node) sums its processes.
//
// Read around the measured window only, the CPU per transaction leaves out
// what a run costs once (connections opened, tables created, the first
// transaction's catalog reads, the phase-2 pool's growth), which the
// whole-process figures of scripts/bench.sh spread over the transactions
// and so charge more to a slower half.
type cpuWatch struct {
	names []string // "bench" first
	pids  []int    // 0 for "bench": this process
}

// parseCPUWatch reads "name=pid,name=pid"; the load generator is always
// watched, as "bench".
func parseCPUWatch(s string) (cpuWatch, error) {
	w := cpuWatch{names: []string{"bench"}, pids: []int{0}}
	if s == "" {
		return w, nil
	}
	for _, item := range strings.Split(s, ",") {
		name, p, ok := strings.Cut(item, "=")
		pid, err := strconv.Atoi(p)
		if !ok || name == "" || name == "bench" || err != nil || pid <= 0 {
			return cpuWatch{}, fmt.Errorf("--cpu-watch: %q is not name=pid (a name other than \"bench\", a process ID)", item)
		}
		if _, err := treeCPU(pid); err != nil {
			return cpuWatch{}, fmt.Errorf("--cpu-watch: %s: %w", item, err)
		}
		w.names, w.pids = append(w.names, name), append(w.pids, pid)
	}
	return w, nil
}

// sample returns the CPU seconds each watched process (with its
// children) has used so far, summed by name; a process that ended counts
// as 0.
func (w cpuWatch) sample() map[string]float64 {
	out := make(map[string]float64, len(w.names))
	for i, name := range w.names {
		pid := w.pids[i]
		if pid == 0 {
			pid = os.Getpid()
		}
		s, _ := treeCPU(pid)
		out[name] += s
	}
	return out
}

// clockTick is the unit of the CPU times in /proc (USER_HZ, 100 on Linux).
const clockTick = 100

// treeCPU is the CPU seconds of process pid, of its children that ended
// (which it waited for) and of its live children. Linux only.
func treeCPU(pid int) (float64, error) {
	own, err := procTicks(pid, true)
	if err != nil {
		return 0, err
	}
	// Each thread lists the children it started (a Go process starts
	// them from any thread).
	tasks, _ := filepath.Glob("/proc/" + strconv.Itoa(pid) + "/task/*/children")
	for _, f := range tasks {
		b, _ := os.ReadFile(f)
		for _, c := range strings.Fields(string(b)) {
			if cpid, err := strconv.Atoi(c); err == nil {
				t, _ := procTicks(cpid, false) // it may have ended since
				own += t
			}
		}
	}
	return float64(own) / clockTick, nil
}

// procTicks reads utime+stime of pid from /proc/pid/stat, and with
// reaped the ended children's cutime+cstime too.
func procTicks(pid int, reaped bool) (int64, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, err
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')') // the command name may hold spaces
	if i < 0 {
		return 0, fmt.Errorf("/proc/%d/stat: no command name", pid)
	}
	f := strings.Fields(s[i+1:]) // f[0] is field 3 (state): utime is field 14
	if len(f) < 15 {
		return 0, fmt.Errorf("/proc/%d/stat: %d fields", pid, len(f))
	}
	n := 2
	if reaped {
		n = 4
	}
	var t int64
	for _, v := range f[11 : 11+n] {
		x, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return 0, fmt.Errorf("/proc/%d/stat: %w", pid, err)
		}
		t += x
	}
	return t, nil
}

// windowCPU samples w at from and at to (in the background) and delivers
// the CPU seconds used in between, by name, once to has passed.
func (w cpuWatch) windowCPU(from, to time.Time) <-chan map[string]float64 {
	out := make(chan map[string]float64, 1)
	go func() {
		time.Sleep(time.Until(from))
		a := w.sample()
		time.Sleep(time.Until(to))
		b := w.sample()
		for k := range b {
			b[k] -= a[k]
		}
		out <- b
	}()
	return out
}

// perTx turns window CPU seconds into µs per transaction.
func perTx(cpu map[string]float64, n int64) map[string]float64 {
	if len(cpu) == 0 || n <= 0 {
		return nil
	}
	out := make(map[string]float64, len(cpu))
	for k, s := range cpu {
		out[k] = 1e6 * s / float64(n)
	}
	return out
}

// cpuLine prints window CPU per transaction, in w's order.
func (w cpuWatch) cpuLine(us map[string]float64) string {
	if us == nil {
		return ""
	}
	var b strings.Builder
	seen := map[string]bool{}
	for _, name := range w.names {
		if !seen[name] {
			seen[name] = true
			fmt.Fprintf(&b, "  %s %.0f", name, us[name])
		}
	}
	return "µs CPU/tx" + b.String() + " (measured window)"
}
