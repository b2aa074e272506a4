package saga_test

import (
	"database/sql"
	"testing"

	"github.com/txcio/txc/internal/dbtest"
	"github.com/txcio/txc/saga"
	"github.com/txcio/txc/saga/sqllog"
	"github.com/txcio/txc/saga/storetest"
)

// TestStoreConformance runs the Store suite on MemoryStore (package sqllog
// runs it on the databases).
func TestStoreConformance(t *testing.T) {
	storetest.Run(t, func(*testing.T) saga.Store { return saga.NewMemoryStore() })
}

// TestEngineOnDatabases runs the engine on the SQL log of each real
// database (EngineOnStore).
func TestEngineOnDatabases(t *testing.T) {
	for _, c := range []struct {
		name string
		open func(testing.TB) *sql.DB
	}{{"mysql", dbtest.MySQL}, {"postgres", dbtest.Postgres}} {
		t.Run(c.name, func(t *testing.T) {
			db := c.open(t)
			prefix := dbtest.Name("saga_engine")
			t.Cleanup(func() {
				db.Exec("DROP TABLE IF EXISTS " + prefix + "_instance")
				db.Exec("DROP TABLE IF EXISTS " + prefix + "_step")
			})
			st, err := sqllog.New(t.Context(), db, sqllog.Options{TablePrefix: prefix, CreateTables: true, MaxBatch: 64})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { st.Close() })
			saga.EngineOnStore(t, st)
		})
	}
}
