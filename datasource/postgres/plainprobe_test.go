package postgres

import (
	"context"
	"database/sql"
	"fmt"
	"reflect"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"

	"github.com/txcio/txc/internal/dbtest"
)

// TestPlainProbeSameAnswer: for plain tables in every state the probe
// tells apart (triggers enabled and disabled, a rule, cascading and plain
// foreign keys referencing them, an inheritance parent and a child with
// a trigger and a rule, row-level security, unique, partial and
// expression indexes, dropped and generated columns), plainProbe answers
// exactly what the full probe answers, under READ COMMITTED and
// REPEATABLE READ. For a partitioned
// table and a partition it says the relation is not plain, so that the
// caller asks again with the full form.
func TestPlainProbeSameAnswer(t *testing.T) {
	db := dbtest.Postgres(t)
	name := func(p string) string { return dbtest.Name(p) }
	mk := func(stmts ...string) {
		t.Helper()
		for _, s := range stmts {
			if _, err := db.Exec(s); err != nil {
				t.Fatalf("%s: %v", s, err)
			}
		}
	}
	var drops []string
	t.Cleanup(func() {
		for i := len(drops) - 1; i >= 0; i-- {
			db.Exec("DROP TABLE IF EXISTS " + drops[i] + " CASCADE")
		}
	})
	table := func(prefix, def string, more ...string) string {
		n := name(prefix)
		drops = append(drops, n)
		mk(fmt.Sprintf(def, n))
		for _, m := range more {
			mk(fmt.Sprintf(m, n))
		}
		return n
	}
	fn := name("pp_fn")
	mk("CREATE FUNCTION " + fn + "() RETURNS trigger LANGUAGE plpgsql AS $$BEGIN RETURN NEW; END$$")
	t.Cleanup(func() { db.Exec("DROP FUNCTION IF EXISTS " + fn + " CASCADE") })
	plain := []string{
		table("pp_bare", "CREATE TABLE %s (id int PRIMARY KEY, v text)"),
		table("pp_nokey", "CREATE TABLE %s (v text, w int NOT NULL DEFAULT 1)"),
		table("pp_idx", "CREATE TABLE %s (id int PRIMARY KEY, a int UNIQUE, b int, c text GENERATED ALWAYS AS (b::text) STORED)",
			"CREATE UNIQUE INDEX ON %s (b) WHERE b > 0", "CREATE INDEX ON %s (lower(c))", "ALTER TABLE %s DROP COLUMN c"),
		table("pp_trg", "CREATE TABLE %s (id int PRIMARY KEY)", "CREATE TRIGGER t BEFORE INSERT ON %s FOR EACH ROW EXECUTE FUNCTION "+fn+"()"),
		table("pp_trgoff", "CREATE TABLE %s (id int PRIMARY KEY)", "CREATE TRIGGER t BEFORE INSERT ON %s FOR EACH ROW EXECUTE FUNCTION "+fn+"()",
			"ALTER TABLE %s DISABLE TRIGGER t"),
		table("pp_rule", "CREATE TABLE %s (id int PRIMARY KEY)", "CREATE RULE r AS ON DELETE TO %s DO INSTEAD NOTHING"),
		table("pp_rls", "CREATE TABLE %s (id int PRIMARY KEY)", "ALTER TABLE %s ENABLE ROW LEVEL SECURITY", "ALTER TABLE %s FORCE ROW LEVEL SECURITY"),
		table("pp_identity", "CREATE TABLE %s (id int GENERATED ALWAYS AS IDENTITY PRIMARY KEY, s serial, v numeric(10,2))"),
	}
	parent := table("pp_parent", "CREATE TABLE %s (id int PRIMARY KEY, k int UNIQUE)")
	plain = append(plain, parent,
		table("pp_cascade", "CREATE TABLE %s (id int PRIMARY KEY, p int REFERENCES "+parent+" ON DELETE CASCADE ON UPDATE SET NULL, q int REFERENCES "+parent+"(k) DEFERRABLE)"),
		table("pp_inhparent", "CREATE TABLE %s (id int PRIMARY KEY)"))
	plain = append(plain, table("pp_inhchild", "CREATE TABLE %s (x int) INHERITS ("+plain[len(plain)-1]+")",
		"CREATE TRIGGER t BEFORE INSERT ON %s FOR EACH ROW EXECUTE FUNCTION "+fn+"()",
		"CREATE RULE r AS ON DELETE TO %s DO INSTEAD NOTHING"))
	parted := table("pp_parted", "CREATE TABLE %s (id int PRIMARY KEY) PARTITION BY RANGE (id)")
	part := table("pp_part", "CREATE TABLE %s PARTITION OF "+parted+" FOR VALUES FROM (0) TO (10)")

	c := pgxConnOf(t, db)
	for _, n := range plain {
		rel := quoteIdent(n)
		for _, iso := range []string{"READ COMMITTED", "REPEATABLE READ"} {
			full := probeRow(t, c, iso, probeSQL(rel), rel)
			if got := probeRow(t, c, iso, plainProbe(rel), rel); !reflect.DeepEqual(got, full) {
				t.Errorf("%s (%s): plainProbe answers\n%v\nthe full probe\n%v", n, iso, got, full)
			}
		}
		full := probeRow(t, c, "READ COMMITTED", probeSQL(rel), rel)
		if full[3] != "r" || full[len(full)-1] != false {
			t.Errorf("%s: kind %v, partition %v: not a plain table to the probe", n, full[3], full[len(full)-1])
		}
	}
	for _, n := range []string{parted, part} {
		rel := quoteIdent(n)
		got := probeRow(t, c, "READ COMMITTED", plainProbe(rel), rel)
		if got[3] == "r" && got[len(got)-1] == false {
			t.Errorf("%s: plainProbe finds a plain table that is no partition", n)
		}
	}
}

// probeRow runs the write's lock and the probe query q for rel in one
// transaction of isolation level iso on c, and returns the probe's one
// row.
func probeRow(t *testing.T, c *pgx.Conn, iso, q, rel string) []any {
	t.Helper()
	ctx := context.Background()
	tx, err := c.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(ctx)
	for _, s := range []string{"SET TRANSACTION ISOLATION LEVEL " + iso, lockSQL(rel)} {
		if _, err := tx.Exec(ctx, s); err != nil {
			t.Fatal(err)
		}
	}
	rows, err := tx.Query(ctx, q, rel)
	if err != nil {
		t.Fatalf("%s: %v", rel, err)
	}
	defer rows.Close()
	if !rows.Next() {
		t.Fatalf("%s: no row (%v)", rel, rows.Err())
	}
	v, err := rows.Values()
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// pgxConnOf returns a pgx connection of db kept for the test.
func pgxConnOf(t *testing.T, db *sql.DB) *pgx.Conn {
	t.Helper()
	conn, err := db.Conn(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	var c *pgx.Conn
	if err := conn.Raw(func(dc any) error { c = dc.(*stdlib.Conn).Conn(); return nil }); err != nil {
		t.Fatal(err)
	}
	return c
}

// TestProbeTextsPrebuilt: the probe texts built once and completed with
// the relation's name are the texts built for it.
func TestProbeTextsPrebuilt(t *testing.T) {
	for f := range probeForms {
		for _, rel := range []string{`"t"`, `"s"."a b"`, `x`} {
			if got, want := probeQuery(rel, f), buildProbe(rel, f); got != want {
				t.Errorf("form %d, %s: prebuilt text differs", f, rel)
			}
		}
	}
}
