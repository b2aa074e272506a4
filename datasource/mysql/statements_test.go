package mysql_test

import (
	"context"
	"database/sql"
	"strings"
	"testing"

	"github.com/txcio/txc"
)

type sqlArgs struct {
	q    string
	args []any
}

func s(q string, args ...any) sqlArgs { return sqlArgs{q, args} }

// stmtCase is a table (and an optional second one, {u}), its rows, and the
// statements one local transaction runs on them.
type stmtCase struct {
	name        string
	def, def2   string
	seed, seed2 []string
	stmts       []sqlArgs
}

const wide = `CREATE TABLE {t} (id BIGINT PRIMARY KEY, u BIGINT UNSIGNED, d DECIMAL(65,30), f FLOAT, g DOUBLE,
	dt DATETIME(6), ts TIMESTAMP(6) NULL DEFAULT NULL, tm TIME(6), y YEAR, s VARCHAR(50) CHARACTER SET utf8mb4,
	tx TEXT CHARACTER SET utf8mb4, b VARBINARY(20), bl BLOB, bt BIT(10), e ENUM('a','b'), st SET('x','y'), j JSON, nul VARCHAR(5) NULL)`

var wideSeed = []string{
	`INSERT INTO {t} VALUES (1, 18446744073709551615, '12345678901234567890123456789012345.123456789012345678901234567890',
	3.40282e38, 1.7976931348623157e308, '2024-02-29 23:59:59.999999', '2038-01-19 03:14:07.999999', '-838:59:59.000000',
	2155, '😀 ünï', 'text', x'00ff80', x'deadbeef00', b'1010101010', 'b', 'x,y', '{"a": [1, 2.5, "z"]}', '')`,
	`INSERT INTO {t} VALUES (-9223372036854775808, 0, -0.000000000000000000000000000001, -1.17549e-38, 5e-324,
	'1000-01-01 00:00:00', NULL, '00:00:00.000001', 1901, '', NULL, '', x'', b'0', 'a', '', 'null', NULL)`,
	`INSERT INTO {t} VALUES (9223372036854775807, 1, 0, 0.1, 0.1, '9999-12-31 23:59:59.999999', '1970-01-01 00:00:01', '838:59:59', 0,
	'a''b\\c', '', x'ff', NULL, b'1111111111', NULL, NULL, NULL, 'x')`,
}

const kv = "CREATE TABLE {t} (id INT PRIMARY KEY, n INT NOT NULL, s VARCHAR(20) NOT NULL DEFAULT 'dflt', UNIQUE KEY uk_s (s))"
const kvSeed = "INSERT INTO {t} VALUES (1, 10, 'a'), (2, 20, 'b'), (3, 30, 'c'), (4, 40, 'd')"
const autoInc = "CREATE TABLE {t} (id BIGINT AUTO_INCREMENT PRIMARY KEY, n INT NOT NULL DEFAULT 7, at DATETIME(6) NOT NULL DEFAULT '2020-01-01 00:00:00')"
const composite = "CREATE TABLE {t} (a INT NOT NULL, b VARCHAR(10) NOT NULL, n INT, PRIMARY KEY (a, b))"

