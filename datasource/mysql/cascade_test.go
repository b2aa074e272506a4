package mysql_test

import (
	"context"
	"errors"
	"testing"

	gomysql "github.com/go-sql-driver/mysql"

	"github.com/txcio/txc"
)

// TestCascadeSetDefaultIsRestrict: InnoDB takes ON DELETE / ON UPDATE SET
// DEFAULT for RESTRICT (and MariaDB's catalog says RESTRICT): a write of
// a referenced row fails with the server's own error, is neither refused
// nor imaged as a cascade, changes nothing, and its local transaction
// goes on.
func TestCascadeSetDefaultIsRestrict(t *testing.T) {
	e := newEnv(t, "")
	parent := e.table("at_sdp", "CREATE TABLE {t} (id INT PRIMARY KEY, n INT) ENGINE=InnoDB", "INSERT INTO {t} VALUES (1, 1), (2, 2)")
	child := e.table("at_sdc", "CREATE TABLE {t} (id INT PRIMARY KEY, p INT DEFAULT 2, FOREIGN KEY (p) REFERENCES "+parent+" (id) ON DELETE SET DEFAULT ON UPDATE SET DEFAULT) ENGINE=InnoDB",
		"INSERT INTO {t} VALUES (10, 1)")
	before := e.dump(parent) + e.dump(child)
	xid := e.rollBack(func(ctx context.Context) error {
		tx, err := e.db.BeginTx(ctx, nil)
		if err != nil {
			return err
		}
		defer tx.Rollback()
		for _, q := range []string{"DELETE FROM " + parent + " WHERE id = 1", "UPDATE " + parent + " SET id = 5 WHERE id = 1"} {
			var me *gomysql.MySQLError
			if _, err := tx.ExecContext(ctx, q); !errors.As(err, &me) || me.Number != 1451 || errors.Is(err, txc.ErrUnsupported) {
				t.Errorf("%s: err = %v, want the server's foreign-key error 1451", q, err)
			}
		}
		if _, err := tx.ExecContext(ctx, "UPDATE "+parent+" SET n = 7 WHERE id = 2"); err != nil {
			return err
		}
		return tx.Commit()
	})
	if got := e.dump(parent) + e.dump(child); got != before {
		t.Fatalf("after the rollback of %s:\n%s\nbefore:\n%s", xid, got, before)
	}
}

// TestCascadeMultiTableAndKeyed: the rows referential actions write are
// imaged for a multi-table DELETE (whose other target an action may
// reach too), a multi-table UPDATE of a referenced column, and a DELETE
// whose WHERE reads through a subquery (run keyed).
func TestCascadeMultiTableAndKeyed(t *testing.T) {
	e := newEnv(t, "")
	parent := e.table("at_cmp", "CREATE TABLE {t} (id INT PRIMARY KEY, code VARCHAR(10) NOT NULL UNIQUE) ENGINE=InnoDB",
		"INSERT INTO {t} VALUES (1, 'a'), (2, 'b'), (3, 'c'), (4, 'd')")
	child := e.table("at_cmc", "CREATE TABLE {t} (id INT PRIMARY KEY, p INT, code VARCHAR(10), "+
		"FOREIGN KEY (p) REFERENCES "+parent+" (id) ON DELETE CASCADE, FOREIGN KEY (code) REFERENCES "+parent+" (code) ON UPDATE CASCADE ON DELETE SET NULL) ENGINE=InnoDB",
		"INSERT INTO {t} VALUES (10, 1, 'a'), (11, 1, 'b'), (12, 2, 'c'), (13, 3, NULL), (14, NULL, 'd')")
	other := e.table("at_cmo", "CREATE TABLE {t} (id INT PRIMARY KEY) ENGINE=InnoDB", "INSERT INTO {t} VALUES (1), (3)")
	all := []string{parent, child, other}
	e.expect(t, undone, "", all, "DELETE "+parent+" FROM "+parent+" JOIN "+other+" o ON o.id = "+parent+".id")
	e.expect(t, undone, "", all, "DELETE p, c FROM "+parent+" p JOIN "+child+" c ON c.p = p.id WHERE p.id = 2")
	e.expect(t, undone, "", all, "UPDATE "+parent+" p JOIN "+other+" o ON o.id = p.id SET p.code = CONCAT(p.code, 'x')")
	e.expect(t, undone, "", all, "DELETE FROM "+parent+" WHERE id IN (SELECT id FROM "+other+") OR code = 'd'")
}
