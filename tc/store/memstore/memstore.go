// Package memstore is an in-memory store.Store for tests. It can simulate a
// crash: Fail makes the next Apply fail after storing all, part or none of
// its batch, exactly as a process killed mid-sync may leave a real store.
package memstore

import (
	"context"
	"slices"
	"sync"

	"github.com/txcio/txc"
	"github.com/txcio/txc/tc/store"
)

// Torn says how much of a failing batch is kept.
type Torn int

const (
	// KeepNone drops the failing batch.
	KeepNone Torn = iota
	// KeepAll stores the failing batch although Apply reports an error
	// (the write reached the disk, the acknowledgement did not).
	KeepAll
)

// Store is safe for concurrent use.
type Store struct {
	mu       sync.Mutex
	globals  map[txc.XID]store.Global
	branches map[txc.XID]map[txc.BranchID]store.Branch
	nextID   uint64
	closed   bool
	applies  int
	failNext *failure
}

type failure struct {
	err  error
	keep Torn
}

// New returns an empty store.
func New() *Store {
	return &Store{globals: map[txc.XID]store.Global{}, branches: map[txc.XID]map[txc.BranchID]store.Branch{}}
}

// Fail makes the next Apply return err after keeping keep of its batch.
func (s *Store) Fail(err error, keep Torn) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failNext = &failure{err: err, keep: keep}
}

// Applies counts the batches applied successfully.
func (s *Store) Applies() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.applies
}

// Apply implements store.Store.
func (s *Store) Apply(_ context.Context, b *store.Batch) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return store.ErrClosed
	}
	if f := s.failNext; f != nil {
		s.failNext = nil
		if f.keep == KeepAll {
			s.apply(b)
		}
		return f.err
	}
	s.apply(b)
	s.applies++
	return nil
}

func (s *Store) apply(b *store.Batch) {
	for _, g := range b.PutGlobals {
		s.globals[g.XID] = g
	}
	for _, br := range b.PutBranches {
		br.LockKeys = cloneLockKeys(br.LockKeys)
		br.ApplicationData = slices.Clone(br.ApplicationData)
		m := s.branches[br.XID]
		if m == nil {
			m = map[txc.BranchID]store.Branch{}
			s.branches[br.XID] = m
		}
		m[br.ID] = br
	}
	for _, u := range b.SetBranchStatus {
		if br, ok := s.branches[u.XID][u.ID]; ok {
			br.Status = u.Status
			s.branches[u.XID][u.ID] = br
		}
	}
	for _, x := range b.DeleteBranches {
		s.deleteBranches(x)
	}
	for _, x := range b.DeleteGlobals {
		delete(s.globals, x)
		s.deleteBranches(x)
	}
	if b.NextID > s.nextID {
		s.nextID = b.NextID
	}
}

func (s *Store) deleteBranches(x txc.XID) { delete(s.branches, x) }

// Load implements store.Store.
func (s *Store) Load(context.Context) (*store.State, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, store.ErrClosed
	}
	st := &store.State{NextID: s.nextID}
	for _, g := range s.globals {
		st.Globals = append(st.Globals, g)
	}
	for _, m := range s.branches {
		for _, b := range m {
			b.LockKeys = cloneLockKeys(b.LockKeys)
			b.ApplicationData = slices.Clone(b.ApplicationData)
			st.Branches = append(st.Branches, b)
		}
	}
	return st, nil
}

// Close implements store.Store. A closed memstore can be reopened with
// Reopen, keeping its contents, as a restarted process reopens its files.
func (s *Store) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closed = true
	return nil
}

// Reopen makes a closed store usable again with the same contents.
func (s *Store) Reopen() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closed = false
}

func cloneLockKeys(in []txc.LockKey) []txc.LockKey {
	if in == nil {
		return nil
	}
	out := make([]txc.LockKey, len(in))
	for i, k := range in {
		out[i] = txc.LockKey{Table: k.Table, Rows: slices.Clone(k.Rows)}
	}
	return out
}
