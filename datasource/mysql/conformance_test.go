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
	dialecttest.Run(t, func(t *testing.T) *dialecttest.Env {
		e := newEnv(t, "")
		return &dialecttest.Env{Coordinator: e.coordinator(), Plain: e.plain, Proxy: e.db, Table: e.table,
			Open: func(opts ...datasource.Option) *sql.DB { return e.open("", opts...) }, Dump: e.dump,
			Trigger: func(table, audit string) []string {
				return []string{"CREATE TRIGGER " + dbtest.Name("dt_trg") + " AFTER INSERT ON " + table + " FOR EACH ROW INSERT INTO " + audit + " (id) VALUES (NEW.id)"}
			}}
	})
}
