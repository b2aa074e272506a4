package datasource

import (
	"context"
	"strconv"
	"testing"
)

// TestHintsBounded: a resource keeps at most maxHints hints; past that
// they start over, and a hint still answers until then.
func TestHintsBounded(t *testing.T) {
	x := &Exec{c: &conn{res: &Resource{}}}
	count := func() int {
		n := 0
		x.c.res.hints.Range(func(any, any) bool { n++; return true })
		return n
	}
	for i := range maxHints {
		x.SetHint(i, true)
		x.SetHint(i, true) // the same value again: not counted twice
	}
	if n := count(); n != maxHints {
		t.Fatalf("%d hints kept, want %d", n, maxHints)
	}
	x.SetHint(0, nil) // a deleted key frees its place
	x.SetHint(maxHints, true)
	if n := count(); n != maxHints || x.Hint(0) != nil || x.Hint(maxHints) != true {
		t.Fatalf("after a delete and a store: %d hints, hint 0 %v, new %v", n, x.Hint(0), x.Hint(maxHints))
	}
	x.SetHint(-1, true)
	if n := count(); n != 0 {
		t.Fatalf("%d hints kept past the bound, want them dropped", n)
	}
	x.SetHint(-2, true)
	if x.Hint(-2) != true || count() != 1 {
		t.Fatal("hints not kept again after starting over")
	}
}

// tableDialect is fakeDialect with metadata: every table has one column,
// its primary key "id".
type tableDialect struct{ fakeDialect }

func (tableDialect) LoadTable(_ context.Context, _ Querier, schema, name string) (*Table, error) {
	return &Table{Name: schema + "." + name, Columns: []string{"id"}, AllColumns: []string{"id"}, PK: []string{"id"}}, nil
}

// TestMetadataCacheBounded: the metadata cache holds at most maxTables
// tables; past that it starts over.
func TestMetadataCacheBounded(t *testing.T) {
	r := &Resource{dialect: tableDialect{}, meta: map[string]metaEntry{}}
	for i := range maxTables {
		if _, err := r.table(t.Context(), nil, "s", strconv.Itoa(i)); err != nil {
			t.Fatal(err)
		}
	}
	if len(r.meta) != maxTables {
		t.Fatalf("%d tables cached, want %d", len(r.meta), maxTables)
	}
	if _, err := r.table(t.Context(), nil, "s", "one more"); err != nil {
		t.Fatal(err)
	}
	if len(r.meta) != 1 {
		t.Fatalf("%d tables cached past the bound, want the cache started over", len(r.meta))
	}
}
