package postgres_test

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"

	"github.com/txcio/txc"
	"github.com/txcio/txc/datasource"
	txcpg "github.com/txcio/txc/datasource/postgres"
	"github.com/txcio/txc/internal/dbtest"
	"github.com/txcio/txc/internal/logtest"
)

// tenantTable makes a table whose row-level security shows a role the
// rows of the tenant its session names (app.tenant), and a role subject
// to it. It returns the table, the role and the role's configuration.
func tenantTable(e *env) (string, string, *pgx.ConnConfig) {
	e.t.Helper()
	tb := e.table("at_rls", "CREATE TABLE {t} (id int PRIMARY KEY, tenant int NOT NULL, n int)",
		"INSERT INTO {t} VALUES (1, 1, 10), (2, 2, 20), (3, 1, 30)")
	role, cfg := e.role("txc_rls", "GRANT SELECT, INSERT, UPDATE, DELETE ON "+tb+" TO {r}",
		"GRANT SELECT, INSERT, UPDATE, DELETE ON txc_undo_log TO {r}")
	e.exec("CREATE POLICY tenant ON " + tb + " USING (tenant = pg_catalog.current_setting('app.tenant', true)::int)")
	return tb, role, cfg
}

// tenantWrite runs, in a global transaction that rolls back, one local
// transaction of tenant 1 on db: writes (by default an UPDATE of every row
// it sees, an INSERT and a DELETE); then, before the rollback, after (if
// not nil).
func tenantWrite(e *env, db *sql.DB, tb string, after func(), writes ...string) (txc.XID, error) {
	if len(writes) == 0 {
		writes = []string{"UPDATE " + tb + " SET n = n + 1", "INSERT INTO " + tb + " VALUES (4, 1, 40)", "DELETE FROM " + tb + " WHERE id = 3"}
	}
	return e.global(func(ctx context.Context) error {
		tx, err := db.BeginTx(ctx, nil)
		if err != nil {
			return err
		}
		defer tx.Rollback()
		for _, q := range append([]string{"SELECT pg_catalog.set_config('app.tenant', '1', true)"}, writes...) {
			if _, err := tx.ExecContext(ctx, q); err != nil {
				return err
			}
		}
		if err := tx.Commit(); err != nil {
			return err
		}
		if after != nil {
			after()
		}
		return errRollback
	})
}

// TestRowSecurityRefused: when row-level security filters the database
// user a rollback connects as, a rollback might not see the rows it must
// restore, so a global write is refused before it runs; writes outside a
// global transaction go on.
func TestRowSecurityRefused(t *testing.T) {
	e := newEnv(t)
	tb, role, cfg := tenantTable(e)
	e.exec("ALTER TABLE " + tb + " ENABLE ROW LEVEL SECURITY")
	db, err := txcpg.OpenDB(cfg, datasource.WithManager(e.rm), datasource.WithResourceID(role))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	before := e.dump(tb)
	_, err = tenantWrite(e, db, tb, nil)
	if !errors.Is(err, txc.ErrUnsupported) || !strings.Contains(err.Error(), "row-level security") {
		t.Fatalf("global write: %v, want a refusal naming row-level security", err)
	}
	if got := e.dump(tb); got != before {
		t.Fatalf("table after the refusal:\n%s\nwant:\n%s", got, before)
	}
	tx, err := db.Begin()
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	if _, err := tx.Exec("SELECT pg_catalog.set_config('app.tenant', '2', true)"); err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec("UPDATE " + tb + " SET n = n + 1"); err != nil {
		t.Fatalf("write outside a global transaction: %v", err)
	}
}

// TestRowSecurityWithPhase2Connector: with a phase-2 user that row-level
// security does not filter, the application's filtered user writes in
// global transactions, and a rollback restores exactly.
func TestRowSecurityWithPhase2Connector(t *testing.T) {
	e := newEnv(t)
	tb, role, cfg := tenantTable(e)
	e.exec("ALTER TABLE " + tb + " ENABLE ROW LEVEL SECURITY")
	owner, err := pgx.ParseConfig(dbtest.PostgresDSN)
	if err != nil {
		t.Fatal(err)
	}
	db, err := txcpg.OpenDB(cfg, datasource.WithManager(e.rm), datasource.WithResourceID(role),
		datasource.WithPhase2Connector(stdlib.GetConnector(*owner)))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	before := e.dump(tb)
	xid, err := tenantWrite(e, db, tb, nil)
	if !errors.Is(err, errRollback) {
		t.Fatal(err)
	}
	e.rolledBack(xid, tb, before)
}

