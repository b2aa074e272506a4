package saga

import (
	"context"
	"slices"
	"sync"
)

// MemoryStore is a Store in memory, for tests and examples. Everything it
// saved survives the Engine that saved it (a new Engine on the same store
// is a restarted process), so it can simulate a crash; BeforeSave can make
// a save fail.
type MemoryStore struct {
	mu        sync.Mutex
	instances map[string]*Instance
	steps     map[string]map[stepKey]*StepRecord
	saves     int
	// BeforeSave, if set, is called (under the store's lock) with every
	// batch; an error fails the save and nothing of the batch is kept.
	BeforeSave func(b Batch) error
}

type stepKey struct {
	seq  int
	comp bool
}

// NewMemoryStore returns an empty MemoryStore.
func NewMemoryStore() *MemoryStore {
	return &MemoryStore{instances: map[string]*Instance{}, steps: map[string]map[stepKey]*StepRecord{}}
}

// Save applies b with the Store's upsert rules.
func (s *MemoryStore) Save(ctx context.Context, b Batch) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.BeforeSave != nil {
		if err := s.BeforeSave(b); err != nil {
			return err
		}
	}
	s.saves++
	for _, in := range b.Instances {
		if cur, ok := s.instances[in.ID]; ok {
			cur.Status, cur.Output, cur.ErrorName, cur.Error = in.Status, in.Output, in.ErrorName, in.Error
			continue
		}
		c := in
		s.instances[in.ID] = &c
	}
	for _, st := range b.Steps {
		m := s.steps[st.Instance]
		if m == nil {
			m = map[stepKey]*StepRecord{}
			s.steps[st.Instance] = m
		}
		k := stepKey{st.Seq, st.Compensation}
		if cur, ok := m[k]; ok {
			cur.Status, cur.Output, cur.ErrorName, cur.Error, cur.Attempts = st.Status, st.Output, st.ErrorName, st.Error, st.Attempts
			continue
		}
		c := st
		m[k] = &c
	}
	return nil
}

// Saves returns how many batches were saved.
func (s *MemoryStore) Saves() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.saves
}

// Load returns an instance and its steps.
func (s *MemoryStore) Load(ctx context.Context, id string) (Instance, []StepRecord, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	in, ok := s.instances[id]
	if !ok {
		return Instance{}, nil, UnknownInstance(id)
	}
	var steps []StepRecord
	for _, st := range s.steps[id] {
		steps = append(steps, *st)
	}
	slices.SortFunc(steps, compareSteps)
	return *in, steps, nil
}

func compareSteps(a, b StepRecord) int {
	if a.Seq != b.Seq {
		return a.Seq - b.Seq
	}
	switch {
	case a.Compensation == b.Compensation:
		return 0
	case a.Compensation:
		return 1
	}
	return -1
}

// Unfinished lists engine's instances that are Running or Compensating.
func (s *MemoryStore) Unfinished(ctx context.Context, engine string, limit int) ([]Instance, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Instance
	for _, in := range s.instances {
		if in.Engine == engine && (in.Status == StatusRunning || in.Status == StatusCompensating) && len(out) < limit {
			out = append(out, *in)
		}
	}
	slices.SortFunc(out, func(a, b Instance) int {
		if a.ID < b.ID {
			return -1
		}
		if a.ID > b.ID {
			return 1
		}
		return 0
	})
	return out, nil
}
