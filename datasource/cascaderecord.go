package datasource

import (
	"context"
	"fmt"
	"slices"

	"github.com/txcio/txc"
	"github.com/txcio/txc/datasource/undo"
)

// order returns the nodes the statement does not write itself in the
// order a rollback writes them back: in layers, those written back
// before the statement's own rows (before) and those after (after), the
// nodes of a layer in no order among themselves. Each edge asks for a
// referencing row after the row it references (its foreign key is
// checked as the row is written back, so that row must exist again), or
// before it for ON UPDATE CASCADE (the referencing row must leave the
// new value before the referenced row gives it up). The statement's own
// rows are one node, written back together. A cycle is refused.
func (c *Cascades) order() (before, after [][]int, err error) {
	id := func(i int) int { // the statement's rows are node -1
		if c.nodes[i].root {
			return -1
		}
		return i
	}
	succ := map[int][]int{}
	indeg := map[int]int{-1: 0}
	for i := range c.nodes {
		if id(i) == i {
			indeg[i] = 0
		}
	}
	for _, e := range c.edges {
		from, to := id(e.parent), id(e.child)
		if e.childFirst {
			from, to = to, from
		}
		if from != to {
			succ[from] = append(succ[from], to)
			indeg[to]++
		}
	}
	rootDone := false
	for len(indeg) > 0 {
		var layer []int
		for n, d := range indeg {
			if d == 0 {
				layer = append(layer, n)
			}
		}
		if len(layer) == 0 {
			return nil, nil, Unsupported(c.stmt, "the rows its foreign keys' referential actions write reference one another in a cycle: no order of writing them back satisfies the keys")
		}
		if slices.Contains(layer, -1) {
			layer = []int{-1} // the statement's rows alone, then the rest
		}
		slices.Sort(layer)
		for _, n := range layer {
			delete(indeg, n)
			for _, s := range succ[n] {
				indeg[s]--
			}
		}
		switch {
		case layer[0] == -1:
			rootDone = true
		case rootDone:
			after = append(after, layer)
		default:
			before = append(before, layer)
		}
	}
	return before, after, nil
}

// Record reads again, after the statement ran, the rows ImageCascades
// imaged, checks that they changed only as the actions that reach them
// may change them (deleted, or only the columns they set), and adds an
// undo record for those that changed, around the records the statement
// added for its own rows (see order). Any failure leaves the local
// transaction able only to roll back (Exec.Fail). Under a global lock
// it records nothing. A nil c does nothing.
func (c *Cascades) Record(ctx context.Context, x *Exec) error {
	if c == nil || !c.undo {
		return nil
	}
	err := c.record(ctx, x)
	if err != nil {
		x.Fail(err)
	}
	return err
}

// outcome is what the statement did to a node's row: kind 0 when
// nothing.
type outcome struct {
	kind  undo.RecordKind
	after undo.Row
}

func (c *Cascades) record(ctx context.Context, x *Exec) error {
	out, err := c.outcomes(ctx, x)
	if err != nil {
		return err
	}
	before, after, err := c.order()
	if err != nil {
		return err
	}
	// Records are undone newest first: the layers written back after the
	// statement's rows go before its records, last layer first.
	var prefix, suffix []undo.Record
	for k := len(after) - 1; k >= 0; k-- {
		prefix = append(prefix, c.layerRecords(after[k], out)...)
	}
	for k := len(before) - 1; k >= 0; k-- {
		suffix = append(suffix, c.layerRecords(before[k], out)...)
	}
	x.insertRecords(c.at, prefix)
	for _, r := range suffix {
		x.Add(r)
	}
	return nil
}

// outcomes reads the rows of the nodes the statement does not write
// itself, one query per table and chunk, and checks what happened to
// each.
func (c *Cascades) outcomes(ctx context.Context, x *Exec) (map[int]outcome, error) {
	byTable := map[string][]int{}
	var tables []*Table
	for i, n := range c.nodes {
		if n.root {
			continue
		}
		if _, ok := byTable[n.t.Name]; !ok {
			tables = append(tables, n.t)
		}
		byTable[n.t.Name] = append(byTable[n.t.Name], i)
	}
	out := map[int]outcome{}
	for _, t := range tables {
		idx := byTable[t.Name]
		now := map[string]undo.Row{}
		for start := 0; start < len(idx); start += rollbackChunk {
			chunk := idx[start:min(len(idx), start+rollbackChunk)]
			keys := make([]undo.Row, len(chunk))
			for k, i := range chunk {
				keys[k] = c.nodes[i].before
			}
			rows, err := c.d.ReadRows(ctx, x, t, keys)
			if err != nil {
				return nil, err
			}
			for _, r := range rows {
				now[RowKey(t.PK, r)] = r
			}
		}
		for _, i := range idx {
			o, err := c.nodes[i].outcome(now)
			if err != nil {
				return nil, err
			}
			out[i] = o
		}
	}
	return out, nil
}

// outcome checks what the statement did to n's row, now as in now (by
// row key): gone only if an action deletes it, changed only in the
// columns the actions set.
func (n *cascadeNode) outcome(now map[string]undo.Row) (outcome, error) {
	k := RowKey(n.t.PK, n.before)
	cur, ok := now[k]
	switch {
	case !ok && n.deleted:
		return outcome{kind: undo.Delete}, nil
	case !ok:
		return outcome{}, txc.Errorf(txc.CodeUnsupported, "datasource: row (%s) of %s is gone after the statement, but no referential action it set off deletes it", k, n.t.Name)
	case cur.Equal(n.before):
		return outcome{}, nil
	case len(cur) != len(n.before):
		return outcome{}, &TableChangedError{Table: n.t.Name, Detail: fmt.Sprintf("its rows have %d columns after the statement, %d before", len(cur), len(n.before))}
	}
	for j, col := range cur {
		if col.Name != n.before[j].Name {
			return outcome{}, &TableChangedError{Table: n.t.Name, Detail: fmt.Sprintf("column %q read as %q after the statement", n.before[j].Name, col.Name)}
		}
		if !col.Value.Equal(n.before[j].Value) && !slices.ContainsFunc(n.sets, func(s string) bool { return n.t.same(s, col.Name) }) {
			return outcome{}, txc.Errorf(txc.CodeUnsupported, "datasource: column %q of row (%s) of %s changed in the statement, but no referential action it set off writes it (a trigger created since?)", col.Name, k, n.t.Name)
		}
	}
	return outcome{kind: undo.Update, after: cur}, nil
}

// layerRecords returns the records of the nodes of one layer that
// changed: per table, its deleted rows and its updated rows.
func (c *Cascades) layerRecords(layer []int, out map[int]outcome) []undo.Record {
	var recs []undo.Record
	index := map[string]int{} // table name → its Delete record in recs (its Update follows)
	for _, i := range layer {
		n, o := c.nodes[i], out[i]
		if o.kind == 0 {
			continue
		}
		k, ok := index[n.t.Name]
		if !ok {
			k = len(recs)
			index[n.t.Name] = k
			recs = append(recs,
				undo.Record{Table: n.t.Name, Kind: undo.Delete, PK: n.t.PK, LockTable: n.t.LockName},
				undo.Record{Table: n.t.Name, Kind: undo.Update, PK: n.t.PK, LockTable: n.t.LockName})
		}
		if o.kind == undo.Delete {
			recs[k].Before = append(recs[k].Before, n.before)
		} else {
			recs[k+1].Before = append(recs[k+1].Before, n.before)
			recs[k+1].After = append(recs[k+1].After, o.after)
		}
	}
	return recs
}
