package postgres_test

import (
	"context"
	"database/sql"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"

	"github.com/txcio/txc"
	"github.com/txcio/txc/datasource"
	txcpg "github.com/txcio/txc/datasource/postgres"
	"github.com/txcio/txc/internal/dbtest"
	"github.com/txcio/txc/tm"
)

// TestRefusedBeforeRunning: statements AT mode cannot undo fail with
// txc.ErrUnsupported naming reason and statement, and change nothing.
func TestRefusedBeforeRunning(t *testing.T) {
	e := newEnv(t)
	nopk := e.table("at_nopk", "CREATE TABLE {t} (a int, b int)", "INSERT INTO {t} VALUES (1, 1)")
	kvt := e.table("at_ref", kv, kvSeed)
	trig := e.table("at_trig", kv, kvSeed)
	e.exec("CREATE FUNCTION "+trig+"_f() RETURNS trigger LANGUAGE plpgsql AS $$BEGIN NEW.n := NEW.n + 1; RETURN NEW; END$$",
		"CREATE TRIGGER "+trig+"_t BEFORE UPDATE ON "+trig+" FOR EACH ROW EXECUTE FUNCTION "+trig+"_f()")
	t.Cleanup(func() { e.plain.Exec("DROP FUNCTION IF EXISTS " + trig + "_f() CASCADE") })
	parent := e.table("at_par", kv, kvSeed)
	e.table("at_child", "CREATE TABLE {t} (id int PRIMARY KEY, p int REFERENCES "+parent+" (id) ON UPDATE CASCADE)", "INSERT INTO {t} VALUES (1, 1)")
	always := e.table("at_always", identityAlways, "INSERT INTO {t} (n) VALUES (1)")
	gen := e.table("at_gen", "CREATE TABLE {t} (id int PRIMARY KEY, n int, g int GENERATED ALWAYS AS (n * 2) STORED UNIQUE)", "INSERT INTO {t} (id, n) VALUES (1, 1)")
	created := kvt + "_x"
	t.Cleanup(func() { e.plain.Exec("DROP TABLE IF EXISTS " + created) })
	dumps := map[string]string{}
	for _, tb := range []string{nopk, kvt, trig, parent, always, gen} {
		dumps[tb] = e.dump(tb)
	}
	for _, c := range []struct{ q, reason string }{
		{"UPDATE " + nopk + " SET b = 2", "no primary key"},
		{"DELETE FROM " + nopk, "no primary key"},
		{"INSERT INTO " + nopk + " VALUES (2, 2)", "no primary key"},
		{"CREATE TABLE " + created + " (id int PRIMARY KEY)", "CreateStmt cannot be undone"},
		{"DROP TABLE " + kvt, "DropStmt cannot be undone"},
		{"ALTER TABLE " + kvt + " ADD COLUMN z int", "AlterTableStmt cannot be undone"},
		{"TRUNCATE " + kvt, "TRUNCATE"},
		{"COPY " + kvt + " FROM STDIN", "COPY FROM"},
		{"UPDATE " + kvt + " SET n = 1; DELETE FROM " + kvt, "2 statements"},
		{"COMMIT", "transaction control"},
		{"CALL p()", "procedure"},
		{"DO $$BEGIN DELETE FROM " + kvt + "; END$$", "code block"},
		{"MERGE INTO " + kvt + " k USING " + nopk + " n ON k.id = n.a WHEN MATCHED THEN DELETE", "MERGE"},
		{"WITH d AS (DELETE FROM " + kvt + " RETURNING *) SELECT * FROM d", "data-modifying WITH"},
		{"EXPLAIN ANALYZE DELETE FROM " + kvt, "EXPLAIN ANALYZE"},
		{"SELECT * INTO " + created + " FROM " + kvt, "INTO creates a table"},
		{"UPDATE " + kvt + " SET id = (random() * 100)::int WHERE id = 1", "not made of columns"},
		{"UPDATE " + kvt + " k SET id = k.id + 10 FROM " + nopk + " WHERE k.id = 1", "FROM that changes a primary key"},
		{"UPDATE " + kvt + " SET (n, id) = (SELECT 1, 9) WHERE id = 1", "comes from a sub-select"},
		{"INSERT INTO " + kvt + " SELECT * FROM " + kvt + " ON CONFLICT (id) DO UPDATE SET n = 0", "INSERT … SELECT … ON CONFLICT DO UPDATE"},
		{"INSERT INTO " + kvt + " VALUES ((random() * 10)::int, 1, 'q') ON CONFLICT (id) DO UPDATE SET n = 0", "not a constant"},
		{"INSERT INTO " + kvt + " VALUES (1, 1, 'q') ON CONFLICT (id) DO UPDATE SET id = 0", "sets primary-key column"},
		{"INSERT INTO " + kvt + " VALUES (1, 1, 'q') ON CONFLICT (n) DO UPDATE SET n = 0", "no unique key"},
		{"UPDATE " + trig + " SET n = 5", "triggers"},
		{"UPDATE " + parent + " SET id = 100 WHERE id = 1", "ON UPDATE CASCADE: it is not DEFERRABLE"},
		{"UPDATE " + always + " SET id = DEFAULT WHERE id = 1", "GENERATED ALWAYS AS IDENTITY"},
		{"INSERT INTO " + gen + " (id, n) VALUES (2, 1) ON CONFLICT (g) DO UPDATE SET n = 5", "generated column"},
		{"INSERT INTO " + always + " (id, n) OVERRIDING SYSTEM VALUE VALUES (1, 1) ON CONFLICT (id) DO UPDATE SET id = DEFAULT", "sets primary-key column"},
		{"UPDATE " + kvt + " SET n = 1 WHERE CURRENT OF c", "CURRENT OF"},
		{"INSERT INTO " + kvt + " VALUES (9, 9, 'z') RETURNING $1", "only in the RETURNING"},
		{"FROBNICATE " + kvt, "does not parse"},
	} {
		_, err := e.global(func(ctx context.Context) error {
			_, err := e.db.ExecContext(ctx, c.q)
			return err
		})
		if !errors.Is(err, txc.ErrUnsupported) || !strings.Contains(err.Error(), c.reason) || !strings.Contains(err.Error(), "refused") {
			t.Errorf("%s: err = %v, want ErrUnsupported naming %q", c.q, err, c.reason)
		}
	}
	for tb, d := range dumps {
		if got := e.dump(tb); got != d {
			t.Fatalf("%s changed:\n%s", tb, got)
		}
	}
	var n int
	e.plain.QueryRow("SELECT count(*) FROM pg_catalog.pg_class WHERE relname = $1", created).Scan(&n)
	if n != 0 {
		t.Fatal("the refused CREATE TABLE ran")
	}
	// Outside a global transaction nothing is parsed or refused.
	if _, err := e.db.Exec("UPDATE " + nopk + " SET b = 3"); err != nil {
		t.Fatal(err)
	}
}

