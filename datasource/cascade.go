package datasource

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/txcio/txc"
	"github.com/txcio/txc/datasource/undo"
)

// Rows that referential actions write. A DELETE or UPDATE of rows that
// foreign keys with a writing action (CASCADE, SET NULL, SET DEFAULT)
// reference makes the server write the referencing rows too, and theirs
// in turn. Before such a statement runs, its executor hands the rows it
// is about to write (locked) to ImageCascades, which follows the keys
// level by level, reading and locking the rows each action may write,
// refusing what cannot be restored (RefuseCascade, cycles, more than
// MaxCascadeDepth levels); after it ran, Cascades.Record reads those rows
// again and adds undo records for the ones that changed, placed so that
// a rollback, undoing records newest first, writes every row back only
// once the rows it references are back. See docs/decisions/cascades.md.

// MaxCascadeDepth bounds the levels of referencing rows a statement's
// referential actions may reach (InnoDB refuses deeper cascades itself).
const MaxCascadeDepth = 15

// Action is what a foreign key's referential action does to the rows
// referencing a row that is deleted, or whose referenced columns change.
type Action uint8

const (
	// ActionNone is NO ACTION or RESTRICT: nothing is written (the
	// statement fails while rows reference the row).
	ActionNone Action = iota
	// ActionCascade deletes the referencing rows (ON DELETE) or sets
	// their columns to the new values (ON UPDATE).
	ActionCascade
	// ActionSetNull sets their columns to NULL.
	ActionSetNull
	// ActionSetDefault sets their columns to their defaults.
	ActionSetDefault
)

func (a Action) String() string {
	switch a {
	case ActionCascade:
		return "CASCADE"
	case ActionSetNull:
		return "SET NULL"
	case ActionSetDefault:
		return "SET DEFAULT"
	}
	return "NO ACTION"
}

// ForeignKey is a foreign key referencing a table (see
// Hazards.Cascades): rows of the referencing table whose Columns equal a
// row's RefColumns (in order) reference it.
type ForeignKey struct {
	Name string
	// Schema and Table name the referencing table as the dialect's
	// Cascader loads it.
	Schema, Table       string
	Columns, RefColumns []string
	OnDelete, OnUpdate  Action
	// DeleteSets are the columns ON DELETE SET NULL / SET DEFAULT writes
	// when it names some (PostgreSQL 15); nil: Columns.
	DeleteSets []string
	// Deferrable: the key's checks can be deferred to commit.
	Deferrable bool
}

// action is the key's action on a delete (del) or on an update of the
// referenced columns.
func (fk *ForeignKey) action(del bool) Action {
	if del {
		return fk.OnDelete
	}
	return fk.OnUpdate
}

// sets are the referencing columns the key's action writes (none for ON
// DELETE CASCADE, which deletes the rows).
func (fk *ForeignKey) sets(del bool) []string {
	switch {
	case del && fk.OnDelete == ActionCascade:
		return nil
	case del && fk.DeleteSets != nil:
		return fk.DeleteSets
	}
	return fk.Columns
}

// fires reports whether a delete (del) of rows of t, or an update of the
// columns cols, sets off the key's action.
func (fk *ForeignKey) fires(del bool, cols []string, t *Table) bool {
	if fk.action(del) == ActionNone {
		return false
	}
	return del || slices.ContainsFunc(fk.RefColumns, func(c string) bool {
		return slices.ContainsFunc(cols, func(a string) bool { return t.same(a, c) })
	})
}

// Cascading reports whether a write op (OpDelete, or OpUpdate setting
// assigned) to rows of t sets off referential actions that write other
// rows: the executor then images them with ImageCascades.
func Cascading(op WriteOp, assigned []string, t *Table) bool {
	if op != OpDelete && op != OpUpdate {
		return false
	}
	for i := range t.Hazards.Cascades {
		if t.Hazards.Cascades[i].fires(op == OpDelete, assigned, t) {
			return true
		}
	}
	return false
}