var stmtCases = []stmtCase{
	{name: "insert/single", def: kv, seed: []string{kvSeed}, stmts: []sqlArgs{s("INSERT INTO {t} (id, n, s) VALUES (?, ?, ?)", 5, 50, "e")}},
	{name: "insert/multi-literal", def: kv, seed: []string{kvSeed}, stmts: []sqlArgs{s("INSERT INTO {t} VALUES (5, 50, 'e'), (6, 60 * 2, CONCAT('f', 'g')), (-7, -70, 'h')")}},
	{name: "insert/auto-increment", def: autoInc, seed: []string{"INSERT INTO {t} (n) VALUES (1), (2)"},
		stmts: []sqlArgs{s("INSERT INTO {t} (n) VALUES (?), (?), (DEFAULT)", 5, 6), s("INSERT INTO {t} VALUES (NULL, 9, DEFAULT)"), s("INSERT INTO {t} (id, n) VALUES (100, ?)", 8)}},
	{name: "insert/composite", def: composite, seed: []string{"INSERT INTO {t} VALUES (1, 'x', 1)"},
		stmts: []sqlArgs{s("INSERT INTO {t} VALUES (1, 'y', 2), (2, 'x', NULL)"), s("INSERT INTO {t} SET a = ?, b = ?, n = ?", 1, "x,z", 3)}},
	{name: "insert/defaults-and-expressions", def: autoInc, stmts: []sqlArgs{s("INSERT INTO {t} (n, at) VALUES (1 + ?, DEFAULT), (ABS(-3), '2021-06-01 12:00:00.5')", 2)}},
	{name: "insert/on-duplicate-key-update", def: kv, seed: []string{kvSeed},
		stmts: []sqlArgs{s("INSERT INTO {t} (id, n, s) VALUES (1, 0, 'a'), (5, 50, 'e'), (9, 90, 'b') ON DUPLICATE KEY UPDATE n = n + VALUES(n) + 1")}},
	{name: "insert/ignore", def: kv, seed: []string{kvSeed}, stmts: []sqlArgs{s("INSERT IGNORE INTO {t} (id, n, s) VALUES (1, 1, 'q'), (6, 60, 'f'), (7, 70, 'c')")}},
	{name: "insert/replace", def: kv, seed: []string{kvSeed}, stmts: []sqlArgs{s("REPLACE INTO {t} (id, n, s) VALUES (1, 11, 'a'), (8, 80, 'b'), (9, 90, 'i')")}},
	{name: "insert/select", def: kv, seed: []string{kvSeed}, stmts: []sqlArgs{s("INSERT INTO {t} (id, n, s) SELECT id + 10, n * 2, CONCAT(s, '2') FROM {t} WHERE id > ?", 2)}},
	{name: "insert/select-auto-increment", def: autoInc, seed: []string{"INSERT INTO {t} (n) VALUES (1), (2), (3)"}, stmts: []sqlArgs{s("INSERT INTO {t} (n) SELECT n + 10 FROM {t} WHERE n >= ?", 2)}},
	{name: "update/increment", def: kv, seed: []string{kvSeed}, stmts: []sqlArgs{s("UPDATE {t} SET n = n + ? WHERE id IN (?, ?)", 5, 1, 3)}},
	{name: "update/expressions", def: kv, seed: []string{kvSeed}, stmts: []sqlArgs{s("UPDATE {t} AS x SET x.n = CASE WHEN x.id BETWEEN ? AND ? THEN x.n * 2 ELSE -1 END, s = CONCAT(s, ?) WHERE x.s <> ?", 2, 3, "!", "d")}},
	{name: "update/order-limit", def: kv, seed: []string{kvSeed}, stmts: []sqlArgs{s("UPDATE {t} SET n = 0 WHERE n > ? ORDER BY id DESC LIMIT ?", 15, 2)}},
	{name: "update/primary-key", def: kv, seed: []string{kvSeed}, stmts: []sqlArgs{s("UPDATE {t} SET id = id + 100, n = n + 1 WHERE id <= ?", 2), s("UPDATE {t} SET id = 3 WHERE id = 3")}},
	{name: "update/swap-keys", def: kv, seed: []string{kvSeed}, stmts: []sqlArgs{s("UPDATE {t} SET id = id * -1 WHERE id IN (3, 4)")}},
	{name: "update/join", def: kv, seed: []string{kvSeed}, def2: kv, seed2: []string{"INSERT INTO {u} VALUES (1, 100, 'a'), (3, 300, 'c'), (5, 500, 'e')"},
		stmts: []sqlArgs{s("UPDATE {t} a JOIN {u} b ON a.id = b.id AND b.n > ? SET a.n = a.n + b.n, b.s = CONCAT(b.s, a.s)", 150)}},
	{name: "update/wide", def: wide, seed: wideSeed, stmts: []sqlArgs{
		s("UPDATE {t} SET u = u - 1, d = d / 3, f = f / 2, g = g / 3, dt = '2030-05-06 07:08:09.123456', ts = '2001-02-03 04:05:06.7', tm = '-00:00:01', y = 2000, s = CONCAT(s, '🙂'), tx = NULL, b = UNHEX('0000'), bl = REPEAT(x'ab', 5000), bt = b'1', e = 'a', st = 'y', j = JSON_ARRAY(1, 'two'), nul = NULL WHERE id = ?", 1),
		s("UPDATE {t} SET nul = '', s = NULL, f = f * 3 WHERE id <> ?", 1)}},
	{name: "delete/wide", def: wide, seed: wideSeed, stmts: []sqlArgs{s("DELETE FROM {t} WHERE id < ?", 9223372036854775807)}},
	{name: "delete/order-limit", def: kv, seed: []string{kvSeed}, stmts: []sqlArgs{s("DELETE FROM {t} WHERE n >= ? ORDER BY n DESC, id LIMIT 2", 10)}},
	{name: "delete/join", def: kv, seed: []string{kvSeed}, def2: kv, seed2: []string{"INSERT INTO {u} VALUES (1, 100, 'a'), (3, 300, 'c'), (5, 500, 'e')"},
		stmts: []sqlArgs{s("DELETE a, b FROM {t} a JOIN {u} b ON a.id = b.id WHERE b.n < ?", 400)}},
	{name: "delete/using", def: kv, seed: []string{kvSeed}, def2: kv, seed2: []string{"INSERT INTO {u} VALUES (2, 100, 'a')"},
		stmts: []sqlArgs{s("DELETE FROM a USING {t} AS a JOIN {u} AS b ON a.id = b.id")}},
	{name: "insert-wide-and-mixed", def: wide, seed: wideSeed, stmts: []sqlArgs{
		s("INSERT INTO {t} (id, u, d, f, g, dt, ts, tm, y, s, tx, b, bl, bt, e, st, j, nul) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
			5, uint64(1<<63), "-99999999999999999999999999999999999.999999999999999999999999999999", float32(1.5e-7), 2.5e-300,
			"2000-01-01 00:00:00.000001", "2020-02-02 02:02:02", "12:34:56.7", 1999, "日本", "x", []byte{0, 1, 2}, []byte{}, uint64(3), "b", "x", `{"k": null}`, nil),
		s("UPDATE {t} SET g = -g WHERE id = 5"), s("DELETE FROM {t} WHERE id = ?", 1)}},
	{name: "several/statements", def: kv, seed: []string{kvSeed}, stmts: []sqlArgs{
		s("UPDATE {t} SET n = n + 1 WHERE id = ?", 1), s("UPDATE {t} SET n = n + 1 WHERE id = ?", 1), s("DELETE FROM {t} WHERE id = ?", 2),
		s("INSERT INTO {t} VALUES (2, 22, 'bb')"), s("UPDATE {t} SET s = 'b' WHERE id = 2"), s("SELECT n FROM {t} WHERE id = ? FOR UPDATE", 3)}},
}