// TestDirtyWriteParkedRefusesQueryWrites: with a transaction parked on a
// dirty write (dialecttest's DirtyWriteParked, which the conformance
// suite runs as DirtyWriteNotOverwritten), a global-lock write of a row
// it holds run as a query is refused too; one of a row nobody holds goes
// through, run either way.
func TestDirtyWriteParkedRefusesQueryWrites(t *testing.T) {
	e := newEnv(t)
	tb := e.table("at_dirty", kv, kvSeed)
	e.suite().DirtyWriteParked(t, tb)
	// Run as a query (reading its RETURNING rows), the same write is
	// refused the same way (with a budget of its own: the first write
	// spent the other one waiting).
	qctx, qcancel := context.WithTimeout(context.Background(), time.Second)
	defer qcancel()
	err := tm.WithGlobalLock(qctx, func(ctx context.Context) error {
		var n int
		return e.db.QueryRowContext(ctx, "UPDATE "+tb+" SET n = 0 WHERE id = 2 RETURNING n").Scan(&n)
	})
	if !errors.Is(err, txc.ErrLockConflict) {
		t.Fatalf("global-lock write run as a query: %v, want a lock conflict", err)
	}
	// A global-lock write of a row nobody holds goes through, run either
	// way.
	if err := tm.WithGlobalLock(context.Background(), func(ctx context.Context) error {
		_, err := e.db.ExecContext(ctx, "UPDATE "+tb+" SET n = 0 WHERE id = 3")
		return err
	}); err != nil {
		t.Fatal(err)
	}
	var got int
	if err := tm.WithGlobalLock(context.Background(), func(ctx context.Context) error {
		return e.db.QueryRowContext(ctx, "UPDATE "+tb+" SET n = n + 5 WHERE id = 3 RETURNING n").Scan(&got)
	}); err != nil || got != 5 {
		t.Fatalf("global-lock write run as a query: %v, returned %d, want 5", err, got)
	}
}