// Cascader is an optional interface of a Dialect whose executors image
// the rows referential actions write (ImageCascades). Rows are images as
// the dialect's executors read them.
type Cascader interface {
	// CascadeTable returns the metadata of fk's referencing table, as
	// current as that of a table the local transaction writes.
	CascadeTable(ctx context.Context, x *Exec, fk *ForeignKey) (*Table, error)
	// LockReferencing reads, with row locks, the rows of t whose cols
	// equal, in order, the refCols of one of parents (images of rows of
	// parent holding refCols).
	LockReferencing(ctx context.Context, x *Exec, t *Table, cols []string, parent *Table, refCols []string, parents []undo.Row) ([]undo.Row, error)
	// ReadRows reads the rows of t with the keys of keys (images holding
	// the primary-key columns), as the local transaction sees them; the
	// rows may come back in any order.
	ReadRows(ctx context.Context, x *Exec, t *Table, keys []undo.Row) ([]undo.Row, error)
}

// CascadeRoot is what one statement is about to write in one table: the
// rows (images, locked) it deletes (OpDelete) or updates (OpUpdate,
// setting Assigned).
type CascadeRoot struct {
	Table    *Table
	Op       WriteOp
	Assigned []string
	Rows     []undo.Row
}

// Cascades are the rows one statement's referential actions may write,
// imaged and locked before it runs (ImageCascades). A nil *Cascades has
// none.
type Cascades struct {
	stmt  string
	d     Cascader
	undo  bool // images kept for a rollback (else: only checked for global locks)
	at    int  // where the statement's records begin among its Exec's
	nodes []*cascadeNode
	index map[string]int // table name and row key → node
	edges []cascadeEdge
	// deletedRoots are the rows the statement deletes that an ON DELETE
	// CASCADE reaches too.
	deletedRoots map[int]bool
}

// cascadeNode is one row a statement or its referential actions write.
type cascadeNode struct {
	t      *Table
	before undo.Row
	// root: the statement writes the row itself; rootDelete: it
	// deletes it.
	root, rootDelete bool
	// deleted: an action deletes the row; sets: the columns the actions
	// (or the statement) may write.
	deleted bool
	sets    []string
	// What earlier rounds of the walk followed from the row.
	walkedDelete bool
	walkedSets   []string
}

// cascadeEdge says that an action of a key referencing node parent
// writes node child. childFirst: a rollback must write child back before
// parent (ON UPDATE CASCADE); else after it.
type cascadeEdge struct {
	parent, child int
	childFirst    bool
}

// ImageCascades follows the referential actions the statement stmt sets
// off by writing roots, before it runs, and returns the rows they may
// write, read and locked (nil when they can write none: no key has such
// an action, or no row references the roots). Under a global
// lock it checks their global locks instead (nothing is recorded). It
// refuses (*RefusedError, nothing changed) what RefuseCascade refuses,
// actions reaching a row the statement updates, more than
// MaxCascadeDepth levels or txc.MaxLockRows rows, and rows that cannot
// be written back in any order their keys accept (a cycle).
func ImageCascades(ctx context.Context, x *Exec, stmt string, roots []CascadeRoot) (*Cascades, error) {
	if !slices.ContainsFunc(roots, func(r CascadeRoot) bool { return Cascading(r.Op, r.Assigned, r.Table) }) {
		return nil, nil
	}
	d, ok := x.Dialect().(Cascader)
	if !ok {
		return nil, Unsupported(stmt, "foreign keys with ON DELETE or ON UPDATE actions reference its rows, and dialect %s cannot image the rows they write", x.Dialect().Name())
	}
	c := &Cascades{stmt: stmt, d: d, undo: x.InGlobalTx(), at: len(x.recs), index: map[string]int{}, deletedRoots: map[int]bool{}}
	frontier := c.addRoots(roots)
	statementRows := len(c.nodes)
	for level := 1; len(frontier) > 0; level++ {
		var err error
		if frontier, err = c.round(ctx, x, frontier); err != nil {
			return nil, err
		}
		if len(frontier) > 0 && level > MaxCascadeDepth {
			return nil, Unsupported(stmt, "its foreign keys' referential actions reach more than %d levels of referencing rows", MaxCascadeDepth)
		}
	}
	if len(c.nodes) == statementRows && len(c.deletedRoots) == 0 {
		return nil, nil // no row references the statement's
	}
	if c.undo {
		if _, _, err := c.order(); err != nil {
			return nil, err
		}
	}
	return c, nil
}

// CascadeDeleted is how many of the rows the statement deletes an ON
// DELETE CASCADE it sets off reaches too: the server may delete those
// first, and then not count them among the statement's (MySQL).
func (c *Cascades) CascadeDeleted() int {
	if c == nil {
		return 0
	}
	return len(c.deletedRoots)
}

