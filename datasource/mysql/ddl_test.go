package mysql_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	gomysql "github.com/go-sql-driver/mysql"

	"github.com/txcio/txc"
	"github.com/txcio/txc/datasource"
	txcmysql "github.com/txcio/txc/datasource/mysql"
	"github.com/txcio/txc/internal/dbtest"
)

// cacheMeta runs one committed global UPDATE of row 1 of tb, so that the
// proxy holds tb's metadata before the DDL that follows.
func (e *env) cacheMeta(t *testing.T, tb string) {
	t.Helper()
	xid, err := e.global(func(ctx context.Context) error {
		_, err := e.db.ExecContext(ctx, "UPDATE "+tb+" SET n = n WHERE id = 1")
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	e.wait(xid, txc.GlobalCommitted)
}

// DDL run after the proxy cached a table's metadata must not make a
// rollback lose or miss anything.
func TestDDLAfterMetadataCached(t *testing.T) {
	e := newEnv(t, "")
	t.Run("added column, DELETE", func(t *testing.T) {
		tb := e.table("at_ddl1", kv, kvSeed)
		e.cacheMeta(t, tb)
		if _, err := e.plain.Exec("ALTER TABLE " + tb + " ADD COLUMN extra VARCHAR(20) NULL"); err != nil {
			t.Fatal(err)
		}
		if _, err := e.plain.Exec("UPDATE " + tb + " SET extra = CONCAT('x', id)"); err != nil {
			t.Fatal(err)
		}
		e.expect(t, undone, "", []string{tb}, "DELETE FROM "+tb+" WHERE id IN (1, 2)")
	})
	t.Run("added column, UPDATE of another column", func(t *testing.T) {
		tb := e.table("at_ddl2", kv, kvSeed)
		e.cacheMeta(t, tb)
		if _, err := e.plain.Exec("ALTER TABLE " + tb + " ADD COLUMN extra INT NOT NULL DEFAULT 7"); err != nil {
			t.Fatal(err)
		}
		e.expect(t, undone, "", []string{tb}, "UPDATE "+tb+" SET n = n + 1 WHERE id = 1", "REPLACE INTO "+tb+" (id, n, s) VALUES (2, 5, 'r')")
	})
	t.Run("added column, INSERT first", func(t *testing.T) {
		tb := e.table("at_ddl7", kv, kvSeed)
		ai := e.table("at_ddl7a", "CREATE TABLE {t} (id INT AUTO_INCREMENT PRIMARY KEY, n INT)", "INSERT INTO {t} (n) VALUES (1)")
		e.cacheMeta(t, tb)
		e.cacheMeta(t, ai)
		for _, q := range []string{"ALTER TABLE " + tb + " ADD COLUMN extra INT NOT NULL DEFAULT 7", "ALTER TABLE " + ai + " ADD COLUMN extra INT NOT NULL DEFAULT 7"} {
			if _, err := e.plain.Exec(q); err != nil {
				t.Fatal(err)
			}
		}
		// The INSERT is the first statement on the table: its after
		// image meets the new column and is read again.
		e.expect(t, undone, "", []string{tb, ai}, "INSERT INTO "+tb+" (id, n, s) VALUES (9, 9, 'z')", "INSERT INTO "+ai+" (n) VALUES (2), (3)",
			"UPDATE "+tb+" SET extra = 8 WHERE id = 1")
	})
	t.Run("dropped column", func(t *testing.T) {
		tb := e.table("at_ddl3", "CREATE TABLE {t} (id INT PRIMARY KEY, n INT, s VARCHAR(20), gone INT)", "INSERT INTO {t} VALUES (1, 10, 'a', 1), (2, 20, 'b', 2)")
		e.cacheMeta(t, tb)
		if _, err := e.plain.Exec("ALTER TABLE " + tb + " DROP COLUMN gone"); err != nil {
			t.Fatal(err)
		}
		e.expect(t, undone, "", []string{tb}, "DELETE FROM "+tb+" WHERE id = 1", "UPDATE "+tb+" SET s = 'q' WHERE id = 2")
	})
	t.Run("changed type", func(t *testing.T) {
		tb := e.table("at_ddl4", kv, kvSeed)
		e.cacheMeta(t, tb)
		if _, err := e.plain.Exec("ALTER TABLE " + tb + " MODIFY s VARBINARY(20)"); err != nil {
			t.Fatal(err)
		}
		e.expect(t, undone, "", []string{tb}, "DELETE FROM "+tb+" WHERE id = 1", "UPDATE "+tb+" SET s = 'q' WHERE id = 2")
	})
	// A trigger or a cascading foreign key shows in no image: they are
	// seen once the metadata is older than its maximum age (the trigger
	// refused, the rows the foreign key writes imaged).
	aged := newEnv(t, "")
	aged.db = aged.open("", datasource.WithMetadataMaxAge(time.Millisecond))
	t.Run("added trigger", func(t *testing.T) {
		e := aged
		tb := e.table("at_ddl5", kv, kvSeed)
		counter := e.table("at_ddl5n", "CREATE TABLE {t} (id INT PRIMARY KEY, hits INT)", "INSERT INTO {t} VALUES (1, 0)")
		e.cacheMeta(t, tb)
		if _, err := e.plain.Exec("CREATE TRIGGER " + tb + "_trg AFTER DELETE ON " + tb + " FOR EACH ROW UPDATE " + counter + " SET hits = hits + 1"); err != nil {
			t.Fatal(err)
		}
		time.Sleep(5 * time.Millisecond)
		e.expect(t, refused, "trigger", []string{tb, counter}, "DELETE FROM "+tb+" WHERE id = 1")
	})
	t.Run("added cascading foreign key", func(t *testing.T) {
		e := aged
		tb := e.table("at_ddl6", kv, kvSeed)
		e.cacheMeta(t, tb)
		child := e.table("at_ddl6c", "CREATE TABLE {t} (id INT PRIMARY KEY, pid INT, CONSTRAINT {t}_fk FOREIGN KEY (pid) REFERENCES "+tb+" (id) ON DELETE CASCADE)", "INSERT INTO {t} VALUES (10, 1)")
		t.Cleanup(func() { e.plain.Exec("DROP TABLE IF EXISTS " + child) })
		time.Sleep(5 * time.Millisecond)
		e.expect(t, undone, "", []string{tb, child}, "DELETE FROM "+tb+" WHERE id = 1")
	})
}

// MariaDB's INVISIBLE columns are left out of `SELECT *` but not of the
// images: a DELETE's rollback restores them.
func TestInvisibleColumnImaged(t *testing.T) {
	e := newEnv(t, "")
	tb := e.table("at_inv", "CREATE TABLE {t} (id INT PRIMARY KEY, n INT NOT NULL, secret VARCHAR(20) INVISIBLE, gen INT AS (n * 2) VIRTUAL)",
		"INSERT INTO {t} (id, n, secret) VALUES (1, 10, 's1'), (2, 20, 's2'), (3, 30, NULL)")
	dump := func() string {
		var sb strings.Builder
		rows, err := e.plain.Query("SELECT id, n, secret, gen FROM " + tb + " ORDER BY id")
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		for rows.Next() {
			var id, n, gen int
			var s sql.NullString
			if err := rows.Scan(&id, &n, &s, &gen); err != nil {
				t.Fatal(err)
			}
			fmt.Fprintf(&sb, "%d %d %v %d\n", id, n, s, gen)
		}
		return sb.String()
	}
	seed := dump()
	xid, err := e.global(func(ctx context.Context) error {
		for _, q := range []string{"DELETE FROM " + tb + " WHERE id = 1", "UPDATE " + tb + " SET secret = 'x', n = n + 1 WHERE id = 2", "INSERT INTO " + tb + " (id, n, secret) VALUES (4, 40, 's4')"} {
			if _, err := e.db.ExecContext(ctx, q); err != nil {
				return err
			}
		}
		return errRollback
	})
	if !errors.Is(err, errRollback) {
		t.Fatal(err)
	}
	if st := e.wait(xid, txc.GlobalRollbacked, txc.GlobalRollbackFailed); st != txc.GlobalRollbacked {
		t.Fatalf("transaction ended %v", st)
	}
	if got := dump(); got != seed {
		t.Fatalf("after rollback:\n%s\nseed:\n%s", got, seed)
	}
}

// A negative metadata age, leftover-sweep age or lock wait is refused at
// open.
func TestNegativeAgesRefused(t *testing.T) {
	cfg, err := gomysql.ParseDSN(dbtest.MySQLDSN)
	if err != nil {
		t.Fatal(err)
	}
	for _, opt := range []datasource.Option{datasource.WithMetadataMaxAge(-time.Second), datasource.WithLeftoverSweep(-time.Second), datasource.WithLockWait(-time.Millisecond)} {
		db, err := txcmysql.OpenDB(cfg, opt, datasource.WithResourceID("mysql:negative-age"))
		if err == nil {
			db.Close()
		}
		if !errors.Is(err, txc.ErrInvalidArgument) {
			t.Fatalf("err = %v, want InvalidArgument", err)
		}
	}
}

// A table without transactions and row locks (MyISAM, MEMORY, Aria) can
// change between the image and the write, and keeps its changes when the
// local transaction rolls back: refused before anything runs.
func TestNonTransactionalEngineRefused(t *testing.T) {
	e := newEnv(t, "")
	for _, engine := range []string{"MyISAM", "MEMORY", "Aria"} {
		tb := e.table("at_eng", "CREATE TABLE {t} (id INT PRIMARY KEY, n INT) ENGINE="+engine, "INSERT INTO {t} VALUES (1, 1), (2, 2)")
		e.expect(t, refused, "storage engine "+engine, []string{tb}, "UPDATE "+tb+" SET n = 5 WHERE id = 1")
		e.expect(t, refused, "storage engine "+engine, []string{tb}, "INSERT INTO "+tb+" VALUES (3, 3)")
	}
}

// MariaDB's system-versioned tables: the server appends the row-end
// column to every key; images, lock keys and the rollback deal in current
// rows, keyed by the declared columns. History keeps the versions the
// rollback's own writes make.
func TestSystemVersionedTable(t *testing.T) {
	e := newEnv(t, "")
	implicit := e.table("at_ver", "CREATE TABLE {t} (id INT PRIMARY KEY, n INT, s VARCHAR(10), UNIQUE KEY (s)) WITH SYSTEM VERSIONING", "INSERT INTO {t} VALUES (1, 1, 'a'), (2, 2, 'b')")
	explicit := e.table("at_ver2", "CREATE TABLE {t} (id INT PRIMARY KEY, n INT, s VARCHAR(10), rs TIMESTAMP(6) AS ROW START INVISIBLE, re TIMESTAMP(6) AS ROW END INVISIBLE, PERIOD FOR SYSTEM_TIME(rs, re), UNIQUE KEY (s)) WITH SYSTEM VERSIONING",
		"INSERT INTO {t} (id, n, s) VALUES (1, 1, 'a'), (2, 2, 'b')")
	for _, tb := range []string{implicit, explicit} {
		e.expect(t, undone, "", []string{tb},
			"UPDATE "+tb+" SET n = 5 WHERE id = 1",
			"DELETE FROM "+tb+" WHERE id = 2",
			"INSERT INTO "+tb+" (id, n, s) VALUES (3, 3, 'c')",
			"REPLACE INTO "+tb+" (id, n, s) VALUES (1, 9, 'z')",
			"INSERT IGNORE INTO "+tb+" (id, n, s) VALUES (4, 4, 'c')")
		e.expect(t, refused, "system-versioned", []string{tb}, "INSERT INTO "+tb+" (id, n, s) VALUES (3, 0, 'q') ON DUPLICATE KEY UPDATE n = n + 100")
	}
}
