package logstore

import (
	"context"
	"testing"
	"time"

	"github.com/txcio/txc"
	"github.com/txcio/txc/tc/store"
	"github.com/txcio/txc/tc/store/storetest"
)

// finishedState applies n finished transactions: global records with a
// final status and no branches, as the coordinator keeps them for its
// retention period.
func finishedState(tb testing.TB, s *Store, n int) {
	tb.Helper()
	var b store.Batch
	for i := 0; i < n; {
		b.Reset()
		for ; i < n && len(b.PutGlobals) < 10000; i++ {
			b.PutGlobals = append(b.PutGlobals, store.Global{XID: txc.NewXID("done", uint64(i)), Name: "transfer",
				Status: txc.GlobalCommitted, Begun: begun, Deadline: begun.Add(time.Minute), Updated: begun.Add(time.Second)})
		}
		if err := s.Apply(context.Background(), &b); err != nil {
			tb.Fatal(err)
		}
	}
}

// BenchmarkApplyLatency reports the distribution of Apply latency for
// 64-mutation batches: on a small state, and on a state of 200,000
// finished transactions with segments small enough that the run rotates
// (snapshot encoding in Apply, background write, switch) several times.
func BenchmarkApplyLatency(b *testing.B) {
	for _, c := range []struct {
		name     string
		finished int
		segSize  int64
	}{
		{"state=small", 0, 0},
		{"state=200k-finished/rotating", 200_000, 16 << 20},
	} {
		b.Run(c.name, func(b *testing.B) {
			s := open(b, b.TempDir(), c.segSize)
			defer s.Close()
			finishedState(b, s, c.finished)
			var g storetest.MutationStream
			var batch store.Batch
			ctx := context.Background()
			lat := make([]time.Duration, 0, 1<<16)
			startSeg := s.segNo
			for b.Loop() {
				batch.Reset()
				g.Fill(&batch, 64)
				t0 := time.Now()
				if err := s.Apply(ctx, &batch); err != nil {
					b.Fatal(err)
				}
				lat = append(lat, time.Since(t0))
			}
			b.StopTimer()
			storetest.ReportLatency(b, lat)
			b.ReportMetric(float64(s.segNo-startSeg), "rotations")
		})
	}
}

// TestRotationLatency measures the worst Apply while a store holding
// 200,000 finished transactions rotates, and the time a rotation's
// snapshot takes to encode.
func TestRotationLatency(t *testing.T) {
	s := open(t, t.TempDir(), 16<<20)
	defer s.Close()
	finishedState(t, s, 200_000)
	t0 := time.Now()
	body := appendSnapshotBody(nil, s.st)
	t.Logf("snapshot of 200,000 finished transactions: %d bytes, encoded in %v", len(body), time.Since(t0))
	var g storetest.MutationStream
	var batch store.Batch
	var worst, worstSwitch time.Duration
	n, rotations := 0, 0
	for rotations < 3 && n < 200_000 {
		batch.Reset()
		g.Fill(&batch, 64)
		no, rot := s.segNo, s.rot
		t1 := time.Now()
		if err := s.Apply(t.Context(), &batch); err != nil {
			t.Fatal(err)
		}
		d := time.Since(t1)
		n++
		worst = max(worst, d)
		if s.segNo != no {
			rotations++
			worstSwitch = max(worstSwitch, d)
		}
		if rot == nil && s.rot != nil {
			t.Logf("Apply that encoded the snapshot: %v", d)
		}
	}
	t.Logf("%d applies, %d rotations: worst Apply %v, worst switching Apply %v", n, rotations, worst, worstSwitch)
	if rotations < 3 {
		t.Fatalf("only %d rotations in %d applies: the state never outgrew its segment", rotations, n)
	}
}