// addRoots makes the nodes of the statement's own rows and returns them.
func (c *Cascades) addRoots(roots []CascadeRoot) []int {
	var out []int
	for _, r := range roots {
		var sets []string
		for _, a := range r.Assigned {
			if col, ok := r.Table.Column(a); ok {
				sets = append(sets, col)
			}
		}
		for _, row := range r.Rows {
			i, _ := c.node(r.Table, row)
			n := c.nodes[i]
			n.root, n.rootDelete = true, r.Op == OpDelete
			n.deleted = n.rootDelete
			n.sets = union(n.sets, sets)
			out = append(out, i)
		}
	}
	return out
}

// node returns the index of the node of row of t, made when new.
func (c *Cascades) node(t *Table, row undo.Row) (int, bool) {
	k := t.Name + "\x00" + RowKey(t.PK, row)
	if i, ok := c.index[k]; ok {
		return i, false
	}
	c.nodes = append(c.nodes, &cascadeNode{t: t, before: row})
	c.index[k] = len(c.nodes) - 1
	return len(c.nodes) - 1, true
}

// union returns a with the columns of b it lacks appended.
func union(a, b []string) []string {
	for _, s := range b {
		if !slices.Contains(a, s) {
			a = append(a, s)
		}
	}
	return a
}

// round follows, from the nodes of frontier, what they set off that no
// earlier round followed: one query per key and event. It returns the
// nodes found new, or reached by a new event.
func (c *Cascades) round(ctx context.Context, x *Exec, frontier []int) ([]int, error) {
	type pending struct {
		del  bool
		cols []string
	}
	byTable := map[string][]int{}
	var tables []*Table
	todo := make(map[int]pending, len(frontier))
	for _, i := range frontier {
		n := c.nodes[i]
		var cols []string
		for _, s := range n.sets {
			if !slices.Contains(n.walkedSets, s) {
				cols = append(cols, s)
			}
		}
		todo[i] = pending{del: n.deleted && !n.walkedDelete, cols: cols}
		n.walkedDelete, n.walkedSets = n.deleted, slices.Clone(n.sets)
		if _, ok := byTable[n.t.Name]; !ok {
			tables = append(tables, n.t)
		}
		byTable[n.t.Name] = append(byTable[n.t.Name], i)
	}
	var next []int
	queued := map[int]bool{}
	for _, t := range tables {
		for k := range t.Hazards.Cascades {
			fk := &t.Hazards.Cascades[k]
			for _, del := range []bool{true, false} {
				var parents []int
				for _, i := range byTable[t.Name] {
					if p := todo[i]; (del && p.del || !del && len(p.cols) > 0) && fk.fires(del, p.cols, t) && !nullIn(t, c.nodes[i].before, fk.RefColumns) {
						parents = append(parents, i)
					}
				}
				if len(parents) == 0 {
					continue
				}
				found, err := c.follow(ctx, x, t, fk, del, parents)
				if err != nil {
					return nil, err
				}
				for _, i := range found {
					if !queued[i] {
						queued[i] = true
						next = append(next, i)
					}
				}
			}
		}
	}
	return next, nil
}

// nullIn reports whether row (of t) has NULL in one of cols: no row
// references it through them. (A column t lacks is left to spelled.)
func nullIn(t *Table, row undo.Row, cols []string) bool {
	for _, c := range cols {
		name, ok := t.Column(c)
		if !ok {
			continue
		}
		if v, ok := row.Get(name); ok && v.IsNull() {
			return true
		}
	}
	return false
}

