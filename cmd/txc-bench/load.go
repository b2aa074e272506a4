package main

import (
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"time"
)

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
		firstErr             atomic.Value
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
					firstErr.CompareAndSwap(nil, err)
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
	if e, ok := firstErr.Load().(error); ok {
		fmt.Fprintf(os.Stderr, "txc-bench: %d transactions failed; first: %v\n", failed.Load(), e)
	}
	out.measured, out.ok, out.failed = measured.Load(), ok.Load(), failed.Load()
	return out
}
