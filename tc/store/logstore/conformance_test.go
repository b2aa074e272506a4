package logstore

import (
	"testing"

	"github.com/txcio/txc/tc/store"
	"github.com/txcio/txc/tc/store/storetest"
)

// harness runs the suite with small segments, so that rotations happen
// during it (the kill test writes 256 KiB records), and with FailNext
// simulating a crash mid-write: a torn half record, or the whole record
// synced without the acknowledgement.
func harness(segSize int64) storetest.Harness {
	return storetest.Harness{
		Open: func(dir string) (store.Store, error) { return Open(dir, Options{SegmentSize: segSize}) },
		FailNext: func(s store.Store, err error, keepAll bool) {
			ls := s.(*Store)
			ls.mu.Lock()
			ls.failNext = &injected{err: err, keepAll: keepAll}
			ls.mu.Unlock()
		},
		Subprocess: true,
	}
}

func TestConformance(t *testing.T) { storetest.Run(t, harness(4<<20)) }

// TestConformanceTinySegments rotates every few batches.
func TestConformanceTinySegments(t *testing.T) { storetest.Run(t, harness(minSegmentSize)) }

// BenchmarkApply measures Apply on the coordinator's write pattern; see
// storetest.Bench.
func BenchmarkApply(b *testing.B) { storetest.Bench(b, harness(0)) }

// BenchmarkApplyLatencyShared is storetest's latency benchmark, for
// comparison with the other backends.
func BenchmarkApplyLatencyShared(b *testing.B) { storetest.BenchLatency(b, harness(0)) }
