package datasource

import (
	"context"

	"github.com/txcio/txc"
	"github.com/txcio/txc/datasource/undo"
)

// AfterReader reads the current rows of one table by primary key with a
// locking read (keys are images holding at least the pk columns); the
// rows may come back in any order.
type AfterReader func(ctx context.Context, x *Exec, keys []undo.Row) ([]undo.Row, error)

// deferredAfter is an undo record of the local transaction whose after
// image is taken at local commit (see Exec.AddDeferred).
type deferredAfter struct {
	idx   int // in the records of the Exec, then of the txState
	read  AfterReader
	check func(after []undo.Row) error
}

// AddDeferred appends an Update record whose After is not read yet, for a
// dialect that cannot have the statement return the rows it wrote: the
// local transaction fills it in at commit, before the branch registers
// and the undo log is written, saving one round trip per statement.
//
// Contract: rec.Before holds whole rows (every column the after image
// needs) and the statement did not change any primary-key column, so that
// After[i] is the row with the key of Before[i]. The after image of a row
// is the state the statement left it in: the Before image of the next
// record of the same table that holds the row's key (the state the next
// statement found, read under the row lock this transaction holds), or,
// when no later record does, the row as read by read at commit (all such
// rows of a table in one call). A ROLLBACK TO SAVEPOINT drops the
// records of the statements it undid (see txState.rollbackTo): a later
// record is then always of a statement whose changes remain, and a row
// the undone statements alone wrote again is read at commit as it is,
// back in the state the deferred statement left it in. check then runs with the completed After;
// an error from it or from read refuses the commit, and the local
// transaction rolls back.
//
// Inside a global transaction only: under a global lock records are not
// kept, so a dialect must read its images at once there.
func (x *Exec) AddDeferred(rec undo.Record, read AfterReader, check func(after []undo.Row) error) {
	if len(rec.Before) == 0 {
		return
	}
	rec.After = nil
	x.recs = append(x.recs, rec)
	x.deferred = append(x.deferred, deferredAfter{idx: len(x.recs) - 1, read: read, check: check})
}

// fillDeferred completes the After of every deferred record of st (see
// Exec.AddDeferred). It runs at commit, before the lock keys are taken.
func (c *conn) fillDeferred(ctx context.Context, st *txState) error {
	if len(st.deferred) == 0 {
		return nil
	}
	befores, err := beforesByKey(st.recs)
	if err != nil {
		return err
	}
	reads, err := fillFromLater(st, befores)
	if err != nil {
		return err
	}
	x := &Exec{c: c, xid: st.xid}
	for _, p := range reads {
		if err := p.fill(ctx, x, st); err != nil {
			return err
		}
	}
	for _, d := range st.deferred {
		if d.check != nil {
			if err := d.check(st.recs[d.idx].After); err != nil {
				return err
			}
		}
	}
	st.deferred = nil
	return nil
}

// keySeen is a Before row of record rec.
type keySeen struct {
	rec int
	row undo.Row
}

// beforesByKey returns where each key of each table appears in a Before
// of recs, in record order.
func beforesByKey(recs []undo.Record) (map[string]map[string][]keySeen, error) {
	befores := map[string]map[string][]keySeen{}
	for i, r := range recs {
		if len(r.Before) == 0 {
			continue
		}
		keys, err := rowKeys(r.PK, r.Before)
		if err != nil {
			return nil, err
		}
		byKey := befores[r.Table]
		if byKey == nil {
			byKey = map[string][]keySeen{}
			befores[r.Table] = byKey
		}
		for j, k := range keys {
			byKey[k] = append(byKey[k], keySeen{i, r.Before[j]})
		}
	}
	return befores, nil
}

// afterSlot is row row of the After of deferred record d.
type afterSlot struct{ d, row int }

// afterRead is the rows of one table read at commit: keys, and the slots
// each key's row fills.
type afterRead struct {
	table string
	read  AfterReader
	pk    []string
	keys  []undo.Row
	slots map[string][]afterSlot
}

// fillFromLater fills each deferred After row from the Before of a later
// record of the same row, and returns the rows no later record holds, to
// be read at commit: one read per table, in the order the tables were
// first deferred.
func fillFromLater(st *txState, befores map[string]map[string][]keySeen) ([]*afterRead, error) {
	var reads []*afterRead
	byTable := map[string]*afterRead{}
	for di, d := range st.deferred {
		rec := &st.recs[d.idx]
		keys, err := rowKeys(rec.PK, rec.Before)
		if err != nil {
			return nil, err
		}
		rec.After = make([]undo.Row, len(rec.Before))
		for r, k := range keys {
			if next := laterBefore(befores[rec.Table][k], d.idx); next != nil {
				if rec.After[r], err = project(rec.Table, rec.Before[r], next); err != nil {
					return nil, err
				}
				continue
			}
			p := byTable[rec.Table]
			if p == nil {
				p = &afterRead{table: rec.Table, read: d.read, pk: rec.PK, slots: map[string][]afterSlot{}}
				byTable[rec.Table] = p
				reads = append(reads, p)
			}
			if len(p.slots[k]) == 0 {
				p.keys = append(p.keys, rec.Before[r])
			}
			p.slots[k] = append(p.slots[k], afterSlot{di, r})
		}
	}
	return reads, nil
}

// laterBefore returns the first of seen of a record after rec, or nil.
func laterBefore(seen []keySeen, rec int) undo.Row {
	for _, s := range seen {
		if s.rec > rec {
			return s.row
		}
	}
	return nil
}

// fill reads p's rows and fills the After rows they belong to; a row not
// found refuses the commit.
func (p *afterRead) fill(ctx context.Context, x *Exec, st *txState) error {
	rows, err := p.read(ctx, x, p.keys)
	if err != nil {
		return err
	}
	ks, err := rowKeys(p.pk, rows)
	if err != nil {
		return err
	}
	for i, row := range rows {
		for _, s := range p.slots[ks[i]] {
			rec := &st.recs[st.deferred[s.d].idx]
			if rec.After[s.row], err = project(rec.Table, rec.Before[s.row], row); err != nil {
				return err
			}
		}
	}
	for _, ss := range p.slots {
		for _, s := range ss {
			if rec := &st.recs[st.deferred[s.d].idx]; rec.After[s.row] == nil {
				k, _ := rowKeys(rec.PK, []undo.Row{rec.Before[s.row]})
				return txc.Errorf(txc.CodeUnsupported, "datasource: row (%s) of %s was not found when its after image was read at commit", k[0], p.table)
			}
		}
	}
	return nil
}

// project returns the columns of shape, in its order, with the values of
// row.
func project(table string, shape, row undo.Row) (undo.Row, error) {
	out := make(undo.Row, len(shape))
	for i, c := range shape {
		v, ok := row.Get(c.Name)
		if !ok {
			return nil, txc.Errorf(txc.CodeUnsupported, "datasource: the after image of a row of %s lacks column %q", table, c.Name)
		}
		out[i] = undo.Column{Name: c.Name, Value: v}
	}
	return out, nil
}
