package main

import (
	"context"
	"log/slog"
	"os"
	"runtime"
	"time"

	"github.com/txcio/txc/internal/cputime"
)

// The coordinator's goroutines hand work to each other for every message
// (stream reader, core, store, stream writer, gRPC's own writer). With
// more than one P, each hand-off while a P is idle wakes another thread
// through the kernel, and at the loads most coordinators see that costs
// more than the work: on the 2-core machine of docs/benchmarks.md one P
// takes the server's CPU per transaction down by 10-30% at 1, 4 and 64
// clients and serves as many transactions at 256. One P is also a ceiling
// (about one core), so procsGovernor keeps one P while the process uses
// well under a core and gives it the runtime's default (all cores, or the
// container's limit) as soon as it comes near one.
type procsGovernor struct {
	max   int           // the runtime's default GOMAXPROCS: the ceiling
	procs int           // GOMAXPROCS now
	last  time.Duration // the process's CPU time at the last observation
	at    time.Time     // when it was observed
	quiet int           // windows in a row below lowerAt with more than one P
}

const (
	procsWindow = 500 * time.Millisecond
	// raiseAt: cores used in a window with one P that count as "near one
	// core": the P is busy nearly all the time.
	raiseAt = 0.8
	// lowerAt: cores used with more than one P under which one P serves
	// the load with room to spare (a P does the same work with less CPU,
	// so the two marks keep apart); lowerAfter windows in a row.
	lowerAt    = 0.5
	lowerAfter = 4
)

// observe takes the process's CPU time at now and returns the GOMAXPROCS
// to set, or 0 to keep the current one.
func (g *procsGovernor) observe(now time.Time, cpu time.Duration) int {
	elapsed := now.Sub(g.at)
	used := cpu - g.last
	g.last, g.at = cpu, now
	if elapsed <= 0 || g.max <= 1 {
		return 0
	}
	cores := float64(used) / float64(elapsed)
	switch {
	case g.procs == 1 && cores >= raiseAt:
		g.procs = g.max
		return g.procs
	case g.procs > 1 && cores < lowerAt:
		if g.quiet++; g.quiet >= lowerAfter {
			g.quiet = 0
			g.procs = 1
			return 1
		}
	default:
		g.quiet = 0
	}
	return 0
}

// governProcs applies the procs setting: a fixed GOMAXPROCS, or with
// "auto" (0) one P until the load needs more (see procsGovernor), unless
// the GOMAXPROCS environment variable already chose. It returns at once;
// the governor runs until ctx is done.
func governProcs(ctx context.Context, procs int, log *slog.Logger) {
	if procs > 0 {
		runtime.GOMAXPROCS(procs)
		return
	}
	if os.Getenv("GOMAXPROCS") != "" {
		log.Info("GOMAXPROCS is set in the environment; procs auto keeps it", "gomaxprocs", runtime.GOMAXPROCS(0))
		return
	}
	cpu, ok := cputime.Process()
	if !ok || runtime.GOMAXPROCS(0) <= 1 {
		return
	}
	g := &procsGovernor{max: runtime.GOMAXPROCS(1), procs: 1, last: cpu, at: time.Now()}
	go func() {
		t := time.NewTicker(procsWindow)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case now := <-t.C:
				cpu, _ := cputime.Process()
				if n := g.observe(now, cpu); n > 0 {
					runtime.GOMAXPROCS(n)
					log.Debug("GOMAXPROCS changed with the load", "gomaxprocs", n)
				}
			}
		}
	}()
}
