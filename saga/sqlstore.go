package saga

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/txcio/txc"
	"github.com/txcio/txc/internal/sqltable"
)

// SQLOptions configures NewSQLStore.
type SQLOptions struct {
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

// SQLStore is the Store on MySQL/MariaDB or PostgreSQL. Saves from all
// concurrent sagas are queued and written by a few writer goroutines, many
// saves per database transaction (on PostgreSQL one statement per
// transaction); each Save returns once the transaction holding it has
// committed. Close stops the writers.
type SQLStore struct {
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
	b    Batch
	done chan error
}

// NewSQLStore returns the log store on db. ctx bounds the creation of the
// tables only; the writers run until Close.
func NewSQLStore(ctx context.Context, db *sql.DB, o SQLOptions) (*SQLStore, error) {
	d := o.Dialect
	if d == DialectAuto {
		var err error
		if d, err = detectDialect(db); err != nil {
			return nil, err
		}
	}
	if d != MySQL && d != Postgres {
		return nil, invalid("unknown dialect %v", d)
	}
	prefix := o.TablePrefix
	if prefix == "" {
		prefix = DefaultTablePrefix
	}
	if !sqltable.Plain(prefix, maxTablePrefix) {
		return nil, invalid("table prefix %q is not a plain identifier of at most 41 bytes", prefix)
	}
	if o.CreateTables {
		if err := createTables(ctx, db, d, prefix); err != nil {
			return nil, err
		}
	}
	if o.MaxBatch <= 0 {
		o.MaxBatch = 1024
	}
	if o.Writers <= 0 {
		o.Writers = 2
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	s := &SQLStore{db: db, dialect: d, inst: prefix + "_instance", step: prefix + "_step", max: o.MaxBatch,
		wake: make(chan struct{}, 1), log: o.Logger}
	s.ctx, s.cancel = context.WithCancel(context.WithoutCancel(ctx))
	for range o.Writers {
		s.wg.Add(1)
		go s.writer()
	}
	return s, nil
}

// Close stops the writers; saves still queued fail.
func (s *SQLStore) Close() error {
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
func (s *SQLStore) Save(ctx context.Context, b Batch) error {
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
		return context.Cause(ctx)
	}
}

func (s *SQLStore) writer() {
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

// write applies the saves in one transaction, coalescing records of one key.
func (s *SQLStore) write(ctx context.Context, reqs []*saveReq) error {
	var insts []Instance
	var steps []StepRecord
	ii := map[string]int{}
	si := map[stepKeyFull]int{}
	for _, r := range reqs {
		for _, in := range r.b.Instances {
			if i, ok := ii[in.ID]; ok {
				c := &insts[i]
				c.Status, c.Output, c.ErrorName, c.Error = in.Status, in.Output, in.ErrorName, in.Error
				continue
			}
			ii[in.ID] = len(insts)
			insts = append(insts, in)
		}
		for _, st := range r.b.Steps {
			k := stepKeyFull{st.Instance, st.Seq, st.Compensation}
			if i, ok := si[k]; ok {
				c := &steps[i]
				c.Status, c.Output, c.ErrorName, c.Error, c.Attempts = st.Status, st.Output, st.ErrorName, st.Error, st.Attempts
				continue
			}
			si[k] = len(steps)
			steps = append(steps, st)
		}
	}
	var err error
	if s.dialect == Postgres {
		err = s.writePostgres(ctx, insts, steps)
	} else {
		err = s.writeMySQL(ctx, insts, steps)
	}
	if err != nil {
		return fmt.Errorf("saga: write log (%d instance and %d step records): %w", len(insts), len(steps), err)
	}
	return nil
}

type stepKeyFull struct {
	id   string
	seq  int
	comp bool
}

func (s *SQLStore) writePostgres(ctx context.Context, insts []Instance, steps []StepRecord) error {
	n := len(insts)
	id, def, xid, engine, input, output, errn, errm := make([]string, n), make([]string, n), make([]string, n), make([]string, n),
		make([]string, n), make([]string, n), make([]string, n), make([]string, n)
	bid, status := make([]int64, n), make([]int16, n)
	for i, in := range insts {
		id[i], def[i], xid[i], engine[i] = in.ID, in.Definition, string(in.XID), in.Engine
		input[i], output[i], errn[i], errm[i] = string(in.Input), string(in.Output), in.ErrorName, in.Error
		bid[i], status[i] = int64(in.BranchID), int16(in.Status)
	}
	m := len(steps)
	sid, sstate, sin, sout, serrn, serrm := make([]string, m), make([]string, m), make([]string, m), make([]string, m), make([]string, m), make([]string, m)
	sseq, sattempts := make([]int32, m), make([]int32, m)
	scomp := make([]bool, m)
	sstatus := make([]int16, m)
	for i, st := range steps {
		sid[i], sstate[i], sin[i], sout[i], serrn[i], serrm[i] = st.Instance, st.State, string(st.Input), string(st.Output), st.ErrorName, st.Error
		sseq[i], sattempts[i], scomp[i], sstatus[i] = int32(st.Seq), int32(st.Attempts), st.Compensation, int16(st.Status)
	}
	q := `WITH i AS (
INSERT INTO ` + s.inst + ` AS t (id, definition, xid, branch_id, engine, status, input, output, error_name, error, created_at, updated_at)
SELECT u.id, u.def, u.xid, u.bid, u.engine, u.status, NULLIF(u.input, ''), NULLIF(u.output, ''), NULLIF(u.errn, ''), NULLIF(u.errm, ''), now(), now()
FROM unnest($1::text[], $2::text[], $3::text[], $4::bigint[], $5::text[], $6::smallint[], $7::text[], $8::text[], $9::text[], $10::text[])
  AS u(id, def, xid, bid, engine, status, input, output, errn, errm)
ON CONFLICT (id) DO UPDATE SET status = EXCLUDED.status, output = EXCLUDED.output, error_name = EXCLUDED.error_name,
  error = EXCLUDED.error, updated_at = now())
INSERT INTO ` + s.step + ` AS t (instance_id, seq, compensation, state, status, input, output, error_name, error, attempts, started_at, finished_at)
SELECT u.id, u.seq, u.comp, u.state, u.status, NULLIF(u.input, ''), NULLIF(u.output, ''), NULLIF(u.errn, ''), NULLIF(u.errm, ''), u.attempts,
  now(), CASE WHEN u.status = 1 THEN NULL ELSE now() END
FROM unnest($11::text[], $12::int[], $13::bool[], $14::text[], $15::smallint[], $16::text[], $17::text[], $18::text[], $19::text[], $20::int[])
  AS u(id, seq, comp, state, status, input, output, errn, errm, attempts)
ON CONFLICT (instance_id, seq, compensation) DO UPDATE SET status = EXCLUDED.status, output = EXCLUDED.output,
  error_name = EXCLUDED.error_name, error = EXCLUDED.error, attempts = EXCLUDED.attempts, finished_at = EXCLUDED.finished_at`
	_, err := s.db.ExecContext(ctx, q, id, def, xid, bid, engine, status, input, output, errn, errm,
		sid, sseq, scomp, sstate, sstatus, sin, sout, serrn, serrm, sattempts)
	return err
}

func (s *SQLStore) writeMySQL(ctx context.Context, insts []Instance, steps []StepRecord) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	null := func(s string) any {
		if s == "" {
			return nil
		}
		return s
	}
	if len(insts) > 0 {
		var b strings.Builder
		args := make([]any, 0, 10*len(insts))
		b.WriteString("INSERT INTO " + s.inst + " (id, definition, xid, branch_id, engine, status, input, output, error_name, error, created_at, updated_at) VALUES ")
		for i, in := range insts {
			if i > 0 {
				b.WriteByte(',')
			}
			b.WriteString("(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, NOW(6), NOW(6))")
			args = append(args, in.ID, in.Definition, string(in.XID), int64(in.BranchID), in.Engine, int16(in.Status),
				null(string(in.Input)), null(string(in.Output)), null(in.ErrorName), null(in.Error))
		}
		b.WriteString(" ON DUPLICATE KEY UPDATE status = VALUES(status), output = VALUES(output), error_name = VALUES(error_name), error = VALUES(error), updated_at = NOW(6)")
		if _, err := tx.ExecContext(ctx, b.String(), args...); err != nil {
			return err
		}
	}
	if len(steps) > 0 {
		var b strings.Builder
		args := make([]any, 0, 10*len(steps))
		b.WriteString("INSERT INTO " + s.step + " (instance_id, seq, compensation, state, status, input, output, error_name, error, attempts, started_at, finished_at) VALUES ")
		for i, st := range steps {
			if i > 0 {
				b.WriteByte(',')
			}
			b.WriteString("(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, NOW(6), IF(? = 1, NULL, NOW(6)))")
			args = append(args, st.Instance, st.Seq, st.Compensation, st.State, int16(st.Status), null(string(st.Input)),
				null(string(st.Output)), null(st.ErrorName), null(st.Error), st.Attempts, int16(st.Status))
		}
		b.WriteString(" ON DUPLICATE KEY UPDATE status = VALUES(status), output = VALUES(output), error_name = VALUES(error_name), error = VALUES(error), attempts = VALUES(attempts), finished_at = VALUES(finished_at)")
		if _, err := tx.ExecContext(ctx, b.String(), args...); err != nil {
			return err
		}
	}
	return tx.Commit()
}

func (s *SQLStore) ph(q string) string {
	if s.dialect == MySQL {
		return q
	}
	var b strings.Builder
	n := 0
	for _, c := range q {
		if c == '?' {
			n++
			fmt.Fprintf(&b, "$%d", n)
			continue
		}
		b.WriteRune(c)
	}
	return b.String()
}

const instanceCols = "id, definition, xid, branch_id, engine, status, input, output, error_name, error"

func scanInstance(sc interface{ Scan(...any) error }) (Instance, error) {
	var in Instance
	var xid string
	var bid int64
	var status int16
	var input, output, errn, errm sql.NullString
	if err := sc.Scan(&in.ID, &in.Definition, &xid, &bid, &in.Engine, &status, &input, &output, &errn, &errm); err != nil {
		return in, err
	}
	in.XID, in.BranchID, in.Status = txc.XID(xid), txc.BranchID(bid), Status(status)
	if input.Valid {
		in.Input = []byte(input.String)
	}
	if output.Valid {
		in.Output = []byte(output.String)
	}
	in.ErrorName, in.Error = errn.String, errm.String
	return in, nil
}

// Load reads an instance and its steps.
func (s *SQLStore) Load(ctx context.Context, id string) (Instance, []StepRecord, error) {
	in, err := scanInstance(s.db.QueryRowContext(ctx, s.ph("SELECT "+instanceCols+" FROM "+s.inst+" WHERE id = ?"), id))
	if errors.Is(err, sql.ErrNoRows) {
		return Instance{}, nil, unknownInstance(id)
	}
	if err != nil {
		return Instance{}, nil, fmt.Errorf("saga: load instance %s: %w", id, err)
	}
	rows, err := s.db.QueryContext(ctx, s.ph("SELECT seq, compensation, state, status, input, output, error_name, error, attempts FROM "+
		s.step+" WHERE instance_id = ? ORDER BY seq, compensation"), id)
	if err != nil {
		return Instance{}, nil, fmt.Errorf("saga: load steps of %s: %w", id, err)
	}
	defer rows.Close()
	var steps []StepRecord
	for rows.Next() {
		st := StepRecord{Instance: id}
		var status int16
		var input, output, errn, errm sql.NullString
		if err := rows.Scan(&st.Seq, &st.Compensation, &st.State, &status, &input, &output, &errn, &errm, &st.Attempts); err != nil {
			return Instance{}, nil, fmt.Errorf("saga: load steps of %s: %w", id, err)
		}
		st.Status = StepStatus(status)
		if input.Valid {
			st.Input = []byte(input.String)
		}
		if output.Valid {
			st.Output = []byte(output.String)
		}
		st.ErrorName, st.Error = errn.String, errm.String
		steps = append(steps, st)
	}
	if err := rows.Err(); err != nil {
		return Instance{}, nil, fmt.Errorf("saga: load steps of %s: %w", id, err)
	}
	return in, steps, nil
}

// Unfinished lists engine's Running and Compensating instances.
func (s *SQLStore) Unfinished(ctx context.Context, engine string, limit int) ([]Instance, error) {
	rows, err := s.db.QueryContext(ctx, s.ph("SELECT "+instanceCols+" FROM "+s.inst+" WHERE engine = ? AND status IN (1, 2) ORDER BY id LIMIT ?"), engine, limit)
	if err != nil {
		return nil, fmt.Errorf("saga: list unfinished instances: %w", err)
	}
	defer rows.Close()
	var out []Instance
	for rows.Next() {
		in, err := scanInstance(rows)
		if err != nil {
			return nil, fmt.Errorf("saga: list unfinished instances: %w", err)
		}
		out = append(out, in)
	}
	return out, rows.Err()
}

// DeleteFinished deletes up to limit final instances (and their steps) not
// updated for olderThan, and returns how many it deleted. Parked instances
// are kept.
func (s *SQLStore) DeleteFinished(ctx context.Context, olderThan time.Duration, limit int) (int, error) {
	var q string
	us := olderThan.Microseconds()
	if s.dialect == MySQL {
		q = "SELECT id FROM " + s.inst + " WHERE status IN (3, 4, 5, 7) AND updated_at < NOW(6) - INTERVAL ? MICROSECOND LIMIT ?"
	} else {
		q = "SELECT id FROM " + s.inst + " WHERE status IN (3, 4, 5, 7) AND updated_at < now() - $1 * interval '1 microsecond' LIMIT $2"
	}
	rows, err := s.db.QueryContext(ctx, q, us, limit)
	if err != nil {
		return 0, fmt.Errorf("saga: delete finished: %w", err)
	}
	var ids []any
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			rows.Close()
			return 0, fmt.Errorf("saga: delete finished: %w", err)
		}
		ids = append(ids, id)
	}
	rows.Close()
	if len(ids) == 0 {
		return 0, rows.Err()
	}
	in := strings.TrimSuffix(strings.Repeat("?, ", len(ids)), ", ")
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return 0, fmt.Errorf("saga: delete finished: %w", err)
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, s.ph("DELETE FROM "+s.step+" WHERE instance_id IN ("+in+")"), ids...); err != nil {
		return 0, fmt.Errorf("saga: delete finished: %w", err)
	}
	if _, err := tx.ExecContext(ctx, s.ph("DELETE FROM "+s.inst+" WHERE id IN ("+in+")"), ids...); err != nil {
		return 0, fmt.Errorf("saga: delete finished: %w", err)
	}
	return len(ids), tx.Commit()
}

// RunCleanup deletes finished instances (succeeded, compensated, failed,
// aborted) and their steps, last changed more than retention ago, every
// interval until ctx is done, then returns ctx's error; each round deletes
// in batches of at most 1,000 instances until none is left. Start it
// explicitly (go store.RunCleanup(...)) in one or more processes;
// concurrent cleanups are harmless. A failed round is logged and retried at
// the next interval. Non-positive interval and retention mean 1h and 7 days.
//
// Retention should exceed the time anyone needs to look a finished saga up
// (Engine.Status reads the log): a deleted instance is unknown.
func (s *SQLStore) RunCleanup(ctx context.Context, interval, retention time.Duration) error {
	if interval <= 0 {
		interval = time.Hour
	}
	if retention <= 0 {
		retention = 7 * 24 * time.Hour
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
		total := 0
		for {
			n, err := s.DeleteFinished(ctx, retention, 1000)
			if err != nil {
				if ctx.Err() == nil {
					s.log.Warn("saga: log cleanup failed; retrying at the next interval", "table", s.inst, "err", err)
				}
				break
			}
			total += n
			if n < 1000 {
				break
			}
		}
		if total > 0 {
			s.log.Debug("saga: log cleanup", "table", s.inst, "deleted", total)
		}
	}
}
