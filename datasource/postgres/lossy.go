package postgres

// Column types whose text the rollback could read back as another value:
// their output and input depend on a session setting of the session that
// reads or writes them, and phase 1 images a row on the application's
// session while the rollback writes it back on a phase-2 one.
//
//   - money: its text follows lc_monetary.
//   - the reg* types that name a schema object (regclass, regtype, …):
//     their text is the object's name, qualified only when the session's
//     search_path would not find it. A row imaged under search_path s
//     holds 'tbl' for s.tbl; the rollback's session reads 'tbl' as the
//     tbl its own search_path finds (public.tbl, or none), so it put back
//     another object's OID and read back the same text (a review found
//     it). regnamespace and regrole name global objects and stay exact.
//
// A column holds such a type when its type is one, or is a domain, array,
// range, multirange or composite type over one, at any depth: each is
// written back through its text form.

// lossyTypeQuery is a scalar sub-select of loadColumns' query: the name
// of a type listed above that the type of column a holds, or NULL.
const lossyTypeQuery = `(WITH RECURSIVE parts(typ) AS (SELECT a.atttypid
  UNION SELECT s.sub FROM parts p JOIN pg_catalog.pg_type t ON t.oid = p.typ
  CROSS JOIN LATERAL (SELECT t.typbasetype UNION ALL SELECT t.typelem
   UNION ALL SELECT r.rngsubtype FROM pg_catalog.pg_range r WHERE r.rngtypid = t.oid
   UNION ALL SELECT r.rngtypid FROM pg_catalog.pg_range r WHERE r.rngmultitypid = t.oid
   UNION ALL SELECT ca.atttypid FROM pg_catalog.pg_attribute ca WHERE ca.attrelid = t.typrelid AND ca.attnum > 0 AND NOT ca.attisdropped) s(sub)
  WHERE s.sub <> 0)
 SELECT min(t.typname::text) FROM parts p JOIN pg_catalog.pg_type t ON t.oid = p.typ
 WHERE t.typnamespace = 'pg_catalog'::pg_catalog.regnamespace AND t.typname IN ('money',
  'regclass', 'regcollation', 'regconfig', 'regdictionary', 'regoper', 'regoperator', 'regproc', 'regprocedure', 'regtype'))`

// lossyWhy completes "column %q of %s …" for a column holding the lossy
// type typ (a name lossyTypeQuery returns).
func lossyWhy(typ, colType string) string {
	holds := "is"
	if typ != colType {
		holds = "holds"
	}
	if typ == "money" {
		return holds + " money, whose text depends on lc_monetary: its image could be restored as another amount"
	}
	return holds + " " + typ + ", whose text depends on search_path: its image could be restored as another object"
}
