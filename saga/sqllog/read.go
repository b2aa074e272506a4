package sqllog

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"

	"github.com/txcio/txc"
	"github.com/txcio/txc/saga"
)

func (s *Store) ph(q string) string {
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

func scanInstance(sc interface{ Scan(...any) error }) (saga.Instance, error) {
	var in saga.Instance
	var xid string
	var bid int64
	var status int16
	var input, output, errn, errm sql.NullString
	if err := sc.Scan(&in.ID, &in.Definition, &xid, &bid, &in.Engine, &status, &input, &output, &errn, &errm); err != nil {
		return in, err
	}
	in.XID, in.BranchID, in.Status = txc.XID(xid), txc.BranchID(bid), saga.Status(status)
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
func (s *Store) Load(ctx context.Context, id string) (saga.Instance, []saga.StepRecord, error) {
	in, err := scanInstance(s.db.QueryRowContext(ctx, s.ph("SELECT "+instanceCols+" FROM "+s.inst+" WHERE id = ?"), id))
	if errors.Is(err, sql.ErrNoRows) {
		return saga.Instance{}, nil, saga.UnknownInstance(id)
	}
	if err != nil {
		return saga.Instance{}, nil, fmt.Errorf("saga: load instance %s: %w", id, err)
	}
	rows, err := s.db.QueryContext(ctx, s.ph("SELECT seq, compensation, state, status, input, output, error_name, error, attempts FROM "+
		s.step+" WHERE instance_id = ? ORDER BY seq, compensation"), id)
	if err != nil {
		return saga.Instance{}, nil, fmt.Errorf("saga: load steps of %s: %w", id, err)
	}
	defer rows.Close()
	var steps []saga.StepRecord
	for rows.Next() {
		st := saga.StepRecord{Instance: id}
		var status int16
		var input, output, errn, errm sql.NullString
		if err := rows.Scan(&st.Seq, &st.Compensation, &st.State, &status, &input, &output, &errn, &errm, &st.Attempts); err != nil {
			return saga.Instance{}, nil, fmt.Errorf("saga: load steps of %s: %w", id, err)
		}
		st.Status = saga.StepStatus(status)
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
		return saga.Instance{}, nil, fmt.Errorf("saga: load steps of %s: %w", id, err)
	}
	return in, steps, nil
}

// Unfinished lists engine's Running and Compensating instances.
func (s *Store) Unfinished(ctx context.Context, engine string, limit int) ([]saga.Instance, error) {
	rows, err := s.db.QueryContext(ctx, s.ph("SELECT "+instanceCols+" FROM "+s.inst+" WHERE engine = ? AND status IN (1, 2) ORDER BY id LIMIT ?"), engine, limit)
	if err != nil {
		return nil, fmt.Errorf("saga: list unfinished instances: %w", err)
	}
	defer rows.Close()
	var out []saga.Instance
	for rows.Next() {
		in, err := scanInstance(rows)
		if err != nil {
			return nil, fmt.Errorf("saga: list unfinished instances: %w", err)
		}
		out = append(out, in)
	}
	return out, rows.Err()
}
