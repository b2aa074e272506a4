package datasource

import (
	"fmt"
	"slices"

	"github.com/txcio/txc"
)

// The hazard policy: which writes AT mode refuses before they run, and
// which rollbacks park rather than write rows back, as pure functions of
// what the dialects read. Each dialect's LoadTable reads the facts from
// its catalogs into Table.Hazards, and its RestoreGuard reads them again
// at rollback, deciding nothing; RefuseTable (every statement that names
// the table, at load), RefuseWrite (each write, before its images) and
// ParkRestore (each undo record, before it is written back) decide here,
// for both dialects.

// Hazards are what a table's catalogs say the server would do on a write
// beyond writing the rows the statement names (writes no image of those
// rows shows), and what would keep a rollback from seeing or writing the
// rows back. The zero value is a table without any.
type Hazards struct {
	// NotTable says what the relation is when it is not a table (a
	// view, …): AT mode writes tables only.
	NotTable string
	// Engine names the table's storage engine when that engine has no
	// row locks and transactions (MySQL: any but InnoDB; "none" when
	// the catalog names none).
	Engine string
	// InheritanceChildren: statements on the table also reach rows of
	// other tables (PostgreSQL inheritance), which ONLY would leave out.
	InheritanceChildren bool

	// Triggers: triggers fire on writes to the table (or to one of its
	// partitions); Trigger names one when the dialect reads names.
	Triggers bool
	Trigger  string
	// Rules: rewrite rules (PostgreSQL) rewrite statements on the table.
	Rules bool
	// CascadeDelete: a foreign key referencing the table has an ON
	// DELETE action that writes the referencing rows (CASCADE, SET NULL,
	// SET DEFAULT); CascadeDeleteKey names one when the dialect knows.
	CascadeDelete    bool
	CascadeDeleteKey string
	// CascadeUpdate lists the referenced columns of the foreign keys
	// whose ON UPDATE action writes the referencing rows. A dialect that
	// knows only that such a key exists lists every primary- and
	// unique-key column, without a key name.
	CascadeUpdate []Cascade
	// RollbackCascades: a rollback's DELETE of rows of this table fires
	// the ON DELETE actions of the keys referencing it (PostgreSQL; the
	// MySQL rollback runs with foreign-key checks off).
	RollbackCascades bool
	// IdentityAlways names the columns an UPDATE can set only to a new
	// generated value (PostgreSQL GENERATED ALWAYS AS IDENTITY).
	IdentityAlways []string
	// LossyColumn names a column whose image could be written back as
	// another value, and LossyWhy says why (it completes "column %q of
	// %s …").
	LossyColumn, LossyWhy string
	// PrefixKey names a unique index on a column prefix (MySQL): the rows
	// a new row meets on it cannot be looked up exactly.
	PrefixKey string
	// Versioned: a system-versioned table (MariaDB), whose history rows
	// the server counts among the rows an upsert affects.
	Versioned bool
	// HiddenFromRollback: row-level security applies to the database
	// user a rollback connects as.
	HiddenFromRollback bool
	// HiddenReferrer names a table with a foreign key referencing this
	// one whose rows that user cannot all read; HiddenWhy says why (it
	// completes "… and %s the database user a rollback connects as").
	HiddenReferrer, HiddenWhy string
}

// Cascade is a referenced column and the foreign key ("" when not known)
// whose referential action writes the referencing rows.
type Cascade struct {
	Column, Key string
}

// WriteOp is what a write does to the rows of its table.
type WriteOp uint8

const (
	// OpInsert adds rows (INSERT, INSERT … SELECT).
	OpInsert WriteOp = iota
	// OpInsertIgnore adds rows, skipping those that meet a row on a
	// unique key (INSERT IGNORE, ON CONFLICT DO NOTHING).
	OpInsertIgnore
	// OpReplace adds rows, deleting the rows they meet (MySQL REPLACE).
	OpReplace
	// OpUpsert adds rows, updating the rows they meet (ON DUPLICATE KEY
	// UPDATE, ON CONFLICT DO UPDATE): TableWrite.Assigned.
	OpUpsert
	// OpUpdate changes rows in place: TableWrite.Assigned.
	OpUpdate
	// OpDelete removes rows.
	OpDelete
)

// TableWrite is what the policy needs of one statement's write to one
// table.
type TableWrite struct {
	Statement string // the statement's text, for the refusal
	Op        WriteOp
	// Assigned are the columns an OpUpdate or OpUpsert sets, as the
	// statement spells them (compared by Table.SameName).
	Assigned []string
	// Undo: the write is imaged for a rollback (a global transaction);
	// false under tm.WithGlobalLock, where only global locks are checked.
	Undo bool
}

