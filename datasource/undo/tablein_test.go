package undo

import (
	"strings"
	"testing"
)

// TestNewTableIn: a schema-qualified table is named qualified in every
// statement and in its schema, and refuses names that are not plain.
func TestNewTableIn(t *testing.T) {
	pt, err := NewTableIn(Postgres, "tenant_a", "", Codec{})
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{pt.q.insert, pt.q.selectForUpdate, pt.q.delete, pt.q.insertFinished, pt.q.deleteOld} {
		if !strings.Contains(q, `"tenant_a"."txc_undo_log"`) || strings.Contains(q, " txc_undo_log ") {
			t.Errorf("not qualified: %s", q)
		}
	}
	if s := pt.Schema(); !strings.Contains(s, `EXISTS "tenant_a"."txc_undo_log" (`) || !strings.Contains(s, ` ON "tenant_a"."txc_undo_log" (`) || !strings.Contains(s, "txc_undo_log_created_idx ON") {
		t.Errorf("schema:\n%s", s)
	}
	if _, err := NewTableIn(Postgres, `a"b`, "", Codec{}); err == nil {
		t.Error("a schema with a quote was accepted")
	}
	if same, _ := NewTableIn(Postgres, "", "", Codec{}); same.q.insert != mustTable(t, Postgres).q.insert {
		t.Error("an empty schema differs from NewTable")
	}
}

func mustTable(t *testing.T, d Dialect) *Table {
	t.Helper()
	tb, err := NewTable(d, "", Codec{})
	if err != nil {
		t.Fatal(err)
	}
	return tb
}
