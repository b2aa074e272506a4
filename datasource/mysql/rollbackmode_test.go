package mysql_test

import (
	"testing"

	gomysql "github.com/go-sql-driver/mysql"

	"github.com/txcio/txc/datasource"
)

// Item: the rollback wrote images back under the DSN's sql_mode, which
// need not store them as they were. A row with key 0 in an
// AUTO_INCREMENT column (written under NO_AUTO_VALUE_ON_ZERO), once
// deleted, was re-inserted with a generated key: the read-back check
// failed and the transaction parked as needing manual action. An ENUM
// holding the empty string (an invalid value stored outside strict mode) or a DATE
// of ALLOW_INVALID_DATES failed every restoring write of its row, even
// of an UPDATE of another column, under a strict mode, and the rollback
// was retried for ever. The rollback now writes under a sql_mode that
// stores each value as given (what it stores is read back and compared
// anyway), whatever the DSN's.
func TestRollbackStoresImagesWhateverSQLMode(t *testing.T) {
	for _, mode := range []string{"", "STRICT_ALL_TABLES,NO_ZERO_DATE,NO_ZERO_IN_DATE,EMPTY_STRING_IS_NULL,PAD_CHAR_TO_FULL_LENGTH"} {
		t.Run(mode, func(t *testing.T) {
			e := newEnv(t, "")
			if mode != "" {
				// The rollback runs on the resource's phase-2 connections:
				// the strictest modes there (phase 1 refuses some of them).
				cfg, err := gomysql.ParseDSN(e.dsn)
				if err != nil {
					t.Fatal(err)
				}
				cfg.Params = map[string]string{"sql_mode": "'" + mode + "'"}
				c, err := gomysql.NewConnector(cfg)
				if err != nil {
					t.Fatal(err)
				}
				e.db.Close()
				e.db = e.open("", datasource.WithPhase2Connector(c))
			}
			auto := e.table("at_rm_ai", "CREATE TABLE {t} (id INT AUTO_INCREMENT PRIMARY KEY, n INT)",
				"SET STATEMENT sql_mode = 'NO_AUTO_VALUE_ON_ZERO' FOR INSERT INTO {t} VALUES (0, 1), (5, 2)")
			lax := e.table("at_rm_lax", "CREATE TABLE {t} (id INT PRIMARY KEY, e ENUM('a', 'b'), d DATE, c CHAR(4), s VARCHAR(4), n INT)",
				"SET STATEMENT sql_mode = 'ALLOW_INVALID_DATES' FOR INSERT INTO {t} VALUES (1, 'zz', '2020-02-31', 'x', '', 1), (2, 'a', '0000-00-00', '', '', 2)")
			e.expect(t, undone, "", []string{auto}, "DELETE FROM "+auto+" WHERE id = 0")
			e.expect(t, undone, "", []string{auto}, "UPDATE "+auto+" SET id = 9 WHERE id = 0")
			e.expect(t, undone, "", []string{lax}, "UPDATE "+lax+" SET n = n + 1")
			e.expect(t, undone, "", []string{lax}, "DELETE FROM "+lax)
		})
	}
}
