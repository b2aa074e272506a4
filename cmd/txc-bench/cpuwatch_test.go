package main

import (
	"os"
	"os/exec"
	"strconv"
	"testing"
	"time"
)

// TestParseCPUWatch: the load generator is always watched; a bad item is
// refused with the item named.
func TestParseCPUWatch(t *testing.T) {
	w, err := parseCPUWatch("")
	if err != nil || len(w.names) != 1 || w.names[0] != "bench" {
		t.Fatalf("empty: %+v, %v", w, err)
	}
	self := strconv.Itoa(os.Getpid())
	w, err = parseCPUWatch("server=" + self + ",server=" + self + ",db=" + self)
	if err != nil || len(w.names) != 4 {
		t.Fatalf("three items: %+v, %v", w, err)
	}
	for _, bad := range []string{"server", "=1", "server=x", "server=0", "bench=" + self, "db=999999999"} {
		if _, err := parseCPUWatch(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

// TestWindowCPUCountsChildren: CPU burned inside the window by the watched
// process's child is charged to it, and a name given twice sums.
func TestWindowCPUCountsChildren(t *testing.T) {
	self := strconv.Itoa(os.Getpid())
	w, err := parseCPUWatch("me=" + self + ",me=" + self)
	if err != nil {
		t.Fatal(err)
	}
	from := time.Now().Add(50 * time.Millisecond)
	ch := w.windowCPU(from, from.Add(1200*time.Millisecond))
	time.Sleep(100 * time.Millisecond)
	spin := exec.Command(os.Args[0], "-test.run=TestSpinHelper")
	spin.Env = append(os.Environ(), "TXC_BENCH_SPIN=1")
	if out, err := spin.CombinedOutput(); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	cpu := <-ch
	// The child spins for 1.5 s from inside the window, so it is still
	// running (a live child) or reaped (the process's cutime) when the
	// window ends (less CPU on a busy machine); "me" counts this process,
	// and so the child, twice.
	if cpu["me"] < 0.2 {
		t.Fatalf("window CPU %v: want the child's spin counted (twice)", cpu)
	}
	us := perTx(cpu, 1000)
	if us["me"] != 1e6*cpu["me"]/1000 {
		t.Fatalf("perTx: %v from %v", us, cpu)
	}
}

// TestSpinHelper is the child of TestWindowCPUCountsChildren: it burns
// CPU for 1.5 s.
func TestSpinHelper(t *testing.T) {
	if os.Getenv("TXC_BENCH_SPIN") == "" {
		t.Skip("the child process of TestWindowCPUCountsChildren")
	}
	n := 0
	for end := time.Now().Add(1500 * time.Millisecond); time.Now().Before(end); {
		n++
	}
	_ = n
}