// TestRollbackUnderRowSecurityParks: row-level security enabled after
// phase 1 hides the updated rows from the rollback's user. The rollback
// must not take the hidden rows for deleted (a dirty write): it fails
// with PostgreSQL's own error, is retried, and parks after failing the
// same way a few times, naming that error; once the rows are visible
// again a retry restores them.
func TestRollbackUnderRowSecurityParks(t *testing.T) {
	e := newEnv(t)
	tb, role, cfg := tenantTable(e)
	var logged logtest.Buffer
	db, err := txcpg.OpenDB(cfg, datasource.WithManager(e.rm), datasource.WithResourceID(role), datasource.WithLogger(logged.Logger()))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	before := e.dump(tb)
	var changed string
	xid, err := tenantWrite(e, db, tb, func() {
		changed = e.dump(tb)
		e.exec("ALTER TABLE " + tb + " ENABLE ROW LEVEL SECURITY")
	}, "UPDATE "+tb+" SET n = n + 1")
	if !errors.Is(err, errRollback) {
		t.Fatal(err)
	}
	e.parked(xid, tb, changed)
	if log := logged.String(); !strings.Contains(log, "failed 5 times in a row with the same error") || !strings.Contains(log, "row-level security") || strings.Contains(log, "dirty write") {
		t.Fatalf("parked for another reason than the repeated row-level security error:\n%s", log)
	}
	e.exec("ALTER TABLE " + tb + " DISABLE ROW LEVEL SECURITY")
	e.retry(xid)
	e.rolledBack(xid, tb, before)
}

// TestPhase2ConnectorSharedByResourceID: rollbacks of a resource ID run on
// the first database open with it, so a second one with another phase-2
// connector (or none where the first has one) is refused at open: its
// writes would be checked against one user and rolled back as another.
// The same connector value is accepted (a pointer: pgx's connector is a
// struct that cannot be compared).
func TestPhase2ConnectorSharedByResourceID(t *testing.T) {
	e := newEnv(t)
	owner, err := pgx.ParseConfig(dbtest.PostgresDSN)
	if err != nil {
		t.Fatal(err)
	}
	id := dbtest.Name("pg-p2")
	p2 := &sharedConnector{stdlib.GetConnector(*owner)}
	first := e.open("", datasource.WithResourceID(id), datasource.WithPhase2Connector(p2))
	if err := first.Ping(); err != nil {
		t.Fatal(err)
	}
	value := stdlib.GetConnector(*owner) // a struct, compared by no one
	for name, opts := range map[string][]datasource.Option{
		"none":    {datasource.WithResourceID(id)},
		"another": {datasource.WithResourceID(id), datasource.WithPhase2Connector(&sharedConnector{stdlib.GetConnector(*owner)})},
		"value":   {datasource.WithResourceID(id), datasource.WithPhase2Connector(valueConnector{value})},
	} {
		db, err := txcpg.OpenDB(owner, append([]datasource.Option{datasource.WithManager(e.rm)}, opts...)...)
		if err == nil {
			db.Close()
			t.Fatalf("%s: a second database under %q with a different phase-2 connector was opened", name, id)
		}
		if !errors.Is(err, txc.ErrInvalidArgument) {
			t.Fatalf("%s: %v, want an InvalidArgument error", name, err)
		}
	}
	same := e.open("", datasource.WithResourceID(id), datasource.WithPhase2Connector(p2))
	if err := same.Ping(); err != nil {
		t.Fatal(err)
	}
}

// sharedConnector makes a connector comparable by address.
type sharedConnector struct{ driver.Connector }

// valueConnector is a connector struct value holding pgx's (which cannot
// be compared): comparing two of them with == would panic.
type valueConnector struct{ driver.Connector }

