package storetest

import (
	"bytes"
	"fmt"
	"os"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/txcio/txc"
	"github.com/txcio/txc/internal/cputime"
	"github.com/txcio/txc/tc/store"
)

// Bench measures Apply on the coordinator's write pattern, in batches of
// 1, 64 and 512 mutations. The mutations come from a stream of two-branch
// transactions; each transaction is five mutations: a global put, two
// branch puts (each with a two-row lock key and 32 bytes of application
// data), a later global put that changes its status, and a later
// DeleteGlobals. A transaction's status change comes 8 transactions after
// its begin and its deletion 16 after, so about 16 transactions are live at
// any time and puts and deletes of one transaction may share a batch.
//
// Each sub-benchmark reports mutations/s and, where the operating system
// tells, the bytes the process wrote to storage per mutation
// (disk-B/mutation, from Linux /proc/self/io) and the CPU time, user and
// system, the process spent per mutation (cpu-ns/mutation); both include
// the backend's background work (flushes, compactions) done meanwhile.
func Bench(b *testing.B, h Harness) {
	for _, size := range []int{1, 64, 512} {
		b.Run(fmt.Sprintf("batch=%d", size), func(b *testing.B) {
			var written, cpu int64
			var start, end time.Time
			batches := 0
			applyStream(b, h, size, func() {
				written, cpu = writeBytes(), cpuNanos()
				start = time.Now()
			}, func(time.Duration) { batches++; end = time.Now() })
			elapsed := end.Sub(start)
			mutations := float64(batches * size)
			b.ReportMetric(mutations/elapsed.Seconds(), "mutations/s")
			if w := writeBytes(); w >= 0 && written >= 0 {
				b.ReportMetric(float64(w-written)/mutations, "disk-B/mutation")
			}
			if c := cpuNanos(); c >= 0 && cpu >= 0 {
				b.ReportMetric(float64(c-cpu)/mutations, "cpu-ns/mutation")
			}
		})
	}
}

// cpuNanos returns the CPU time (user and system) this process has used,
// or -1 if the system does not tell.
func cpuNanos() int64 {
	if d, ok := cputime.Process(); ok {
		return d.Nanoseconds()
	}
	return -1
}

// applyStream opens a store, calls start, then applies batches of size
// mutations of a MutationStream for as long as b runs, passing each
// Apply's latency to each. The timer is stopped when it returns.
func applyStream(b *testing.B, h Harness, size int, start func(), each func(time.Duration)) {
	s, err := h.Open(b.TempDir())
	if err != nil {
		b.Fatalf("Open: %v", err)
	}
	defer s.Close()
	var g MutationStream
	var batch store.Batch
	ctx := b.Context()
	start()
	for b.Loop() {
		batch.Reset()
		g.Fill(&batch, size)
		t0 := time.Now()
		if err := s.Apply(ctx, &batch); err != nil {
			b.Fatalf("Apply: %v", err)
		}
		each(time.Since(t0))
	}
	b.StopTimer()
}

// BenchLatency reports the distribution of Apply latency on the
// coordinator's write pattern (see Bench) in batches of 1 and 64
// mutations, as ReportLatency does.
func BenchLatency(b *testing.B, h Harness) {
	for _, size := range []int{1, 64} {
		b.Run(fmt.Sprintf("batch=%d", size), func(b *testing.B) {
			lat := make([]time.Duration, 0, 1<<14)
			applyStream(b, h, size, func() {}, func(d time.Duration) { lat = append(lat, d) })
			ReportLatency(b, lat)
		})
	}
}

// ReportLatency reports the median, 99th percentile and largest of lat
// as p50-µs, p99-µs and max-µs. It sorts lat.
func ReportLatency(b *testing.B, lat []time.Duration) {
	if len(lat) == 0 {
		return
	}
	slices.Sort(lat)
	q := func(p float64) float64 { return float64(lat[int(p*float64(len(lat)-1))].Microseconds()) }
	b.ReportMetric(q(0.5), "p50-µs")
	b.ReportMetric(q(0.99), "p99-µs")
	b.ReportMetric(float64(lat[len(lat)-1].Microseconds()), "max-µs")
}

// writeBytes returns the bytes this process has caused to be written to
// storage, or -1 if the system does not tell.
func writeBytes() int64 {
	data, err := os.ReadFile("/proc/self/io")
	if err != nil {
		return -1
	}
	for line := range bytes.Lines(data) {
		if v, ok := bytes.CutPrefix(line, []byte("write_bytes: ")); ok {
			n, err := strconv.ParseInt(string(bytes.TrimSpace(v)), 10, 64)
			if err != nil {
				return -1
			}
			return n
		}
	}
	return -1
}

// MutationStream generates the coordinator's write pattern, as Bench uses
// it: at step k it begins transaction k (three mutations), changes the
// status of transaction k-8 and deletes transaction k-16. The zero value is
// ready; backends use it for benchmarks of their own.
type MutationStream struct {
	step    uint64
	pending int // mutations of the current step already emitted
}

const (
	statusLag = 8
	deleteLag = 16
)

var benchData = bytes.Repeat([]byte{0xa5}, 32)

// Fill appends the next n mutations of the stream to b.
func (g *MutationStream) Fill(b *store.Batch, n int) {
	begun := time.Unix(1_700_000_000, 0)
	for range n {
		k := g.step + 1
		x := txc.NewXID("bench", k)
		switch g.pending {
		case 0:
			b.PutGlobals = append(b.PutGlobals, store.Global{XID: x, Name: "transfer", Status: txc.GlobalBegin,
				Begun: begun, Deadline: begun.Add(time.Minute), Updated: begun})
		case 1, 2:
			id := txc.BranchID(2*k + uint64(g.pending))
			b.PutBranches = append(b.PutBranches, store.Branch{XID: x, ID: id, Type: txc.BranchAT,
				ResourceID: "mysql://db:3306/orders", Status: txc.BranchRegistered,
				LockKeys:        []txc.LockKey{{Table: "orders", Rows: []string{strconv.FormatUint(uint64(id), 10), strconv.FormatUint(uint64(id)+1, 10)}}},
				ApplicationData: benchData})
			b.NextID = k + 1
		case 3:
			if k > statusLag {
				b.PutGlobals = append(b.PutGlobals, store.Global{XID: txc.NewXID("bench", k-statusLag), Name: "transfer",
					Status: txc.GlobalCommitting, Begun: begun, Deadline: begun.Add(time.Minute), Updated: begun})
			}
		case 4:
			if k > deleteLag {
				b.DeleteGlobals = append(b.DeleteGlobals, txc.NewXID("bench", k-deleteLag))
			}
		}
		g.pending++
		if g.pending == 5 {
			g.pending = 0
			g.step++
		}
	}
}
