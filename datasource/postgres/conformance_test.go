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
	dialecttest.Run(t, func(t *testing.T) *dialecttest.Env {
		e := newEnv(t)
		return &dialecttest.Env{Coordinator: e.coordinator(), Plain: e.plain, Proxy: e.db, Table: e.table,
			Open: func(opts ...datasource.Option) *sql.DB { return e.open("", opts...) },
			Dump: func(table string) string { return e.dump(table) }, Trigger: e.trigger, Deferrable: " DEFERRABLE"}
	})
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
