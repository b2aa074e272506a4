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
	// floor, for the AT and XA scenarios: also run the transfer's SQL
	// alone (see runFloor, runXAFloor).
	floor bool
	// floorOmit, for the AT scenarios' floor: one step left out of the
	// replay (see floorSteps), to measure that step's share.
	floorOmit string
	// watchSpec is --cpu-watch; watch is it parsed (by validate).
	watchSpec string
	watch     cpuWatch
}

func (l *loadFlags) register(f *pflag.FlagSet, connsHelp string) {
	f.StringVar(&l.addr, "addr", "127.0.0.1:8091", "coordinator gRPC address")
	f.IntVar(&l.clients, "clients", 64, "concurrent transactions")
	f.IntVar(&l.conns, "conns", 1, connsHelp)
	f.DurationVar(&l.duration, "duration", 10*time.Second, "measured time")
	f.DurationVar(&l.warmup, "warmup", 2*time.Second, "unmeasured time before")
	f.StringVar(&l.cpuprofile, "cpuprofile", "", "write the load generator's CPU profile here")
	f.StringVar(&l.watchSpec, "cpu-watch", "", `also report the CPU per transaction of these processes (with their children) over the measured window, as "name=pid,…" (e.g. server=…,db=<postmaster>); the load generator is always reported, as "bench". Linux only`)
}

// registerOnly adds --only and --floor, for the scenarios that run two
// halves.
func (l *loadFlags) registerOnly(f *pflag.FlagSet) {
	f.StringVar(&l.only, "only", "", `run one half only: "plain", "at" or "floor" (for profiling); the ratio is then 0`)
	f.StringVar(&l.floorOmit, "floor-omit", "", `leave one step out of the AT floor's replay to measure its share: at-mysql "before-images", "after-images" or "undo-insert"; at-postgres "probe" or "undo-insert" (the replay is then no safe AT transfer; with --floor)`)
	f.BoolVar(&l.floor, "floor", false, "also replay the SQL the proxy (and, in XA mode, phase 2) sends for the transfer on the plain driver, without the coordinator or the proxy (the database's share of the mode's cost)")
}

func (l *loadFlags) validate() error {
	switch l.only {
	case "", "plain", "at":
	case "floor":
		l.floor = true
	default:
		return fmt.Errorf("--only must be \"plain\", \"at\" or \"floor\", not %q", l.only)
	}
	if l.clients < 1 || l.conns < 1 || l.duration <= 0 || l.warmup < 0 {
		return fmt.Errorf("--clients and --conns must be at least 1, --duration positive")
	}
	var err error
	l.watch, err = parseCPUWatch(l.watchSpec)
	return err
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

// load is what a closed-loop run measured: transactions that started and
// completed inside the measured window, all successful ones, failures,
// and (run) those that completed inside the window, however early they
// started, with the watched processes' CPU per each of them (µs).
type load struct {
	measured, ok, failed int64
	lat                  latencies
	done                 int64
	cpu                  map[string]float64
}

// run is runLoad with the flags' clients, warm-up and duration, and the
// CPU of the watched processes over the measured window.
func (l *loadFlags) run(tx func(id, n int) error) load {
	from := time.Now().Add(l.warmup)
	cpu := l.watch.windowCPU(from, from.Add(l.duration))
	out := runLoad(l.clients, l.warmup, l.duration, tx)
	out.cpu = perTx(<-cpu, out.done)
	return out
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
		done                 atomic.Int64
		firstErr             atomic.Pointer[error] // errors of any types (atomic.Value panics on a second type)
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
					firstErr.CompareAndSwap(nil, &err)
					continue
				}
				ok.Add(1)
				if t1.After(measureFrom) && t1.Before(end) {
					done.Add(1)
				}
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
	out.measured, out.ok, out.failed, out.done = measured.Load(), ok.Load(), failed.Load(), done.Load()
	return out
}
