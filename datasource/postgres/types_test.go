package postgres_test

import (
	"testing"

	"github.com/txcio/txc"
)

// TestMoreTypesRestored: geometric, text-search, bit, network, xml, LSN,
// range and multirange, padded char, "char", name, oid, jsonb and json
// (duplicate keys kept), multidimensional and NULL-holding arrays come
// back exactly from an UPDATE's and a DELETE's rollback.
func TestMoreTypesRestored(t *testing.T) {
	e := newEnv(t)
	tb := e.table("pty", `CREATE TABLE {t} (id int PRIMARY KEY, n int,
		pt point, bx box, pg polygon, ci circle, li line, ls lseg, pa path,
		tv tsvector, tq tsquery, b5 bit(5), vb varbit, ma macaddr, m8 macaddr8, xm xml, lsn pg_lsn,
		r4 int4range, rz tstzrange, mr int4multirange, c3 char(3), ch "char", nm name, o oid, jb jsonb, js json, ia int[][], ta text[])`,
		`INSERT INTO {t} VALUES (1, 1, '(1.5,2)', '((0,0),(1,1))', '((0,0),(1,1),(2,0))', '<(1,1),2.5>', '{1,2,3}', '[(0,0),(1,1)]', '[(0,0),(1,1),(2,2)]',
		'a fat cat:3A', 'fat & rat', B'10101', B'1', '08:00:2b:01:02:03', '08:00:2b:01:02:03:04:05', '<a x="1">t</a>', '16/B374D848',
		'[1,5)', '["2020-01-01 00:00+00","2020-02-01 00:00+00")', '{[1,3),[5,7)}', 'ab', 'q', 'nm', 12345, '{"b":1,"a":[1,2]}', '{"a":1,"a":2}', '{{1,2},{3,4}}', '{"x,y","",NULL}'),
		(2, 2, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, 'empty', NULL, '{}', NULL, NULL, NULL, NULL, 'null', 'null', '{}', '{}')`)
	before := e.dump(tb)
	err, st := e.rollbackOne(e.db, "UPDATE "+tb+" SET n = 5 WHERE id = 1", "DELETE FROM "+tb+" WHERE id = 2", "UPDATE "+tb+" SET pt = '(9,9)', js = '{}' WHERE id = 1")
	if err != nil || st != txc.GlobalRollbacked {
		t.Fatal(err, st)
	}
	if got := e.dump(tb); got != before {
		t.Fatalf("before:\n%s\nafter:\n%s", before, got)
	}
}
