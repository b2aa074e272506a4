package mysql_test

import (
	"testing"

	"github.com/txcio/txc/datasource/dialecttest"
	txcmysql "github.com/txcio/txc/datasource/mysql"
)

// FuzzRecognize: no input makes the recognizer panic, every refusal is
// typed (txc.ErrUnsupported), and what it recognizes has a known kind
// (dialecttest.FuzzRecognize), from the statements of the statement tests
// and these seeds.
func FuzzRecognize(f *testing.F) {
	var seeds []string
	for _, c := range stmtCases {
		for _, st := range c.stmts {
			seeds = append(seeds, st.q)
		}
	}
	seeds = append(seeds,
		"", ";", "SELECT 1", "SELECT * FROM t WHERE id = ? FOR UPDATE", "SELECT * FROM a JOIN b USING (id) FOR UPDATE OF a",
		"INSERT INTO t VALUES (?, ?), (?, ?) ON DUPLICATE KEY UPDATE n = VALUES(n)", "REPLACE t SET a = 1",
		"UPDATE t SET a = ? WHERE b IN (?, ?, (SELECT ? FROM u)) ORDER BY c LIMIT ?",
		"DELETE t1, t2 FROM t1 JOIN t2 ON t1.id = t2.id WHERE t1.x = ?", "LOAD DATA INFILE 'x' INTO TABLE t",
		"CREATE TABLE t (id INT)", "WITH c AS (SELECT 1) UPDATE t SET a = 1", "SELECT ?, ? FROM DUAL",
		"INSERT INTO t (a) SELECT ? UNION SELECT ?", "UPDATE t SET id = id + ? WHERE id BETWEEN ? AND ?",
		"SET @a = ?", "SHOW TABLES", "/* c */ UPDATE `t``x` SET `a` = 'it''s' WHERE b = _utf8mb4'é' COLLATE utf8mb4_bin",
	)
	dialecttest.FuzzRecognize(f, txcmysql.Dialect{}.Recognize, seeds)
}
