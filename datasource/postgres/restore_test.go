package postgres_test

import (
	"context"
	"database/sql"
	"errors"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"

	"github.com/txcio/txc"
	"github.com/txcio/txc/datasource"
	txcpg "github.com/txcio/txc/datasource/postgres"
	"github.com/txcio/txc/internal/dbtest"
)

// TestRuleCreatedBeforeRollback: a rewrite rule created before the
// rollback would add to the restoring UPDATE (here an audit row, so the
// rows read back would match). The rollback writes nothing and parks;
// once the rule is gone, a retry restores the rows exactly.
func TestRuleCreatedBeforeRollback(t *testing.T) {
	e := newEnv(t)
	tb := e.table("at_rulerb", kv, kvSeed)
	audit := e.table("at_audit", "CREATE TABLE {t} (id serial PRIMARY KEY, what text)")
	before := e.dump(tb)
	var changed string
	xid, err := e.global(func(ctx context.Context) error {
		if _, err := e.db.ExecContext(ctx, "UPDATE "+tb+" SET n = n + 1 WHERE id = 1"); err != nil {
			return err
		}
		changed = e.dump(tb)
		e.exec("CREATE RULE " + tb + "_r AS ON UPDATE TO " + tb + " DO ALSO INSERT INTO " + audit + " (what) VALUES ('update')")
		return errRollback
	})
	if !errors.Is(err, errRollback) {
		t.Fatal(err)
	}
	e.parked(xid, tb, changed)
	if got := e.dump(audit); got != "" {
		t.Fatalf("the rollback ran the rule: audit rows\n%s", got)
	}
	e.exec("DROP RULE " + tb + "_r ON " + tb)
	e.retry(xid)
	e.rolledBack(xid, tb, before)
}

// noRestoreGuard is the PostgreSQL dialect with its RestoreGuard hidden,
// to test what a rollback does with a dialect that has none.
type noRestoreGuard struct{ txcpg.Dialect }

func (noRestoreGuard) RestoreHazards(context.Context, *sql.Tx, string) (datasource.RestoreHazards, error) {
	return datasource.RestoreHazards{}, nil
}

// TestRestoreVerified: whatever makes the rows written back differ from
// the images (here a trigger no RestoreGuard reports), the rollback reads
// them back, rolls its own transaction back and parks.
func TestRestoreVerified(t *testing.T) {
	e := newEnv(t)
	db := e.open("", datasource.WithDialect(noRestoreGuard{}), datasource.WithResourceID(dbtest.Name("pg-noguard")))
	tb := e.table("at_verify", kv, kvSeed)
	audit := e.table("at_audit", "CREATE TABLE {t} (id serial PRIMARY KEY, what text)")
	t.Cleanup(func() { e.plain.Exec("DROP FUNCTION IF EXISTS " + tb + "_f() CASCADE") })
	var changed string
	xid, err := e.global(func(ctx context.Context) error {
		if _, err := db.ExecContext(ctx, "UPDATE "+tb+" SET n = n + 1 WHERE id = 1"); err != nil {
			return err
		}
		changed = e.dump(tb)
		e.exec("CREATE FUNCTION "+tb+"_f() RETURNS trigger LANGUAGE plpgsql AS $$BEGIN NEW.s := 'trig'; INSERT INTO "+audit+" (what) VALUES (TG_OP); RETURN NEW; END$$",
			"CREATE TRIGGER "+tb+"_t BEFORE UPDATE ON "+tb+" FOR EACH ROW EXECUTE FUNCTION "+tb+"_f()")
		return errRollback
	})
	if !errors.Is(err, errRollback) {
		t.Fatal(err)
	}
	e.parked(xid, tb, changed)
	if got := e.dump(audit); got != "" {
		t.Fatalf("the failed rollback committed the trigger's audit rows\n%s", got)
	}
}

// TestInheritanceChildCreatedBeforeRollback: an inheritance child created
// between phase 1 and the rollback has its rows reached by the restoring
// statements, which name the parent without ONLY: a child row with the
// key (and the values) of a row the branch inserted was deleted with it.
// The rollback now takes the key found in two rows for a dirty write,
// writes nothing and parks; once the child is detached, a retry restores
// the parent and leaves the child's row alone. A child row with another
// key is not reached: the rollback goes through and leaves it alone.
func TestInheritanceChildCreatedBeforeRollback(t *testing.T) {
	for _, c := range []struct {
		insert, childRow string
		park             bool
	}{{"(5, 50, 'e')", "(5,50,e)", true}, {"(6, 60, 'f')", "(6,60,f)", false}} {
		t.Run(c.childRow, func(t *testing.T) {
			e := newEnv(t)
			tb := e.table("at_inhrb", kv, kvSeed)
			child := dbtest.Name("at_inhc")
			t.Cleanup(func() { e.plain.Exec(`DROP TABLE IF EXISTS "` + child + `"`) })
			before := e.dump("ONLY " + tb)
			var changed string
			xid, err := e.global(func(ctx context.Context) error {
				if _, err := e.db.ExecContext(ctx, "INSERT INTO "+tb+" VALUES (5, 50, 'e')"); err != nil {
					return err
				}
				changed = e.dump("ONLY " + tb)
				e.exec("CREATE TABLE "+child+" () INHERITS ("+tb+")", "INSERT INTO "+child+" VALUES "+c.insert)
				return errRollback
			})
			if !errors.Is(err, errRollback) {
				t.Fatal(err)
			}
			if c.park {
				e.parked(xid, "ONLY "+tb, changed)
				if got := e.dump(child); got != c.childRow+"\n" {
					t.Fatalf("the child's rows: %q, want %q", got, c.childRow)
				}
				e.exec("ALTER TABLE " + child + " NO INHERIT " + tb)
				e.retry(xid)
			}
			e.rolledBack(xid, "ONLY "+tb, before)
			if got := e.dump(child); got != c.childRow+"\n" {
				t.Fatalf("the child's rows after the rollback: %q, want %q", got, c.childRow)
			}
		})
	}
}

