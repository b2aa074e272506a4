package sqllog

import (
	"context"
	"fmt"
	"strings"

	"github.com/txcio/txc/saga"
)

// write applies the saves in one transaction, coalescing records of one key.
func (s *Store) write(ctx context.Context, reqs []*saveReq) error {
	var insts []saga.Instance
	var steps []saga.StepRecord
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

func (s *Store) writePostgres(ctx context.Context, insts []saga.Instance, steps []saga.StepRecord) error {
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

func (s *Store) writeMySQL(ctx context.Context, insts []saga.Instance, steps []saga.StepRecord) error {
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