// RefuseTable returns why AT mode writes no row of t, nor reads one with
// a lock: t is not a table, has no primary key (rows could not be found
// again) or a generated one (images hold stored columns only), a storage
// engine without row locks and transactions, or inheritance children. It
// returns nil for a table AT mode can work with. The metadata cache calls
// it after LoadTable and keeps only tables it accepts; a dialect may call
// it while loading, to stop reading catalogs for a table it refuses.
func RefuseTable(t *Table) error {
	h := &t.Hazards
	switch {
	case h.NotTable != "":
		return refusedTable("%s is not a table (%s): AT mode writes tables only", t.Name, h.NotTable)
	case len(t.PK) == 0:
		return refusedTable("table %s has no primary key: AT mode cannot undo its rows exactly", t.Name)
	case h.Engine != "":
		return refusedTable("table %s has storage engine %s, not InnoDB: without row locks and transactions its rows can change between the image and the write, and stay changed when the local transaction rolls back", t.Name, h.Engine)
	case h.InheritanceChildren:
		return refusedTable("table %s has inheritance children: its statements reach rows of other tables (and ONLY limits them), which AT mode cannot image and restore exactly", t.Name)
	}
	for _, c := range t.PK {
		if _, ok := t.Column(c); !ok {
			return refusedTable("primary-key column %q of %s is generated", c, t.Name)
		}
	}
	return nil
}

// refusedTable is RefuseTable's error: no statement text at hand, so a
// typed error that conn.imaged turns into the statement's *RefusedError.
func refusedTable(format string, args ...any) error {
	return txc.Errorf(txc.CodeUnsupported, "datasource: "+format, args...)
}

// RefuseWrite returns, as a *RefusedError, why AT mode refuses w on t
// before it runs, or nil. Its rules:
//
//   - a write imaged for a rollback, on a table whose rows that
//     rollback's user might not see (row-level security);
//   - any write to a table with a lossy column, triggers or rules: what
//     they write no image holds, and a rollback would fire them again;
//   - a write that deletes rows (DELETE, REPLACE, and, where the
//     rollback's deletes fire referential actions, an UPDATE of the
//     primary key) from a table whose referencing rows an ON DELETE
//     action writes;
//   - an UPDATE or upsert setting a column whose referencing rows an ON
//     UPDATE action writes, or a GENERATED ALWAYS identity column;
//   - a write imaged for a rollback that deletes or rekeys rows (an
//     insert, an UPDATE of a key column) when rows referencing them may
//     be hidden from the rollback, which must look for them;
//   - an upsert of a system-versioned table; an insert that may meet
//     existing rows on a column-prefix unique key.
func RefuseWrite(w TableWrite, t *Table) error {
	for _, rule := range writeRules {
		if reason := rule(w, t); reason != "" {
			return &RefusedError{Reason: reason, Statement: Shorten(w.Statement)}
		}
	}
	return nil
}

// writeRules are RefuseWrite's rules, in the order they are checked: each
// returns the reason of a refusal, or "".
var writeRules = []func(TableWrite, *Table) string{
	hiddenFromRollback, lossyColumn, triggersOrRules, cascadeOnDelete, cascadeOnUpdate,
	identitySet, hiddenReferrer, versionedUpsert, prefixKey,
}

func hiddenFromRollback(w TableWrite, t *Table) string {
	if w.Undo && t.Hazards.HiddenFromRollback {
		return fmt.Sprintf("row-level security on %s applies to the database user a rollback connects as, which might not see the rows it must restore (give phase 2 a user it does not filter: datasource.WithPhase2Connector)", t.Name)
	}
	return ""
}

func lossyColumn(_ TableWrite, t *Table) string {
	if h := &t.Hazards; h.LossyColumn != "" {
		return fmt.Sprintf("column %q of %s %s", h.LossyColumn, t.Name, h.LossyWhy)
	}
	return ""
}

func triggersOrRules(_ TableWrite, t *Table) string {
	switch h := &t.Hazards; {
	case h.Triggers && h.Trigger != "":
		return fmt.Sprintf("table %s has trigger %s, whose writes cannot be imaged (and a rollback would fire it again)", t.Name, h.Trigger)
	case h.Triggers:
		return fmt.Sprintf("table %s has triggers, whose writes cannot be imaged", t.Name)
	case h.Rules:
		return fmt.Sprintf("table %s has rewrite rules, whose writes cannot be imaged", t.Name)
	}
	return ""
}

func cascadeOnDelete(w TableWrite, t *Table) string {
	h := &t.Hazards
	deletes := w.Op == OpDelete || w.Op == OpReplace || (w.Op == OpUpdate && h.RollbackCascades && assignsAny(w, t, t.PK))
	switch {
	case !deletes || !h.CascadeDelete:
		return ""
	case h.CascadeDeleteKey != "":
		return fmt.Sprintf("foreign key %s references %s with ON DELETE CASCADE / SET NULL / SET DEFAULT: the rows it changes cannot be imaged", h.CascadeDeleteKey, t.Name)
	}
	return fmt.Sprintf("a foreign key that cascades (or sets NULL/DEFAULT) on delete references %s: the rows it changes cannot be imaged", t.Name)
}

