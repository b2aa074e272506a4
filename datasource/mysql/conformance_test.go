package mysql_test

import (
	"database/sql"
	"testing"

	"github.com/txcio/txc/datasource"
	"github.com/txcio/txc/datasource/dialecttest"
	"github.com/txcio/txc/internal/dbtest"
)

// TestConformance runs the conformance suite every dialect passes.
func TestConformance(t *testing.T) {
	dialecttest.Run(t, func(t *testing.T) *dialecttest.Env { return newEnv(t, "").suite() })
}

// suite is e as the shared tests' environment.
func (e *env) suite() *dialecttest.Env {
	return &dialecttest.Env{Coordinator: e.coordinator(), Plain: e.plain, Proxy: e.db, Table: e.table,
		Open: func(opts ...datasource.Option) *sql.DB { return e.open("", opts...) }, Dump: e.dump,
		Trigger: func(table, audit string) []string {
			return []string{"CREATE TRIGGER " + dbtest.Name("dt_trg") + " AFTER INSERT ON " + table + " FOR EACH ROW INSERT INTO " + audit + " (id) VALUES (NEW.id)"}
		},
		AuditTrigger: auditTrigger}
}

// auditTrigger is the statements that create a trigger on table for each
// of UPDATE, INSERT and DELETE, which inserts the event's name into
// audit, and those that drop them.
func auditTrigger(table, audit string) (create, drop []string) {
	for _, ev := range []string{"UPDATE", "INSERT", "DELETE"} {
		create = append(create, "CREATE TRIGGER "+table+"_"+ev+" AFTER "+ev+" ON "+table+" FOR EACH ROW INSERT INTO "+audit+" (what) VALUES ('"+ev+"')")
		drop = append(drop, "DROP TRIGGER "+table+"_"+ev)
	}
	return create, drop
}
