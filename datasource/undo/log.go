package undo

import (
	"strconv"

	"github.com/txcio/txc"
)

// RecordKind is the kind of statement a Record undoes.
type RecordKind uint8

// Record kinds. The numbers are part of the encoding; never renumber them.
const (
	// Insert: After holds the inserted rows; undo deletes them.
	Insert RecordKind = 1
	// Update: Before and After hold the rows before and after; undo
	// writes Before back.
	Update RecordKind = 2
	// Delete: Before holds the deleted rows; undo inserts them again.
	Delete RecordKind = 3
)

func (k RecordKind) String() string {
	switch k {
	case Insert:
		return "Insert"
	case Update:
		return "Update"
	case Delete:
		return "Delete"
	}
	return "RecordKind(" + strconv.Itoa(int(k)) + ")"
}

func (k RecordKind) valid() bool { return k >= Insert && k <= Delete }

// Record is the undo information of one statement on one table.
type Record struct {
	// Table is the table's name as the dialect quotes it for itself
	// (schema-qualified where needed), without quotes.
	Table string
	Kind  RecordKind
	// Before and After are the row images before and after the statement,
	// in the same row order where both exist.
	Before, After []Row
	// PK names the primary-key columns, in key order.
	PK []string
	// LockTable, when set, is the table name of the rows' global lock
	// keys (datasource.Table.LockName). Phase 1 only: not stored in the
	// log, which a rollback reads for Table.
	LockTable string
}

// Log is the undo log of one branch: its records in execution order.
// Rollback undoes them in reverse order.
type Log struct {
	XID      txc.XID
	BranchID txc.BranchID
	Records  []Record
	// TimeZone is the session time zone the images were read in, for a
	// dialect whose images depend on it (MySQL TIMESTAMP values are text
	// in the session's time_zone): the rollback runs under it. Empty:
	// not recorded (logs of version 1).
	TimeZone string
}

// Equal reports whether l and o hold the same records with Equal values
// (nil and empty slices are the same).
func (l *Log) Equal(o *Log) bool {
	if l.XID != o.XID || l.BranchID != o.BranchID || l.TimeZone != o.TimeZone || len(l.Records) != len(o.Records) {
		return false
	}
	for i := range l.Records {
		a, b := &l.Records[i], &o.Records[i]
		if a.Table != b.Table || a.Kind != b.Kind || !rowsEqual(a.Before, b.Before) || !rowsEqual(a.After, b.After) || len(a.PK) != len(b.PK) {
			return false
		}
		for j := range a.PK {
			if a.PK[j] != b.PK[j] {
				return false
			}
		}
	}
	return true
}

func rowsEqual(a, b []Row) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if !a[i].Equal(b[i]) {
			return false
		}
	}
	return true
}