// TestRowSecurityOnReferencingTable: a rollback that deletes a row its
// branch inserted (or rekeys one back) must look for rows referencing it,
// and with row-level security filtering the referencing table for the
// rollback's user it cannot see them: it used to be retried forever,
// holding the global locks. Such an INSERT, and an UPDATE of the
// referenced key, are refused before they run; an UPDATE of other
// columns, and everything with a phase-2 user the policies do not filter,
// goes on and rolls back exactly.
func TestRowSecurityOnReferencingTable(t *testing.T) {
	e := newEnv(t)
	parent := e.table("at_rlsp", "CREATE TABLE {t} (id int PRIMARY KEY, n int)", "INSERT INTO {t} VALUES (1, 10), (2, 20)")
	child := e.table("at_rlsc", "CREATE TABLE {t} (id int PRIMARY KEY, tenant int NOT NULL, p int REFERENCES "+parent+")",
		"INSERT INTO {t} VALUES (1, 1, 1), (2, 2, 2)")
	role, cfg := e.role("txc_rlsr", "GRANT SELECT, INSERT, UPDATE, DELETE ON "+parent+" TO {r}",
		"GRANT SELECT, INSERT, UPDATE, DELETE ON "+child+" TO {r}", "GRANT SELECT, INSERT, UPDATE, DELETE ON txc_undo_log TO {r}")
	e.exec("CREATE POLICY tenant ON "+child+" USING (tenant = pg_catalog.current_setting('app.tenant', true)::int)",
		"ALTER TABLE "+child+" ENABLE ROW LEVEL SECURITY")
	filtered, err := txcpg.OpenDB(cfg, datasource.WithManager(e.rm), datasource.WithResourceID(role))
	if err != nil {
		t.Fatal(err)
	}
	defer filtered.Close()
	before := e.dump(parent)
	for _, q := range []string{"INSERT INTO " + parent + " VALUES (3, 30)", "UPDATE " + parent + " SET id = 5 WHERE id = 2"} {
		_, err := tenantWrite(e, filtered, parent, nil, q)
		if !errors.Is(err, txc.ErrUnsupported) || !strings.Contains(err.Error(), child) {
			t.Fatalf("%s: %v, want a refusal naming %s", q, err, child)
		}
		if got := e.dump(parent); got != before {
			t.Fatalf("%s: table after the refusal:\n%s\nwant:\n%s", q, got, before)
		}
	}
	xid, err := tenantWrite(e, filtered, parent, nil, "UPDATE "+parent+" SET n = n + 1")
	if !errors.Is(err, errRollback) {
		t.Fatal(err)
	}
	e.wait(xid, txc.GlobalRollbacked)
	owner, err := pgx.ParseConfig(dbtest.PostgresDSN)
	if err != nil {
		t.Fatal(err)
	}
	unfiltered, err := txcpg.OpenDB(cfg, datasource.WithManager(e.rm), datasource.WithResourceID(role+"-p2"),
		datasource.WithPhase2Connector(stdlib.GetConnector(*owner)))
	if err != nil {
		t.Fatal(err)
	}
	defer unfiltered.Close()
	xid, err = tenantWrite(e, unfiltered, parent, nil, "INSERT INTO "+parent+" VALUES (3, 30)", "UPDATE "+parent+" SET id = 4 WHERE id = 3")
	if !errors.Is(err, errRollback) {
		t.Fatal(err)
	}
	e.rolledBack(xid, parent, before)
}