// TestWriteAsQueryOutsideLocalTx: a write with RETURNING run as a query
// outside any local transaction commits in one of its own with its undo
// log, returns its rows, and rolls back with the global transaction.
func TestWriteAsQueryOutsideLocalTx(t *testing.T) {
	e := newEnv(t)
	tb := e.table("at_wq", serial, "INSERT INTO {t} (n) VALUES (1)")
	seed := e.dump(tb)
	var id, n int64
	xid, err := e.global(func(ctx context.Context) error {
		if err := e.db.QueryRowContext(ctx, "INSERT INTO "+tb+" (n) VALUES ($1) RETURNING id, n", 41).Scan(&id, &n); err != nil {
			return err
		}
		return errRollback
	})
	if !errors.Is(err, errRollback) {
		t.Fatal(err)
	}
	if id != 2 || n != 41 {
		t.Fatalf("returned id %d, n %d; want 2, 41", id, n)
	}
	e.wait(xid, txc.GlobalRollbacked)
	if got := e.dump(tb); got != seed {
		t.Fatalf("rolled back:\n%s\nwant:\n%s", got, seed)
	}
}

// TestSelectForUpdateWaitsForGlobalLock: SELECT … FOR UPDATE (and FOR NO
// KEY UPDATE) in another global transaction, or under WithGlobalLock,
// does not return a row another global transaction holds; once that one
// commits it does.
func TestSelectForUpdateWaitsForGlobalLock(t *testing.T) {
	e := newEnv(t)
	tb := e.table("at_sfu", kv, kvSeed)
	holding, release, done := make(chan struct{}), make(chan struct{}), make(chan error, 1)
	go func() {
		_, err := e.global(func(ctx context.Context) error {
			if _, err := e.db.ExecContext(ctx, "UPDATE "+tb+" SET n = 12 WHERE id = 1"); err != nil {
				return err
			}
			close(holding)
			<-release
			return nil
		})
		done <- err
	}()
	select {
	case <-holding:
	case err := <-done:
		t.Fatalf("the holding transaction ended before holding its lock: %v", err)
	}
	read := func(ctx context.Context, strength string) (int, error) {
		tx, err := e.db.BeginTx(ctx, nil)
		if err != nil {
			return 0, err
		}
		defer tx.Rollback()
		var n int
		err = tx.QueryRowContext(ctx, "SELECT n FROM "+tb+" WHERE id = $1 ORDER BY n "+strength, 1).Scan(&n)
		return n, err
	}
	for _, strength := range []string{"FOR UPDATE", "FOR NO KEY UPDATE"} {
		_, err := e.global(func(ctx context.Context) error {
			ctx, c := context.WithTimeout(ctx, time.Second)
			defer c()
			_, err := read(ctx, strength)
			return err
		})
		if !errors.Is(err, txc.ErrLockConflict) {
			t.Fatalf("global SELECT %s: %v, want lock conflict", strength, err)
		}
		short, cancel := context.WithTimeout(context.Background(), time.Second)
		err = tm.WithGlobalLock(short, func(ctx context.Context) error { _, err := read(ctx, strength); return err })
		cancel()
		if !errors.Is(err, txc.ErrLockConflict) {
			t.Fatalf("global-lock SELECT %s: %v, want lock conflict", strength, err)
		}
	}
	// A plain read (no global transaction, no global lock) is not held.
	if _, err := read(context.Background(), "FOR UPDATE"); err != nil {
		t.Fatal(err)
	}
	close(release)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	var n int
	var err error
	_, err = e.global(func(ctx context.Context) error { n, err = read(ctx, "FOR NO KEY UPDATE"); return err })
	if err != nil || n != 12 {
		t.Fatalf("after commit: n = %d, err %v", n, err)
	}
}

