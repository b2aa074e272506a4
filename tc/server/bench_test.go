package server

import (
	"context"
	"fmt"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/txcio/txc"
	"github.com/txcio/txc/client"
	"github.com/txcio/txc/tc"
	"github.com/txcio/txc/tc/store/memstore"
)

// BenchmarkTwoBranchInProcess runs a pipelined begin → 2 registers → commit, with an RM
// acknowledging phase 2, through a real server, client and RM in one
// process on a memory store (no syncs): the protocol and the core's own
// cost, without the disk. 64 concurrent transactions per GOMAXPROCS.
func BenchmarkTwoBranchInProcess(b *testing.B) {
	benchInProcess(b, txc.BranchGeneric, "a", "b")
}

// BenchmarkATBranchInProcess is BenchmarkTwoBranchInProcess with one AT
// branch, as txc-bench's at-mysql and at-postgres run them: the AT
// branch's commit is implied and its RM notified without an answer.
func BenchmarkATBranchInProcess(b *testing.B) {
	benchInProcess(b, txc.BranchAT, "a")
}

func benchInProcess(b *testing.B, typ txc.BranchType, resources ...string) {
	r := startB(b)
	rmConn := dialB(b, r.addr)
	var acked atomic.Int64
	rmConn.Serve(resources, func(_ context.Context, cmd client.Command) (txc.BranchStatus, string) {
		acked.Add(1)
		return txc.BranchCommitted, ""
	})
	tmConn := dialB(b, r.addr)
	var seq atomic.Int64
	ctx := context.Background()
	b.SetParallelism(32)
	cpu0 := processCPU()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			n := seq.Add(1)
			xid, wait, err := tmConn.BeginPipelined(ctx, "bench", 0)
			if err != nil {
				b.Error(err)
				return
			}
			for _, res := range resources {
				if _, err := tmConn.Register(ctx, client.Branch{XID: xid, Type: typ, ResourceID: res,
					LockKeys: []txc.LockKey{{Table: "t", Rows: []string{fmt.Sprint(n)}}}}); err != nil {
					b.Error(err)
					return
				}
			}
			if _, err := tmConn.Commit(ctx, xid); err != nil {
				b.Error(err)
				return
			}
			if err := wait(ctx); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "tx/s")
	// CPU per transaction (client, RM and server together) varies far
	// less than throughput on a shared machine.
	b.ReportMetric(float64((processCPU()-cpu0).Microseconds())/float64(b.N), "cpu-µs/tx")
}

// processCPU is the user+system CPU time this process has used.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func startB(b *testing.B) *running {
	ctx, cancel := context.WithCancel(context.Background())
	srv, err := New(ctx, Config{Core: tc.Config{Node: "b1"}, Store: memstore.New()})
	if err != nil {
		b.Fatal(err)
	}
	lis, err := listenLoopback()
	if err != nil {
		b.Fatal(err)
	}
	r := &running{srv: srv, addr: lis.Addr().String(), done: make(chan error, 1), stop: cancel}
	go func() { r.done <- srv.Serve(ctx, lis) }()
	b.Cleanup(func() { cancel(); <-r.done })
	return r
}

func dialB(b *testing.B, addr string) *client.Conn {
	c, err := client.Dial(context.Background(), addr)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { c.Close() })
	return c
}