func cascadeOnUpdate(w TableWrite, t *Table) string {
	for _, c := range w.Assigned {
		for _, fk := range t.Hazards.CascadeUpdate {
			switch {
			case !t.same(c, fk.Column):
			case fk.Key != "":
				return fmt.Sprintf("foreign key %s references column %q of %s with ON UPDATE CASCADE / SET NULL / SET DEFAULT: the rows it changes cannot be imaged", fk.Key, c, t.Name)
			default:
				return fmt.Sprintf("it sets unique-key column %q of %s, which a foreign key that cascades (or sets NULL/DEFAULT) on update may reference: the rows it changes cannot be imaged", c, t.Name)
			}
		}
	}
	return ""
}

func identitySet(w TableWrite, t *Table) string {
	for _, c := range t.Hazards.IdentityAlways {
		if assignsAny(w, t, []string{c}) {
			return fmt.Sprintf("it sets column %q of %s, which is GENERATED ALWAYS AS IDENTITY: a rollback could not write its old value back (PostgreSQL updates it only to DEFAULT)", c, t.Name)
		}
	}
	return ""
}

func hiddenReferrer(w TableWrite, t *Table) string {
	h := &t.Hazards
	switch {
	case !w.Undo || h.HiddenReferrer == "", w.Op == OpDelete, w.Op == OpUpdate && !assignsKey(w, t):
		return ""
	}
	return fmt.Sprintf("%s references %s, and %s the database user a rollback connects as: the rollback could not see the rows that reference the rows it would delete or rekey (give phase 2 a user that can read them all: datasource.WithPhase2Connector)", h.HiddenReferrer, t.Name, h.HiddenWhy)
}

func versionedUpsert(w TableWrite, t *Table) string {
	if w.Op == OpUpsert && t.Hazards.Versioned {
		return fmt.Sprintf("ON DUPLICATE KEY UPDATE of system-versioned table %s: the server counts the history rows it keeps among the affected rows, so the images cannot be checked against them", t.Name)
	}
	return ""
}

func prefixKey(w TableWrite, t *Table) string {
	meets := w.Op == OpInsertIgnore || w.Op == OpReplace || w.Op == OpUpsert
	if k := t.Hazards.PrefixKey; meets && k != "" {
		return fmt.Sprintf("unique key %s of %s indexes a column prefix, so the rows IGNORE, REPLACE or ON DUPLICATE KEY UPDATE meet cannot be looked up exactly", k, t.Name)
	}
	return ""
}

// assignsAny reports whether w sets one of cols.
func assignsAny(w TableWrite, t *Table, cols []string) bool {
	for _, a := range w.Assigned {
		if slices.ContainsFunc(cols, func(c string) bool { return t.same(a, c) }) {
			return true
		}
	}
	return false
}

// assignsKey reports whether w sets a column of the primary key or of a
// unique key, which a foreign key may reference.
func assignsKey(w TableWrite, t *Table) bool {
	if assignsAny(w, t, t.PK) {
		return true
	}
	return slices.ContainsFunc(t.Unique, func(k []string) bool { return assignsAny(w, t, k) })
}

// RestoreHazards are what a rollback finds, in its own transaction, on a
// table it is about to write rows back to (see RestoreGuard). Phase 1
// refused writes to tables that had triggers or rules, so these were
// created since.
type RestoreHazards struct {
	// Triggers counts the triggers writing the rows back would fire.
	Triggers int
	// Rules: rewrite rules would rewrite the restoring statements.
	Rules bool
	// Unlockable says why the rollback's database user cannot lock the
	// table against DDL while it writes the rows back ("": it can, or
	// the dialect takes no such lock).
	Unlockable string
}

// ParkRestore returns why a rollback parks (the coordinator waits for an
// operator, who removes the cause and retries) rather than write rows
// back to a table with h, or "" when it goes on.
func ParkRestore(h RestoreHazards) string {
	switch {
	case h.Unlockable != "":
		return "the rollback's database user cannot lock it against DDL while it writes the rows back (" + h.Unlockable + "); grant it, then retry the transaction"
	case h.Triggers > 0:
		return fmt.Sprintf("it has %d trigger(s) (created since its rows were imaged) that writing the rows back would fire; drop them (or disable them, where the database can), then retry the transaction", h.Triggers)
	case h.Rules:
		return "it has rewrite rules (created since its rows were imaged) that would rewrite the restoring statements; drop them, then retry the transaction"
	}
	return ""
}