// TestUnreadableReferencingTable: without SELECT on a table that
// references the written one, the rollback's look for referencing rows
// fails and is retried forever; an INSERT is refused before it runs,
// naming the table, and rolls back once the privilege is granted.
func TestUnreadableReferencingTable(t *testing.T) {
	e := newEnv(t)
	parent := e.table("at_prvp", "CREATE TABLE {t} (id int PRIMARY KEY, n int)", "INSERT INTO {t} VALUES (1, 10)")
	child := e.table("at_prvc", "CREATE TABLE {t} (id int PRIMARY KEY, p int REFERENCES "+parent+")")
	role, cfg := e.role("txc_prv", "GRANT SELECT, INSERT, UPDATE, DELETE ON "+parent+" TO {r}",
		"GRANT SELECT, INSERT, UPDATE, DELETE ON txc_undo_log TO {r}")
	db, err := txcpg.OpenDB(cfg, datasource.WithManager(e.rm), datasource.WithResourceID(role))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	before := e.dump(parent)
	insert := func() (txc.XID, error) {
		return e.global(func(ctx context.Context) error {
			if _, err := db.ExecContext(ctx, "INSERT INTO "+parent+" VALUES (2, 20)"); err != nil {
				return err
			}
			return errRollback
		})
	}
	if _, err := insert(); !errors.Is(err, txc.ErrUnsupported) || !strings.Contains(err.Error(), child) || !strings.Contains(err.Error(), "cannot be read") {
		t.Fatalf("global INSERT: %v, want a refusal naming %s", err, child)
	}
	if got := e.dump(parent); got != before {
		t.Fatalf("table after the refusal:\n%s\nwant:\n%s", got, before)
	}
	e.exec("GRANT SELECT ON " + child + " TO " + role)
	if err := db.Close(); err != nil { // the metadata is cached per open database
		t.Fatal(err)
	}
	db, err = txcpg.OpenDB(cfg, datasource.WithManager(e.rm), datasource.WithResourceID(role))
	if err != nil {
		t.Fatal(err)
	}
	xid, err := insert()
	if !errors.Is(err, errRollback) {
		t.Fatal(err)
	}
	e.rolledBack(xid, parent, before)
}

// TestRollbackLockWithoutTablePrivilege: the rollback locks the table
// against DDL before it checks for triggers and rules, which needs
// table-level write privilege. A phase-2 user with column privileges only
// makes the rollback park, saying so, instead of being retried forever;
// once granted, a retry restores the rows.
func TestRollbackLockWithoutTablePrivilege(t *testing.T) {
	e := newEnv(t)
	tb := e.table("at_colpriv", kv, kvSeed)
	role, cfg := e.role("txc_colpriv", "GRANT SELECT, UPDATE (n) ON "+tb+" TO {r}",
		"GRANT SELECT, INSERT, UPDATE, DELETE ON txc_undo_log TO {r}")
	db := e.open("", datasource.WithResourceID(role), datasource.WithPhase2Connector(&sharedConnector{stdlib.GetConnector(*cfg)}))
	before := e.dump(tb)
	xid, err := e.global(func(ctx context.Context) error {
		if _, err := db.ExecContext(ctx, "UPDATE "+tb+" SET n = n + 1 WHERE id = 1"); err != nil {
			return err
		}
		return errRollback
	})
	if !errors.Is(err, errRollback) {
		t.Fatal(err)
	}
	e.wait(xid, txc.GlobalRollbackFailed)
	e.exec("GRANT UPDATE ON " + tb + " TO " + role)
	e.retry(xid)
	e.rolledBack(xid, tb, before)
}

// TestRowSecurityCheckedAsTheServingUser: two databases open under one
// resource ID without a phase-2 connector, as different users: rollbacks
// of the ID run on the first one open, so a write through the second is
// checked against the first one's user. A user row-level security filters
// serves them: the owner's write is refused too (checked as itself, it
// went through and its rollback could not see the rows).
func TestRowSecurityCheckedAsTheServingUser(t *testing.T) {
	e := newEnv(t)
	tb, role, cfg := tenantTable(e)
	e.exec("ALTER TABLE " + tb + " ENABLE ROW LEVEL SECURITY")
	serving, err := txcpg.OpenDB(cfg, datasource.WithManager(e.rm), datasource.WithResourceID(role))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { serving.Close() })
	owner := e.open("", datasource.WithResourceID(role))
	before := e.dump(tb)
	_, err = tenantWrite(e, owner, tb, nil)
	if !errors.Is(err, txc.ErrUnsupported) || !strings.Contains(err.Error(), "row-level security") {
		t.Fatalf("global write as the owner: %v, want a refusal naming row-level security", err)
	}
	if got := e.dump(tb); got != before {
		t.Fatalf("table after the refusal:\n%s\nwant:\n%s", got, before)
	}
}
