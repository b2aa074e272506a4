package logstore

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
	"unsafe"

	"github.com/txcio/txc"
	"github.com/txcio/txc/tc/store"
	"github.com/txcio/txc/tc/store/memstore"
	"github.com/txcio/txc/tc/store/storetest"
)

var begun = time.UnixMilli(1_700_000_000_000).UTC()

// txBatch returns a batch that begins transaction k with two branches,
// moves k-1 to Committing with a branch status change, and finishes k-3
// (final status, branches deleted).
func txBatch(k uint64) *store.Batch {
	x := txc.NewXID("t", k)
	b := &store.Batch{NextID: k + 1}
	b.PutGlobals = append(b.PutGlobals, store.Global{XID: x, Name: "transfer", Status: txc.GlobalBegin,
		Begun: begun, Deadline: begun.Add(time.Minute), Updated: begun})
	for i := range uint64(2) {
		b.PutBranches = append(b.PutBranches, store.Branch{XID: x, ID: txc.BranchID(2*k + i), Type: txc.BranchAT,
			ResourceID: "db", Status: txc.BranchRegistered,
			LockKeys:        []txc.LockKey{{Table: "orders", Rows: []string{strconv.FormatUint(k, 10)}}},
			ApplicationData: []byte(fmt.Sprintf("data-%d-%d", k, i))})
	}
	if k > 1 {
		p := txc.NewXID("t", k-1)
		b.PutGlobals = append(b.PutGlobals, store.Global{XID: p, Name: "transfer", Status: txc.GlobalCommitting, Begun: begun, Updated: begun})
		b.SetBranchStatus = append(b.SetBranchStatus, store.BranchStatus{XID: p, ID: txc.BranchID(2 * (k - 1)), Status: txc.BranchPhaseOneDone})
	}
	if k > 3 {
		p := txc.NewXID("t", k-3)
		b.PutGlobals = append(b.PutGlobals, store.Global{XID: p, Name: "transfer", Status: txc.GlobalCommitted, Begun: begun, Updated: begun})
		b.DeleteBranches = append(b.DeleteBranches, p)
	}
	return b
}

func open(t testing.TB, dir string, segSize int64) *Store {
	t.Helper()
	s, err := Open(dir, Options{SegmentSize: segSize})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	return s
}

// check compares what s holds with what model holds.
func check(t testing.TB, s *Store, model *memstore.Store, what string) {
	t.Helper()
	got, err := s.Load(context.Background())
	if err != nil {
		t.Fatalf("%s: Load: %v", what, err)
	}
	want, _ := model.Load(context.Background())
	if d := storetest.Diff(got, want); d != "" {
		t.Fatalf("%s: Load differs:\n%s", what, d)
	}
}

