package main

import (
	"fmt"
	"os"
	"runtime/pprof"
	"sync"
	"sync/atomic"
	"time"

	"github.com/spf13/pflag"
)

// loadFlags are the flags every scenario takes.
type loadFlags struct {
	addr, cpuprofile string
	clients, conns   int
	duration, warmup time.Duration
	// only, for the AT scenarios: "plain" or "at" runs just that half
	// (to profile one of them); empty runs both.
	only string
	// floor, for the AT scenarios: also run the AT transfer's SQL alone
	// (see atFloor).
	floor bool
}

func (l *loadFlags) register(f *pflag.FlagSet, connsHelp string) {
	f.StringVar(&l.addr, "addr", "127.0.0.1:8091", "coordinator gRPC address")
	f.IntVar(&l.clients, "clients", 64, "concurrent transactions")
	f.IntVar(&l.conns, "conns", 1, connsHelp)
	f.DurationVar(&l.duration, "duration", 10*time.Second, "measured time")
	f.DurationVar(&l.warmup, "warmup", 2*time.Second, "unmeasured time before")
	f.StringVar(&l.cpuprofile, "cpuprofile", "", "write the load generator's CPU profile here")
}

// registerOnly adds --only and --floor, for the scenarios that run two
// halves.
func (l *loadFlags) registerOnly(f *pflag.FlagSet) {
	f.StringVar(&l.only, "only", "", `run one half only: "plain" or "at" (for profiling); the ratio is then 0`)
	f.BoolVar(&l.floor, "floor", false, "also replay the SQL the proxy sends for the AT transfer on the plain driver, without the coordinator or the proxy (the database's share of AT's cost)")
}

func (l *loadFlags) validate() error {
	if l.only != "" && l.only != "plain" && l.only != "at" {
		return fmt.Errorf("--only must be \"plain\" or \"at\", not %q", l.only)
	}
	if l.clients < 1 || l.conns < 1 || l.duration <= 0 || l.warmup < 0 {
		return fmt.Errorf("--clients and --conns must be at least 1, --duration positive")
	}
	return nil
}

// startProfile starts the CPU profile if asked; the returned func stops it.
func (l *loadFlags) startProfile() (func(), error) {
	if l.cpuprofile == "" {
		return func() {}, nil
	}
	f, err := os.Create(l.cpuprofile)
	if err != nil {
		return nil, err
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, err
	}
	return func() { pprof.StopCPUProfile(); f.Close() }, nil
}

// load is what a closed-loop run measured: transactions that completed
// inside the measured window, all successful ones, failures.
type load struct {
	measured, ok, failed int64
	lat                  latencies
}

// runLoad runs clients goroutines, each calling tx(id, n) back to back
// until warmup+duration has passed, and measures the calls that start and
// end inside the window after warmup. The first failure is printed.
func runLoad(clients int, warmup, duration time.Duration, tx func(id, n int) error) load {
	measureFrom := time.Now().Add(warmup)
	end := measureFrom.Add(duration)
	var (
		wg                   sync.WaitGroup
		mu                   sync.Mutex
		out                  load
		measured, ok, failed atomic.Int64
		firstErr             atomic.Pointer[error]
	)
	for i := 0; i < clients; i++ {
		wg.Add(1)
		go func(id int) {
			defer wg.Done()
			var mine latencies
			for n := 0; ; n++ {
				t0 := time.Now()
				if !t0.Before(end) {
					break
				}
				err := tx(id, n)
				t1 := time.Now()
				if err != nil {
					failed.Add(1)
					firstErr.CompareAndSwap(nil, &err) // errors of any type: a Value would panic on the second type
					continue
				}
				ok.Add(1)
				if t0.After(measureFrom) && t1.Before(end) {
					mine = append(mine, t1.Sub(t0))
					measured.Add(1)
				}
			}
			mu.Lock()
			out.lat = append(out.lat, mine...)
			mu.Unlock()
		}(i)
	}
	wg.Wait()
	if e := firstErr.Load(); e != nil {
		fmt.Fprintf(os.Stderr, "txc-bench: %d transactions failed; first: %v\n", failed.Load(), *e)
	}
	out.measured, out.ok, out.failed = measured.Load(), ok.Load(), failed.Load()
	return out
}