// TestRollbackReadCommittedWhateverTheDefault: the rollback's trigger
// check runs after its lock and must read the current catalogs. With the
// phase-2 session defaulting to REPEATABLE READ, its snapshot was taken at
// the undo log's read, before the lock: a trigger created while the
// rollback waited for a row was not seen, and fired on the restore (an
// audit row committed). The rollback runs READ COMMITTED whatever the
// default, sees the trigger and parks.
func TestRollbackReadCommittedWhateverTheDefault(t *testing.T) {
	e := newEnv(t)
	tb := e.table("at_rbiso", kv, kvSeed)
	audit := e.table("at_audit", "CREATE TABLE {t} (id serial PRIMARY KEY, what text)")
	t.Cleanup(func() { e.plain.Exec("DROP FUNCTION IF EXISTS " + tb + "_f() CASCADE") })
	p2, err := pgx.ParseConfig(dbtest.PostgresDSN)
	if err != nil {
		t.Fatal(err)
	}
	p2.RuntimeParams["default_transaction_isolation"] = "repeatable read"
	db := e.open("", datasource.WithResourceID(dbtest.Name("pg-rbiso")), datasource.WithPhase2Connector(&sharedConnector{stdlib.GetConnector(*p2)}))
	hold, err := e.plain.Begin()
	if err != nil {
		t.Fatal(err)
	}
	defer hold.Rollback()
	xid, err := e.global(func(ctx context.Context) error {
		if _, err := db.ExecContext(ctx, "UPDATE "+tb+" SET n = n + 1 WHERE id = 1"); err != nil {
			return err
		}
		// Keep the rollback waiting for the row, after its snapshot.
		if _, err := hold.Exec("SELECT 1 FROM " + tb + " WHERE id = 1 FOR UPDATE"); err != nil {
			return err
		}
		return errRollback
	})
	if !errors.Is(err, errRollback) {
		t.Fatal(err)
	}
	changed := e.dump(tb)
	waitForLockWait(t, e, tb)
	e.exec("CREATE FUNCTION "+tb+"_f() RETURNS trigger LANGUAGE plpgsql AS $$BEGIN INSERT INTO "+audit+" (what) VALUES (TG_OP); RETURN NULL; END$$",
		"CREATE TRIGGER "+tb+"_t AFTER UPDATE ON "+tb+" FOR EACH ROW EXECUTE FUNCTION "+tb+"_f()")
	if err := hold.Rollback(); err != nil {
		t.Fatal(err)
	}
	e.parked(xid, tb, changed)
	if got := e.dump(audit); got != "" {
		t.Fatalf("the rollback fired the trigger: audit rows\n%s", got)
	}
}

// TestRollbackSessionDefaultsPinned: the phase-2 user's session defaults
// must not change how the rollback reads the images' text back. With
// array_nulls off it put a NULL array element back as the string "NULL",
// with xmloption document it could not put an XML fragment back, and with
// bytea_output escape it read bytea in arrays in another form than phase
// 1 imaged it: each rollback parked. The rollback's session pins them.
func TestRollbackSessionDefaultsPinned(t *testing.T) {
	e := newEnv(t)
	tb := e.table("at_rbdef", "CREATE TABLE {t} (id int PRIMARY KEY, a text[], x xml, b bytea[])",
		`INSERT INTO {t} VALUES (1, ARRAY[NULL, 'NULL', 'x'], XMLPARSE(CONTENT 'a<b/>c'), ARRAY['\x00ff'::bytea, NULL]),
		(2, ARRAY[NULL]::text[], XMLPARSE(CONTENT '<!DOCTYPE d><d/>'), ARRAY['\x41'::bytea])`)
	before := e.dump(tb)
	p2, err := pgx.ParseConfig(dbtest.PostgresDSN)
	if err != nil {
		t.Fatal(err)
	}
	p2.RuntimeParams["array_nulls"] = "off"
	p2.RuntimeParams["xmloption"] = "document"
	p2.RuntimeParams["bytea_output"] = "escape"
	db := e.open("", datasource.WithResourceID(dbtest.Name("pg-rbdef")), datasource.WithPhase2Connector(&sharedConnector{stdlib.GetConnector(*p2)}))
	err, st := e.rollbackOne(db, "UPDATE "+tb+" SET a = '{}', x = NULL, b = NULL WHERE id = 1", "DELETE FROM "+tb+" WHERE id = 2")
	if err != nil || st != txc.GlobalRollbacked {
		t.Fatal(err, st)
	}
	if got := e.dump(tb); got != before {
		t.Fatalf("before:\n%s\nafter:\n%s", before, got)
	}
}
