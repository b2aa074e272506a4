package sqllog

import (
	"context"
	"database/sql"
	"log/slog"
	"sync"

	"github.com/txcio/txc"
	"github.com/txcio/txc/internal/sqltable"
	"github.com/txcio/txc/saga"
)

// Options configures New.
type Options struct {
	// Dialect of the database; DialectAuto detects it from the driver.
	Dialect Dialect
	// TablePrefix names the tables <prefix>_instance and <prefix>_step;
	// default DefaultTablePrefix.
	TablePrefix string
	// CreateTables runs the shipped schema (IF NOT EXISTS) at start.
	CreateTables bool
	// MaxBatch bounds the records written by one database transaction
	// (default 1024).
	MaxBatch int
	// Writers is the number of database transactions that may be in
	// flight at once (default 2): while one commits, the next gathers.
	Writers int
	// Logger receives RunCleanup's failures; default discards.
	Logger *slog.Logger
}

// Store is the saga.Store on MySQL/MariaDB or PostgreSQL. Saves from all
// concurrent sagas are queued and written by a few writer goroutines, many
// saves per database transaction (on PostgreSQL one statement per
// transaction); each Save returns once the transaction holding it has
// committed. Close stops the writers.
type Store struct {
	db      *sql.DB
	dialect Dialect
	inst    string // table names
	step    string
	max     int
	log     *slog.Logger

	mu     sync.Mutex
	queue  []*saveReq
	wake   chan struct{}
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

type saveReq struct {
	b    saga.Batch
	done chan error
}

// New returns the log store on db. ctx bounds the creation of the
// tables only; the writers run until Close.
func New(ctx context.Context, db *sql.DB, o Options) (*Store, error) {
	sd, prefix, err := tables.Prepare(ctx, db, sqltable.Dialect(o.Dialect), o.TablePrefix, o.CreateTables)
	if err != nil {
		return nil, err
	}
	d := Dialect(sd)
	if o.MaxBatch <= 0 {
		o.MaxBatch = 1024
	}
	if o.Writers <= 0 {
		o.Writers = 2
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	s := &Store{db: db, dialect: d, inst: prefix + "_instance", step: prefix + "_step", max: o.MaxBatch,
		wake: make(chan struct{}, 1), log: o.Logger}
	s.ctx, s.cancel = context.WithCancel(context.WithoutCancel(ctx))
	for range o.Writers {
		s.wg.Add(1)
		go s.writer()
	}
	return s, nil
}

// Close stops the writers; saves still queued fail.
func (s *Store) Close() error {
	s.cancel()
	s.wg.Wait()
	s.mu.Lock()
	q := s.queue
	s.queue = nil
	s.mu.Unlock()
	for _, r := range q {
		r.done <- txc.Errorf(txc.CodeUnavailable, "saga: log store closed")
	}
	return nil
}

// Save queues b and waits until the transaction that writes it committed.
// When ctx ends first, b is taken off the queue, or, if a writer already
// holds it, Save waits for that transaction: an error means b was not
// written and never will be.
func (s *Store) Save(ctx context.Context, b saga.Batch) error {
	if len(b.Instances) == 0 && len(b.Steps) == 0 {
		return nil
	}
	r := &saveReq{b: b, done: make(chan error, 1)}
	s.mu.Lock()
	if s.ctx.Err() != nil {
		s.mu.Unlock()
		return txc.Errorf(txc.CodeUnavailable, "saga: log store closed")
	}
	s.queue = append(s.queue, r)
	s.mu.Unlock()
	select {
	case s.wake <- struct{}{}:
	default:
	}
	select {
	case err := <-r.done:
		return err
	case <-ctx.Done():
	}
	if s.unqueue(r) {
		return context.Cause(ctx)
	}
	// A writer has taken r and its transaction may still commit. Wait for
	// it: the engine resumes from the log after a failed save, so a save
	// that returned an error must never be applied later.
	return <-r.done
}

// unqueue removes r from the queue; false if a writer has taken it.
func (s *Store) unqueue(r *saveReq) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i, q := range s.queue {
		if q == r {
			s.queue = append(s.queue[:i], s.queue[i+1:]...)
			return true
		}
	}
	return false
}

func (s *Store) writer() {
	defer s.wg.Done()
	for {
		s.mu.Lock()
		var take []*saveReq
		n := 0
		for len(s.queue) > 0 && (n == 0 || n+len(s.queue[0].b.Instances)+len(s.queue[0].b.Steps) <= s.max) {
			r := s.queue[0]
			s.queue[0] = nil
			s.queue = s.queue[1:]
			take = append(take, r)
			n += len(r.b.Instances) + len(r.b.Steps)
		}
		more := len(s.queue) > 0
		s.mu.Unlock()
		if more {
			select { // let another writer gather the rest
			case s.wake <- struct{}{}:
			default:
			}
		}
		if len(take) == 0 {
			select {
			case <-s.wake:
				continue
			case <-s.ctx.Done():
				return
			}
		}
		err := s.write(s.ctx, take)
		for _, r := range take {
			r.done <- err
		}
	}
}