func segments(t testing.TB, dir string) []string {
	t.Helper()
	m, err := filepath.Glob(filepath.Join(dir, "seg-*.log"))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// copyDir copies the regular files of src into a new temporary dir.
func copyDir(t testing.TB, src string) string {
	t.Helper()
	dst := t.TempDir()
	es, err := os.ReadDir(src)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range es {
		data, err := os.ReadFile(filepath.Join(src, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dst, e.Name()), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dst
}

// TestTornTail cuts the last record at every byte offset, the rest of the
// preallocated space zero or filled with garbage: Load must return exactly
// the batches before it, and the store must keep working after appends
// that overwrite the torn record.
func TestTornTail(t *testing.T) {
	dir := t.TempDir()
	s := open(t, dir, 64<<10)
	ctx := context.Background()
	before := memstore.New()
	const n = 5
	for k := uint64(1); k < n; k++ {
		if err := s.Apply(ctx, txBatch(k)); err != nil {
			t.Fatal(err)
		}
		_ = before.Apply(ctx, txBatch(k))
	}
	lastStart := s.off
	if err := s.Apply(ctx, txBatch(n)); err != nil {
		t.Fatal(err)
	}
	lastEnd := s.off
	segPath := filepath.Join(dir, segName(s.segNo))
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	full, err := os.ReadFile(segPath)
	if err != nil {
		t.Fatal(err)
	}
	r := rand.New(rand.NewPCG(1, 2))
	for _, garbage := range []bool{false, true} {
		for cut := lastStart; cut < lastEnd; cut++ {
			data := slices.Clone(full)
			clear(data[cut:])
			if garbage {
				for i := cut; i < cut+4096 && i < int64(len(data)); i++ {
					data[i] = byte(r.Uint32())
				}
			}
			if err := os.WriteFile(segPath, data, 0o644); err != nil {
				t.Fatal(err)
			}
			what := fmt.Sprintf("cut at %d (garbage %v)", cut, garbage)
			s := open(t, dir, 64<<10)
			if bytes.Equal(data[:lastEnd], full[:lastEnd]) {
				// The bytes cut were zeros: the record is whole.
				_ = s.Close()
				continue
			}
			check(t, s, before, what)
			// Appends overwrite the torn record; nothing of it may
			// resurface after them.
			model := memstore.New()
			st, _ := before.Load(ctx)
			_ = model.Apply(ctx, &store.Batch{PutGlobals: st.Globals, PutBranches: st.Branches, NextID: st.NextID})
			small := &store.Batch{PutGlobals: []store.Global{{XID: "after:1", Status: txc.GlobalBegin}}}
			if err := s.Apply(ctx, small); err != nil {
				t.Fatal(err)
			}
			_ = model.Apply(ctx, small)
			_ = s.Close()
			s = open(t, dir, 64<<10)
			check(t, s, model, what+" then an append")
			_ = s.Close()
		}
	}
}

// TestGarbageAfterTail puts random bytes after the last record of a clean
// log: they are ignored and zeroed.
func TestGarbageAfterTail(t *testing.T) {
	dir := t.TempDir()
	s := open(t, dir, 64<<10)
	ctx := context.Background()
	model := memstore.New()
	for k := uint64(1); k <= 20; k++ {
		_ = s.Apply(ctx, txBatch(k))
		_ = model.Apply(ctx, txBatch(k))
	}
	end, path := s.off, filepath.Join(dir, segName(s.segNo))
	_ = s.Close()
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	junk := make([]byte, 10000)
	r := rand.New(rand.NewPCG(3, 4))
	for i := range junk {
		junk[i] = byte(r.Uint32())
	}
	// Including something that looks like a frame header.
	copy(junk, []byte{40, 0, 0, 0})
	if _, err := f.WriteAt(junk, end); err != nil {
		t.Fatal(err)
	}
	_ = f.Close()
	var logs bytes.Buffer
	s, err = Open(dir, Options{SegmentSize: 64 << 10, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	check(t, s, model, "garbage after tail")
	if !strings.Contains(logs.String(), "torn write") {
		t.Errorf("recovery did not log the discarded tail: %q", logs.String())
	}
	_ = s.Close()
	data, _ := os.ReadFile(path)
	if !bytes.Equal(data[end:end+int64(len(junk))], make([]byte, len(junk))) {
		t.Error("the garbage after the tail was not zeroed")
	}
}

// rotateOnce applies batches to s until it switches segments, and returns
// the files of dir as they were before the Apply that switched.
func rotateOnce(t *testing.T, s *Store, dir string, model *memstore.Store, k *uint64) (beforeSwitch string, last *store.Batch) {
	t.Helper()
	ctx := context.Background()
	for no := s.segNo; ; {
		snap := copyDir(t, dir)
		*k++
		b := txBatch(*k)
		if err := s.Apply(ctx, b); err != nil {
			t.Fatal(err)
		}
		_ = model.Apply(ctx, b)
		if s.segNo != no {
			return snap, b
		}
	}
}

// TestRotationCrash simulates crashes between the steps of a rotation by
// leaving the files each step leaves.
func TestRotationCrash(t *testing.T) {
	const seg = 16 << 10
	dir := t.TempDir()
	s := open(t, dir, seg)
	ctx := context.Background()
	model := memstore.New()
	var k uint64
	before, last := rotateOnce(t, s, dir, model, &k)
	newSeg := filepath.Join(dir, segName(s.segNo))
	newData, err := os.ReadFile(newSeg)
	if err != nil {
		t.Fatal(err)
	}
	snapEnd := 0
	if p, ok := (&framer{}).check(newData, s.segNo, 0); ok {
		snapEnd = frameHeader + len(p)
	} else {
		t.Fatal("new segment does not start with a frame")
	}
	oldName := segments(t, before)
	if len(oldName) != 1 {
		t.Fatalf("before the switch: %v", oldName)
	}
	oldData, _ := os.ReadFile(oldName[0])
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	_ = model
	_ = last
	upTo := func(n uint64) func() *memstore.Store {
		return func() *memstore.Store {
			m := memstore.New()
			for i := uint64(1); i <= n; i++ {
				_ = m.Apply(ctx, txBatch(i))
			}
			return m
		}
	}
	all, withoutLast := upTo(k), upTo(k-1)

	cases := []struct {
		name  string
		files map[string][]byte
		want  func() *memstore.Store
	}{
		// The new segment is in place, the old one not yet removed.
		{"both segments", map[string][]byte{filepath.Base(oldName[0]): oldData, filepath.Base(newSeg): newData}, all},
		// The crash came before the rename: the temporary file is ignored.
		{"temporary file", map[string][]byte{filepath.Base(oldName[0]): oldData, filepath.Base(newSeg) + ".tmp": newData}, withoutLast},
		// The newest segment's snapshot is torn: fall back to the old one.
		{"torn snapshot", map[string][]byte{filepath.Base(oldName[0]): oldData, filepath.Base(newSeg): torn(newData, snapEnd/2)}, withoutLast},
		// The old segment is gone: the new one has everything.
		{"new segment only", map[string][]byte{filepath.Base(newSeg): newData}, all},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			d := t.TempDir()
			for name, data := range c.files {
				if err := os.WriteFile(filepath.Join(d, name), data, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			s := open(t, d, seg)
			m := c.want()
			check(t, s, m, c.name)
			// The store goes on: more batches, more rotations, reopen.
			kk := uint64(1000)
			for range 3 {
				rotateOnce(t, s, d, m, &kk)
			}
			_ = s.Close()
			s = open(t, d, seg)
			check(t, s, m, c.name+", after more rotations")
			if got := segments(t, d); len(got) != 1 {
				t.Errorf("segments left: %v", got)
			}
			_ = s.Close()
		})
	}
}

func torn(data []byte, at int) []byte {
	out := slices.Clone(data)
	clear(out[at:])
	return out
}

// TestReopenAfterRotation checks that each rotation leaves one segment and
// that the state survives reopening at every point.
func TestReopenAfterRotation(t *testing.T) {
	dir := t.TempDir()
	s := open(t, dir, 8<<10)
	ctx := context.Background()
	model := memstore.New()
	rotations := 0
	for k := uint64(1); k <= 300; k++ {
		no := s.segNo
		if err := s.Apply(ctx, txBatch(k)); err != nil {
			t.Fatal(err)
		}
		_ = model.Apply(ctx, txBatch(k))
		if s.segNo != no {
			rotations++
		}
		if k%37 == 0 {
			_ = s.Close()
			s = open(t, dir, 8<<10)
			check(t, s, model, fmt.Sprintf("after batch %d", k))
		}
	}
	_ = s.Close()
	if rotations < 5 {
		t.Errorf("only %d rotations", rotations)
	}
	if got := segments(t, dir); len(got) != 1 {
		t.Errorf("segments left: %v", got)
	}
	s = open(t, dir, 8<<10)
	check(t, s, model, "at the end")
	_ = s.Close()
}

func TestOpenLocked(t *testing.T) {
	dir := t.TempDir()
	s := open(t, dir, 0)
	_, err := Open(dir, Options{})
	if !errors.Is(err, ErrLocked) {
		t.Fatalf("second Open = %v, want ErrLocked", err)
	}
	if !strings.HasPrefix(err.Error(), "logstore: ") {
		t.Errorf("error %q does not start with the package name", err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	s = open(t, dir, 0)
	_ = s.Close()
}

func TestOpenCreatesDir(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "a", "b")
	s := open(t, dir, 0)
	defer s.Close()
	if fi, err := os.Stat(dir); err != nil || !fi.IsDir() {
		t.Fatalf("Open did not create %s: %v", dir, err)
	}
}

func TestOpenNotADir(t *testing.T) {
	f := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(f, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(f, Options{}); err == nil || !strings.HasPrefix(err.Error(), "logstore: ") {
		t.Fatalf("Open(file) = %v, want a logstore error", err)
	}
}

// TestUnknownVersion refuses a record that checks out but was written by
// a format this build does not know, rather than drop it.
func TestUnknownVersion(t *testing.T) {
	dir := t.TempDir()
	s := open(t, dir, 0)
	_ = s.Apply(context.Background(), txBatch(1))
	off, no := s.off, s.segNo
	_ = s.Close()
	buf, start := beginFrame(nil, kindBatch, 2)
	buf[start+frameHeader] = 99
	(&framer{}).seal(buf, start, no, off)
	f, _ := os.OpenFile(filepath.Join(dir, segName(no)), os.O_RDWR, 0)
	_, _ = f.WriteAt(buf, off)
	_ = f.Close()
	if _, err := Open(dir, Options{}); err == nil || !strings.Contains(err.Error(), "unknown record version") {
		t.Fatalf("Open = %v, want an unknown-version error", err)
	}
}

// TestQuietLogger checks that a normal life cycle logs nothing at Info
// level or above.
func TestQuietLogger(t *testing.T) {
	var buf bytes.Buffer
	logger := slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelInfo}))
	dir := t.TempDir()
	for k := range uint64(3) {
		s, err := Open(dir, Options{Logger: logger, SegmentSize: 8 << 10})
		if err != nil {
			t.Fatal(err)
		}
		for j := range uint64(50) {
			if err := s.Apply(t.Context(), txBatch(k*100+j+1)); err != nil {
				t.Fatal(err)
			}
		}
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
	}
	if buf.Len() != 0 {
		t.Fatalf("logged at Info level or above:\n%s", buf.String())
	}
}

// TestApplyAllocations keeps the encoding path allocation-free: what
// Apply allocates is the in-memory copy of the batch.
func TestApplyAllocations(t *testing.T) {
	s := open(t, t.TempDir(), 0)
	defer s.Close()
	ctx := context.Background()
	b := &store.Batch{SetBranchStatus: []store.BranchStatus{{XID: "none:1", ID: 1, Status: txc.BranchCommitted}}, DeleteGlobals: []txc.XID{"none:2"}}
	_ = s.Apply(ctx, b)
	if n := testing.AllocsPerRun(50, func() { _ = s.Apply(ctx, b) }); n > 0 {
		t.Errorf("Apply of a batch that keeps nothing allocates %v times", n)
	}
}

// FuzzDecodeRecord feeds arbitrary bytes to the frame checker and the
// record decoder: they must never panic, and a decoded batch must encode
// back to the same bytes.
func FuzzDecodeRecord(f *testing.F) {
	for k := uint64(1); k < 6; k++ {
		buf, start := beginFrame(nil, kindBatch, k)
		buf = appendBatchBody(buf, txBatch(k))
		(&framer{}).seal(buf, start, 1, 0)
		f.Add(buf[frameHeader:])
	}
	st := newState()
	for k := uint64(1); k < 6; k++ {
		st.apply(txBatch(k), false)
	}
	buf, start := beginFrame(nil, kindSnapshot, 9)
	buf = appendSnapshotBody(buf, st)
	(&framer{}).seal(buf, start, 1, 0)
	f.Add(buf[frameHeader:])
	f.Add([]byte{})
	f.Add([]byte{1, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0x0f})
	f.Fuzz(func(t *testing.T, p []byte) {
		_, _ = (&framer{}).check(p, 1, 0)
		r, err := decodeRecord(p)
		if err != nil || r.kind != kindBatch {
			return
		}
		again, _ := beginFrame(nil, kindBatch, r.seq)
		again = appendBatchBody(again, &r.batch)
		// Encodings are canonical except for varint padding and
		// lengths; compare decoded results instead of bytes.
		r2, err := decodeRecord(again[frameHeader:])
		if err != nil {
			t.Fatalf("re-encoded record does not decode: %v", err)
		}
		a, b := newState(), newState()
		a.apply(&r.batch, false)
		b.apply(&r2.batch, false)
		if d := storetest.Diff(a.export(), b.export()); d != "" {
			t.Fatalf("round trip differs:\n%s", d)
		}
	})
}

// A transaction is kept in its map slot only while it is at most 128
// bytes (Go's maps store larger values out of line, one allocation each).
func TestTxnFitsMapSlot(t *testing.T) {
	if n := unsafe.Sizeof(txn{}); n > 128 {
		t.Errorf("txn is %d bytes", n)
	}
}
