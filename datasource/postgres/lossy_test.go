package postgres_test

import (
	"testing"

	"github.com/txcio/txc"
	"github.com/txcio/txc/internal/dbtest"
)

// TestSearchPathTypeRefused: a regclass value imaged on a session whose
// search_path finds the object unqualified ('obj' for s.obj) was put back
// by the rollback's session, whose search_path found public.obj: the
// reinserted row named another table, read back as the same text, and
// the rollback reported success. Such columns (and money, domains,
// arrays and composites over either) are refused before the write runs.
func TestSearchPathTypeRefused(t *testing.T) {
	e := newEnv(t)
	s := e.newSchema("lossy_s")
	obj := e.table("lossy_obj", "CREATE TABLE public.{t} (x int)", "CREATE TABLE "+s+".{t} (x int)")
	tb := "public." + e.table("lossy_r", "CREATE TABLE public.{t} (id int PRIMARY KEY, r regclass)",
		"INSERT INTO public.{t} VALUES (1, '"+s+"."+obj+"')")
	before := e.dump(tb)
	db := e.open("search_path=" + s + ",public")
	err, _ := e.rollbackOne(db, "DELETE FROM "+tb+" WHERE id = 1")
	wantRefused(t, err, `column "r" of `+tb+" is regclass, whose text depends on search_path")
	if got := e.dump(tb); got != before {
		t.Fatalf("before:\n%s\nafter:\n%s", before, got)
	}
}

// TestLossyTypeInsideRefused: a column whose type holds money or a
// search_path-dependent reg* type inside a domain, an array, a composite
// or a range is refused like the type itself; regrole and regnamespace
// name global objects and are restored.
func TestLossyTypeInsideRefused(t *testing.T) {
	e := newEnv(t)
	dom, comp, rng := dbtest.Name("lossy_d"), dbtest.Name("lossy_c"), dbtest.Name("lossy_g")
	e.exec("CREATE DOMAIN "+dom+" AS money CHECK (VALUE > 0::money)",
		"CREATE TYPE "+comp+" AS (a int, b regtype[])",
		"CREATE TYPE "+rng+" AS RANGE (subtype = "+dom+")")
	t.Cleanup(func() {
		e.plain.Exec("DROP TYPE IF EXISTS " + comp + ", " + rng + " CASCADE")
		e.plain.Exec("DROP DOMAIN IF EXISTS " + dom + " CASCADE")
	})
	for _, c := range []struct{ typ, reason string }{
		{dom, "holds money, whose text depends on lc_monetary"},
		{"money[]", "holds money"},
		{comp, "holds regtype, whose text depends on search_path"},
		{comp + "[]", "holds regtype"},
		{rng, "holds money"},
		{"regproc", "is regproc"},
	} {
		tb := e.table("lossy_i", "CREATE TABLE {t} (id int PRIMARY KEY, n int, v "+c.typ+")", "INSERT INTO {t} (id, n) VALUES (1, 1)")
		before := e.dump(tb)
		err, _ := e.rollbackOne(e.db, "UPDATE "+tb+" SET n = 2 WHERE id = 1")
		wantRefused(t, err, c.reason)
		if got := e.dump(tb); got != before {
			t.Fatalf("%s: changed:\n%s", c.typ, got)
		}
	}
	tb := e.table("lossy_ok", "CREATE TABLE {t} (id int PRIMARY KEY, r regrole, s regnamespace[])",
		"INSERT INTO {t} VALUES (1, 'postgres', '{public,pg_catalog}')")
	before := e.dump(tb)
	if err, st := e.rollbackOne(e.db, "DELETE FROM "+tb); err != nil || st != txc.GlobalRollbacked {
		t.Fatal(err, st)
	}
	if got := e.dump(tb); got != before {
		t.Fatalf("before:\n%s\nafter:\n%s", before, got)
	}
}
