package server

import (
	"slices"
	"testing"

	"github.com/txcio/txc"
	"github.com/txcio/txc/tc"
	"github.com/txcio/txc/tc/store"
)

// TestFoundRows: the rows of a registration its claim did not insert are
// the ones it found held by its own XID (tc.Msg.Found).
func TestFoundRows(t *testing.T) {
	m := &tc.Msg{XID: "n1:1", ResourceID: "db", LockKeys: []txc.LockKey{{Table: "a", Rows: []string{"1", "2"}}, {Table: "b", Rows: []string{"1"}}}}
	row := func(table, r string) store.LockRow {
		return store.LockRow{XID: "n1:1", Resource: "db", Table: table, Row: r}
	}
	all := []store.LockRow{row("a", "1"), row("a", "2"), row("b", "1")}
	if got := foundRows(m, all); got != nil {
		t.Fatalf("every row inserted: found %v", got)
	}
	if got, want := foundRows(m, []store.LockRow{row("a", "2")}), []store.LockRow{row("a", "1"), row("b", "1")}; !slices.Equal(got, want) {
		t.Fatalf("found %v, want %v", got, want)
	}
	if got := foundRows(m, nil); !slices.Equal(got, all) {
		t.Fatalf("nothing inserted: found %v, want %v", got, all)
	}
}