func (c stmtCase) tables(e *env) (string, string) {
	e.t.Helper()
	t := e.table("at_st", c.def, c.seed...)
	u := ""
	if c.def2 != "" {
		u = e.table("at_st2", c.def2)
		for _, sd := range c.seed2 {
			if _, err := e.plain.Exec(strings.ReplaceAll(sd, "{u}", u)); err != nil {
				e.t.Fatal(err)
			}
		}
	}
	return t, u
}

func (c stmtCase) run(ctx context.Context, db *sql.DB, t, u string, prepared bool) error {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	for _, st := range c.stmts {
		q := strings.NewReplacer("{t}", t, "{u}", u).Replace(st.q)
		if strings.HasPrefix(q, "SELECT") {
			rows, err := tx.QueryContext(ctx, q, st.args...)
			if err == nil {
				for rows.Next() {
				}
				err = rows.Close()
			}
			if err != nil {
				tx.Rollback()
				return err
			}
			continue
		}
		if prepared {
			ps, err := tx.PrepareContext(ctx, q)
			if err != nil {
				tx.Rollback()
				return err
			}
			_, err = ps.ExecContext(ctx, st.args...)
			ps.Close()
			if err != nil {
				tx.Rollback()
				return err
			}
			continue
		}
		if _, err := tx.ExecContext(ctx, q, st.args...); err != nil {
			tx.Rollback()
			return err
		}
	}
	return tx.Commit()
}

// TestStatements: every supported statement kind, with server-prepared and
// client-interpolated placeholders and with explicit prepared statements,
// commits to exactly what the same statements do without the proxy, and
// rolls back to exactly the rows before (full table dumps compared).
func TestStatements(t *testing.T) { runStmtCases(t, stmtCases) }

// runStmtCases runs each case with server-prepared and client-interpolated
// placeholders and with explicit prepared statements: committed, the
// tables must equal those of the same statements run without the proxy;
// rolled back, their seed.
func runStmtCases(t *testing.T, cases []stmtCase) {
	for _, mode := range []struct{ name, params string }{{"prepared", ""}, {"interpolated", "interpolateParams=true"}, {"explicit-prepare", ""}} {
		t.Run(mode.name, func(t *testing.T) {
			e := newEnv(t, mode.params)
			explicit := mode.name == "explicit-prepare"
			for _, c := range cases {
				t.Run(c.name, func(t *testing.T) {
					e.t = t
					// Commit: the proxy changes what a plain run changes.
					pt, pu := c.tables(e)
					if err := c.run(context.Background(), e.plain, pt, pu, explicit); err != nil {
						t.Fatalf("plain run: %v", err)
					}
					at, au := c.tables(e)
					xid, err := e.global(func(ctx context.Context) error { return c.run(ctx, e.db, at, au, explicit) })
					if err != nil {
						t.Fatalf("global run: %v", err)
					}
					e.wait(xid, txc.GlobalCommitted)
					if got, want := e.dump(at), e.dump(pt); got != want {
						t.Fatalf("committed:\n%s\nplain run:\n%s", got, want)
					}
					if au != "" {
						if got, want := e.dump(au), e.dump(pu); got != want {
							t.Fatalf("committed {u}:\n%s\nplain run:\n%s", got, want)
						}
					}
					// Rollback: every row back, byte for byte.
					rt, ru := c.tables(e)
					seed, seed2 := e.dump(rt), ""
					if ru != "" {
						seed2 = e.dump(ru)
					}
					xid = e.rollBack(func(ctx context.Context) error { return c.run(ctx, e.db, rt, ru, explicit) })
					if got := e.dump(rt); got != seed {
						t.Fatalf("rolled back:\n%s\nbefore:\n%s", got, seed)
					}
					if ru != "" {
						if got := e.dump(ru); got != seed2 {
							t.Fatalf("rolled back {u}:\n%s\nbefore:\n%s", got, seed2)
						}
					}
					if n := e.undoRows(xid); n != 0 {
						t.Fatalf("%d undo rows left after rollback", n)
					}
				})
			}
		})
	}
}