// follow reads and locks the rows fk's action writes when the rows of
// parents (of table t) are deleted (del) or updated, and returns the
// nodes found new or reached by a new event.
func (c *Cascades) follow(ctx context.Context, x *Exec, t *Table, fk *ForeignKey, del bool, parents []int) ([]int, error) {
	child, err := c.d.CascadeTable(ctx, x, fk)
	if err != nil {
		return nil, fmt.Errorf("datasource: table %s of foreign key %s (ON %s %s): %w", fk.Table, fk.Name, event(del), fk.action(del), err)
	}
	if fk, err = spelled(c.stmt, fk, t, child); err != nil {
		return nil, err
	}
	w := CascadeWrite{Statement: c.stmt, FK: fk, Parent: t, Child: child, Delete: del, Undo: c.undo}
	if err := RefuseCascade(w); err != nil {
		return nil, err
	}
	rows, err := c.referencing(ctx, x, t, fk, child, parents)
	if err != nil || len(rows) == 0 {
		return nil, err
	}
	w.Found = true
	if err := RefuseCascade(w); err != nil {
		return nil, err
	}
	if err := x.Guard(ctx, child.LockTable(), child.PK, rows, false); err != nil {
		return nil, err
	}
	deletes := del && fk.OnDelete == ActionCascade
	childFirst := !del && fk.OnUpdate == ActionCascade
	var grown []int
	for _, row := range rows {
		i, isNew := c.node(child, row)
		n := c.nodes[i]
		switch {
		case n.rootDelete:
			if deletes {
				c.deletedRoots[i] = true
			}
			continue // the statement deletes it anyway
		case n.root:
			return nil, Unsupported(c.stmt, "foreign key %s (ON %s %s) would also write row (%s) of %s, which the statement itself writes", fk.Name, event(del), fk.action(del), RowKey(child.PK, row), child.Name)
		}
		grew := isNew
		if deletes && !n.deleted {
			n.deleted, grew = true, true
		}
		if s := fk.sets(del); !deletes && len(union(slices.Clone(n.sets), s)) > len(n.sets) {
			n.sets, grew = union(n.sets, s), true
		}
		for _, p := range c.parentsOf(fk, row, parents) {
			if p != i {
				c.edges = append(c.edges, cascadeEdge{parent: p, child: i, childFirst: childFirst})
			}
		}
		if grew {
			grown = append(grown, i)
		}
	}
	if len(c.nodes) > txc.MaxLockRows {
		return nil, Unsupported(c.stmt, "its referential actions reach more than %d rows; one branch may lock at most that many", txc.MaxLockRows)
	}
	return grown, nil
}

// spelled returns a copy of fk with its columns as the referenced table
// t and the referencing table child spell them (images name columns so).
func spelled(stmt string, fk *ForeignKey, t, child *Table) (*ForeignKey, error) {
	c := *fk
	c.Columns, c.RefColumns, c.DeleteSets = nil, nil, nil
	for _, p := range []struct {
		from []string
		in   *Table
		to   *[]string
	}{{fk.Columns, child, &c.Columns}, {fk.RefColumns, t, &c.RefColumns}, {fk.DeleteSets, child, &c.DeleteSets}} {
		for _, col := range p.from {
			s, ok := p.in.Column(col)
			if !ok {
				return nil, Unsupported(stmt, "column %q of foreign key %s is not a stored column of %s", col, fk.Name, p.in.Name)
			}
			*p.to = append(*p.to, s)
		}
	}
	return &c, nil
}

// referencing reads and locks the rows of child that reference the rows
// of parents through fk, in chunks.
func (c *Cascades) referencing(ctx context.Context, x *Exec, t *Table, fk *ForeignKey, child *Table, parents []int) ([]undo.Row, error) {
	var out []undo.Row
	for start := 0; start < len(parents); start += rollbackChunk {
		chunk := parents[start:min(len(parents), start+rollbackChunk)]
		rows := make([]undo.Row, len(chunk))
		for k, i := range chunk {
			rows[k] = c.nodes[i].before
		}
		found, err := c.d.LockReferencing(ctx, x, child, fk.Columns, t, fk.RefColumns, rows)
		if err != nil {
			return nil, err
		}
		out = append(out, found...)
	}
	return Dedupe(child.PK, out), nil
}

// parentsOf returns the nodes of parents that row references through fk:
// those whose referenced values have the text of row's, or, when none
// has (the database compared them otherwise: a case-insensitive
// collation), all of them, which orders the rollback more strictly than
// needed but never less.
func (c *Cascades) parentsOf(fk *ForeignKey, row undo.Row, parents []int) []int {
	text := func(r undo.Row, cols []string) string {
		vals := make([]string, len(cols))
		for i, col := range cols {
			v, _ := r.Get(col)
			vals[i] = KeyString(v)
		}
		return strings.Join(vals, "\x00")
	}
	want := text(row, fk.Columns)
	var out []int
	for _, p := range parents {
		if text(c.nodes[p].before, fk.RefColumns) == want {
			out = append(out, p)
		}
	}
	if len(out) == 0 {
		return parents
	}
	return out
}