// TestSchemasAndSearchPath: schema-qualified statements, and unqualified
// ones resolved through a search_path set in the DSN, commit and roll
// back exactly; undo records name the table with its schema.
func TestSchemasAndSearchPath(t *testing.T) {
	e := newEnv(t)
	e.makeEnum()
	schema := dbtest.Name("at_Schema")
	e.exec(`CREATE SCHEMA "` + schema + `"`)
	t.Cleanup(func() { e.plain.Exec(`DROP SCHEMA IF EXISTS "` + schema + `" CASCADE`) })
	qs := `"` + schema + `"`
	pathParam := "search_path=" + strings.ReplaceAll(qs, `"`, "%22")
	// The undo_log table is named without a schema, so it resolves
	// through the search_path too: a database opened with another
	// search_path keeps its undo log elsewhere and must be its own
	// resource (one resource ID, one undo log).
	viaPath := e.open(pathParam, datasource.WithResourceID("postgres:127.0.0.1:5432/test/"+schema))
	plainPath := dbtest.Open(t, "pgx", dbtest.PostgresDSN+"&"+pathParam)
	for _, c := range stmtCases {
		if c.name == "several/statements" || strings.Contains(c.name, "wide") {
			continue
		}
		t.Run("qualified/"+c.name, func(t *testing.T) {
			e.t = t
			c.check(e, e.db, qs, false)
		})
		t.Run("search_path/"+c.name, func(t *testing.T) {
			e.t = t
			pathCase := c
			pathCase.stmts = nil
			for _, st := range c.stmts {
				pathCase.stmts = append(pathCase.stmts, sqlArgs{strings.NewReplacer("{t}", "{tn}", "{u}", "{un}", "{T}", "{Tn}").Replace(st.q), st.args})
			}
			pathCase.checkWith(e, plainPath, viaPath, qs, runExec)
		})
	}
}

// TestOpenPaths: sql.Open("txc-postgres", dsn) with the default manager,
// the same with the name of a configuration registered with pgx
// (stdlib.RegisterConnConfig), and datasource.OpenDB over a pgx stdlib
// connector.
func TestOpenPaths(t *testing.T) {
	e := newEnv(t)
	datasource.SetDefaultManager(e.rm)
	byName, err := sql.Open(txcpg.DriverName, dbtest.PostgresDSN)
	if err != nil {
		t.Fatal(err)
	}
	defer byName.Close()
	cfg, err := pgx.ParseConfig(dbtest.PostgresDSN)
	if err != nil {
		t.Fatal(err)
	}
	if id := txcpg.ResourceID(cfg); id != "postgres:127.0.0.1:5432/test" {
		t.Fatalf("resource ID %q", id)
	}
	cfgPw, _ := pgx.ParseConfig("postgres://u:secret@db.example:6543/app")
	if id := txcpg.ResourceID(cfgPw); strings.Contains(id, "secret") || strings.Contains(id, "u:") || id != "postgres:db.example:6543/app" {
		t.Fatalf("resource ID %q", id)
	}
	viaConnector, err := datasource.OpenDB(stdlib.GetConnector(*cfg), datasource.WithResourceID(txcpg.ResourceID(cfg)),
		datasource.WithManager(e.rm), datasource.WithClientInterpolation(true))
	if err != nil {
		t.Fatal(err)
	}
	defer viaConnector.Close()
	registered := stdlib.RegisterConnConfig(cfg)
	defer stdlib.UnregisterConnConfig(registered)
	byRegistered, err := sql.Open(txcpg.DriverName, registered)
	if err != nil {
		t.Fatal(err)
	}
	defer byRegistered.Close()
	if _, err := sql.Open(txcpg.DriverName, "registeredConnConfig999999"); !errors.Is(err, txc.ErrInvalidArgument) {
		t.Fatalf("an unregistered name: %v", err)
	}
	for name, db := range map[string]*sql.DB{"sql.Open": byName, "datasource.OpenDB": viaConnector, "stdlib.RegisterConnConfig": byRegistered} {
		t.Run(name, func(t *testing.T) {
			e.t = t
			c := stmtCases[len(stmtCases)-1] // several statements
			c.check(e, db, "", false)
		})
	}
}

// TestMetadataRefreshed: a statement naming a column added after the
// table's metadata was cached reloads it, so its images hold the new
// column and rollback restores it.
func TestMetadataRefreshed(t *testing.T) {
	e := newEnv(t)
	tb := e.table("at_meta", kv, kvSeed)
	if _, err := e.global(func(ctx context.Context) error {
		_, err := e.db.ExecContext(ctx, "UPDATE "+tb+" SET n = n + 1 WHERE id = 1")
		return err
	}); err != nil {
		t.Fatal(err)
	}
	e.exec("ALTER TABLE " + tb + " ADD COLUMN extra text DEFAULT 'z'")
	before := e.dump(tb)
	xid, err := e.global(func(ctx context.Context) error {
		if _, err := e.db.ExecContext(ctx, "UPDATE "+tb+" SET extra = $1 WHERE id <= $2", "changed", 2); err != nil {
			return err
		}
		return errRollback
	})
	if !errors.Is(err, errRollback) {
		t.Fatal(err)
	}
	e.wait(xid, txc.GlobalRollbacked)
	if got := e.dump(tb); got != before {
		t.Fatalf("rolled back:\n%s\nwant:\n%s", got, before)
	}
}
