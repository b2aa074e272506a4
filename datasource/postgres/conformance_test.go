package postgres_test

import (
	"database/sql"
	"testing"

	"github.com/txcio/txc/datasource"
	"github.com/txcio/txc/datasource/dialecttest"
	"github.com/txcio/txc/internal/dbtest"
)

// TestConformance runs the conformance suite every dialect passes.
func TestConformance(t *testing.T) {
	dialecttest.Run(t, func(t *testing.T) *dialecttest.Env { return newEnv(t).suite() })
}

// suite is e as the shared tests' environment.
func (e *env) suite() *dialecttest.Env {
	return &dialecttest.Env{Coordinator: e.coordinator(), Plain: e.plain, Proxy: e.db, Table: e.table,
		Open: func(opts ...datasource.Option) *sql.DB { return e.open("", opts...) },
		Dump: func(table string) string { return e.dump(table) }, Trigger: e.trigger, AuditTrigger: e.auditTrigger, Deferrable: " DEFERRABLE"}
}

// auditTrigger is the statements that create a trigger on table for
// UPDATE, INSERT and DELETE, which inserts the operation into audit, and
// its function (dropped when the test ends); and the statement that drops
// the trigger.
func (e *env) auditTrigger(table, audit string) (create, drop []string) {
	e.t.Cleanup(func() { e.plain.Exec("DROP FUNCTION IF EXISTS " + table + "_f() CASCADE") })
	return []string{"CREATE FUNCTION " + table + "_f() RETURNS trigger LANGUAGE plpgsql AS $$BEGIN INSERT INTO " + audit + " (what) VALUES (TG_OP); RETURN NULL; END$$",
			"CREATE TRIGGER " + table + "_t AFTER UPDATE OR INSERT OR DELETE ON " + table + " FOR EACH ROW EXECUTE FUNCTION " + table + "_f()"},
		[]string{"DROP TRIGGER " + table + "_t ON " + table}
}

// trigger is the statements that create a trigger on table that inserts
// the new row's id into audit, and its function, which is dropped when
// the test ends.
func (e *env) trigger(table, audit string) []string {
	fn := dbtest.Name("dt_trgf")
	e.t.Cleanup(func() { e.plain.Exec("DROP FUNCTION IF EXISTS " + fn + "() CASCADE") })
	return []string{
		"CREATE FUNCTION " + fn + "() RETURNS trigger LANGUAGE plpgsql AS $$BEGIN INSERT INTO " + audit + " (id) VALUES (NEW.id); RETURN NEW; END$$",
		"CREATE TRIGGER " + dbtest.Name("dt_trg") + " AFTER INSERT ON " + table + " FOR EACH ROW EXECUTE FUNCTION " + fn + "()",
	}
}
