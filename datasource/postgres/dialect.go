package postgres

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/stdlib"

	"github.com/txcio/txc"
	"github.com/txcio/txc/datasource"
	"github.com/txcio/txc/datasource/undo"
)

// Dialect is the PostgreSQL dialect of the proxy, over
// github.com/jackc/pgx/v5/stdlib. The zero value is ready; it holds no
// per-connection state.
type Dialect struct{}

var _ datasource.Dialect = Dialect{}

func (Dialect) Name() string       { return "postgres" }
func (Dialect) Undo() undo.Dialect { return undo.Postgres }

// Owns reports whether d is pgx's database/sql driver.
func (Dialect) Owns(d driver.Driver) bool {
	_, ok := d.(*stdlib.Driver)
	return ok
}

// QuoteTable quotes a table name as LoadTable records it (Table.Name:
// schema and table, each bare when it is a plain lower-case identifier and
// double-quoted otherwise, joined by '.'), every part double-quoted.
func (Dialect) QuoteTable(name string) string {
	parts, ok := splitName(name)
	if !ok {
		return quoteIdent(name)
	}
	for i, p := range parts {
		parts[i] = quoteIdent(p)
	}
	return strings.Join(parts, ".")
}

func (Dialect) QuoteColumn(name string) string { return quoteIdent(name) }
func (Dialect) Placeholder(n int) string       { return "$" + strconv.Itoa(n) }

// Param writes v back through placeholder ph ("$n"), with the cast
// undo.PostgresParam chooses.
func (Dialect) Param(v undo.Value, ph string) (string, any, error) {
	n, err := strconv.Atoi(strings.TrimPrefix(ph, "$"))
	if err != nil || !strings.HasPrefix(ph, "$") {
		return "", nil, txc.Errorf(txc.CodeInternal, "datasource/postgres: placeholder %q is not $n", ph)
	}
	return undo.PostgresParam(v, n)
}

func (Dialect) ScanRow(rows *sql.Rows, cols []*sql.ColumnType) (undo.Row, error) {
	return undo.ScanPostgresRow(rows, cols)
}

func (Dialect) Value(typ string, src any) (undo.Value, error) { return undo.PostgresValue(typ, src) }

var _ datasource.RollbackSession = Dialect{}

// RollbackSession pins, on the connection of a rollback, the settings
// under which phase 1 read its images as text (see settings.check), so
// that the current rows are read, and the images written back, the same
// way, and the text of images is read back as the values phase 1 read
// whatever the phase-2 user's defaults (array_nulls off read a NULL
// element back as the string "NULL", xmloption document refused an XML
// fragment). The TimeZone, which phase 1 does not pin, is set per undo log
// (see SetTimeZone). row_security off makes a statement that row-level
// security would filter fail instead (the rollback is then retried): phase
// 1 refuses writes to tables it filters for the phase-2 user, but that
// user's rights or the table's security may change before the rollback,
// and a filtered read would take rows for deleted. The rollback's
// transaction is READ COMMITTED whatever the role's or database's default,
// so that its catalog checks (RestoreHazards, after its lock) see the
// catalogs its writes act on, not a snapshot taken before the lock.
func (Dialect) RollbackSession() (setup, restore []string) {
	return []string{"SET standard_conforming_strings = on", "SET DateStyle = ISO", "SET IntervalStyle = postgres", "SET extra_float_digits = 1", "SET client_encoding = 'UTF8'",
			"SET bytea_output = hex", "SET array_nulls = on", "SET xmloption = content",
			"SET row_security = off", "SET default_transaction_isolation = 'read committed'"},
		[]string{"RESET standard_conforming_strings", "RESET DateStyle", "RESET IntervalStyle", "RESET extra_float_digits", "RESET client_encoding",
			"RESET bytea_output", "RESET array_nulls", "RESET xmloption", "RESET row_security",
			"RESET default_transaction_isolation"}
}

var _ datasource.SessionTimeZone = Dialect{}

// TimeZoneQuery reads the session's TimeZone as PostgreSQL shows it (a
// form set_config accepts back, such as "Asia/Tokyo" or "<+05:30>-05:30").
// See datasource.SessionTimeZone: phase 1 records the zone its images were
// read in with the undo log (see imageZone), and a rollback of that log
// reads and compares the current rows in it.
func (Dialect) TimeZoneQuery() string { return "SELECT pg_catalog.current_setting('TimeZone')" }

// SetTimeZone sets the session's TimeZone (not a transaction-local one)
// to its one argument: run inside a transaction it holds after that
// transaction commits, and is undone if it rolls back. A function call
// rather than SET, which takes no placeholders.
func (Dialect) SetTimeZone() string { return "SELECT pg_catalog.set_config('TimeZone', $1, false)" }

// Stale reports the errors of a statement that met a table other than its
// cached metadata: undefined column (42703) or table (42P01), a datatype
// mismatch (42804), a prepared plan whose result type changed (0A000).
func (Dialect) Stale(err error) bool {
	var pe *pgconn.PgError
	if !errors.As(err, &pe) {
		return false
	}
	switch pe.Code {
	case "42703", "42P01", "42804":
		return true
	case "0A000":
		return strings.Contains(pe.Message, "cached plan")
	}
	return false
}

// plainIdent reports whether s is written the same bare and quoted (a
// lower-case identifier), as far as Table.Name's format is concerned.
func plainIdent(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c == '_':
		case (c >= '0' && c <= '9') || c == '$':
			if i == 0 {
				return false
			}
		default:
			return false
		}
	}
	return true
}

// nameOf is the Table.Name of schema.table.
func nameOf(schema, table string) string {
	part := func(s string) string {
		if plainIdent(s) {
			return s
		}
		return quoteIdent(s)
	}
	return part(schema) + "." + part(table)
}

// splitName parses a name written by nameOf back into its parts.
func splitName(name string) ([]string, bool) {
	var parts []string
	for i := 0; ; {
		if i >= len(name) {
			return nil, false
		}
		var part string
		if name[i] == '"' {
			var sb strings.Builder
			j := i + 1
			for {
				if j >= len(name) {
					return nil, false
				}
				if name[j] == '"' {
					if j+1 < len(name) && name[j+1] == '"' {
						sb.WriteByte('"')
						j += 2
						continue
					}
					break
				}
				sb.WriteByte(name[j])
				j++
			}
			part, i = sb.String(), j+1
		} else {
			j := i
			for j < len(name) && name[j] != '.' {
				j++
			}
			part, i = name[i:j], j
			if !plainIdent(part) {
				return nil, false
			}
		}
		parts = append(parts, part)
		if i == len(name) {
			return parts, true
		}
		if name[i] != '.' {
			return nil, false
		}
		i++
	}
}

// tableInfo is what the executors need beyond datasource.Table.
type tableInfo struct {
	types map[string]string // column → type as format_type prints it
	lossy map[string]string // column → the lossy type it holds (lossy.go)
	keys  []uniqueKey       // primary key first, then unique keys
	probe                   // what the metadata was read from
}

// uniqueKey is a unique, non-partial index on plain columns (an ON
// CONFLICT arbiter candidate).
type uniqueKey struct {
	index, constraint string
	primary           bool
	cols              []string
	// inexact: the index finds conflicts other than the columns' own
	// equality would (see inexactKeySQL).
	inexact bool
}

// inexactKeySQL, in loadKeys' query, tells a unique index i whose
// conflicts are not the rows equal on its columns: NULLS NOT DISTINCT (a
// NULL meets the row holding NULL, which "= NULL" finds not), or a column
// indexed under another collation than its own (a nondeterministic one:
// 'A' meets 'a'). ON CONFLICT DO UPDATE's before image looks its rows up
// by the columns' equality, so it would miss the rows such an index has
// the statement update.
const inexactKeySQL = `(i.indnullsnotdistinct OR EXISTS (SELECT 1
  FROM ROWS FROM (pg_catalog.unnest(i.indkey::int2[]), pg_catalog.unnest(i.indcollation::pg_catalog.oid[])) ic(attnum, coll)
  JOIN pg_catalog.pg_attribute ca ON ca.attrelid = i.indrelid AND ca.attnum = ic.attnum WHERE ic.coll <> ca.attcollation))`

// info returns the extra metadata LoadTable recorded for t (its Dialect
// field).
func info(t *datasource.Table) (*tableInfo, error) {
	if in, ok := t.Dialect.(*tableInfo); ok {
		return in, nil
	}
	return nil, txc.Errorf(txc.CodeInternal, "datasource/postgres: table %s was not loaded by this dialect", t.Name)
}

// probe is what one catalog query tells about a table: which table a
// name means on the connection, a fingerprint of everything its metadata
// depends on, and the features AT mode must refuse, over the whole
// partition tree (a partition may have triggers, rules and referencing
// foreign keys of its own).
type probe struct {
	oid          int64
	schema, name string
	kind         string // relkind
	fingerprint  string // md5 of columns, keys, constraints and row-level security
	triggers     bool   // user triggers (enabled, not internal)
	rules        bool   // rewrite rules
	// cascadeDelete lists the action triggers (oid and deferrability)
	// of the foreign keys referencing the table that cascade, or set
	// NULL/DEFAULT, on delete ("": none); cascadeUpdate, on update. A key
	// added, dropped or made (not) deferrable changes them.
	cascadeDelete, cascadeUpdate string
	inheritParent                bool // a plain table with inheritance children
	rowSecurity                  bool // row-level security is enabled on the table (its owner, FORCE and enabling are fingerprinted)
	// lockRoot is, for a partition, the schema and name of the topmost
	// partitioned table above it with a primary key (the same key: a
	// partition's is attached to it), which its rows' lock keys name.
	lockRoot []string
	// partition is relispartition: the table is a partition.
	partition bool
}

// plain reports whether the probe found a plain table that is no
// partition, which plainProbe describes as the full probe does.
func (p probe) plain() bool { return p.kind == "r" && !p.partition }

// probeSQL is the query of probeTable for a relation written rel. It
// names rel in a sub-select, so it resolves rel exactly as a statement
// would (through the connection's search_path when unqualified) and takes
// the ACCESS SHARE lock a statement would, which keeps DDL that rewrites
// the table (ALTER TABLE, DROP, CREATE RULE) out until the local
// transaction ends; a write also locks rel first (see probeTable).
// Referential actions (CASCADE, SET NULL, SET DEFAULT) are found through
// the action triggers PostgreSQL keeps on the referenced table and each of
// its partitions (pg_trigger is indexed by table; pg_constraint is not
// indexed by referenced table, and scanning it once per local transaction
// was the probe's largest cost).
func probeSQL(rel string) string { return probeQuery(rel, probeFull) }

// probeForm says which form of the probe query to build.
type probeForm int

const (
	probeFull probeForm = iota
	// probeLockFree takes no lock on the table or its partitions
	// (pg_partition_tree and reading the table would take ACCESS SHARE):
	// for a second session asking while the first holds the write's lock
	// (see freshProbe), which must not queue behind DDL that is itself
	// waiting for the first. Its lock column is NULL.
	probeLockFree
	// probePlain is the cheaper form for a plain table that is no
	// partition (see plainProbe).
	probePlain
	probeForms
)

// plainProbe is the probe's form for a plain table that is no partition,
// which is what most written tables are: its partition tree is the table
// alone and it has no ancestors, so the catalogs are joined on its OID
// directly. Its answer is the same as probeSQL's for such a table, column
// for column (TestPlainProbeSameAnswer); for any other relation it is not
// to be used (probe.plain says so, and the caller asks again with the
// full form). It still reads the table, even after lockSQL: the name
// resolves again in each statement, and a table of that name created
// meanwhile earlier in the search_path would be described but not locked.
func plainProbe(rel string) string { return probeQuery(rel, probePlain) }

// probeTexts holds each form's text split where the relation's name goes,
// built once: a probe is sent in every local transaction that writes.
var probeTexts = func() (t [probeForms][2]string) {
	const mark = "\x00rel\x00"
	for f := range probeForms {
		before, after, _ := strings.Cut(buildProbe(mark, f), mark)
		t[f] = [2]string{before, after}
	}
	return t
}()

// probeQuery is the probe query of form f for the relation rel.
func probeQuery(rel string, f probeForm) string {
	t := probeTexts[f]
	if t[1] == "" { // the form names no relation (probeLockFree)
		return t[0]
	}
	return t[0] + rel + t[1]
}

// buildProbe builds the probe query of form f for the relation rel.
func buildProbe(rel string, f probeForm) string {
	with, tree := `WITH`, `,
tree AS (SELECT t.oid AS relid FROM t UNION SELECT p.relid FROM t, pg_catalog.pg_partition_tree(t.oid) p)`
	read := `(SELECT 1 FROM ` + rel + ` LIMIT 0)`
	in := `JOIN tree ON %s = tree.relid WHERE`
	root := `CASE WHEN t.relispartition THEN (SELECT ARRAY[an.nspname::text, ac.relname::text]
  FROM pg_catalog.pg_partition_ancestors(t.oid) WITH ORDINALITY a(relid, ord)
  JOIN pg_catalog.pg_class ac ON ac.oid = a.relid JOIN pg_catalog.pg_namespace an ON an.oid = ac.relnamespace
  WHERE EXISTS (SELECT 1 FROM pg_catalog.pg_index i WHERE i.indrelid = a.relid AND i.indisprimary)
  ORDER BY a.ord DESC LIMIT 1) END`
	switch f {
	case probeLockFree:
		// Read back through the generic rows of a phase-2 connection:
		// the lock root as JSON (see freshProbe).
		root = `pg_catalog.array_to_json(` + root + `)::text`
		with, tree = `WITH RECURSIVE`, `,
tree(relid) AS (SELECT t.oid FROM t UNION SELECT h.inhrelid FROM tree
 JOIN pg_catalog.pg_inherits h ON h.inhparent = tree.relid JOIN pg_catalog.pg_class k ON k.oid = h.inhrelid AND k.relispartition)`
		read = `NULL::int`
	case probePlain:
		tree, in, root = ``, `WHERE %s = t.oid AND`, `NULL::text[]`
	}
	trig, rule := fmt.Sprintf(in, "g.tgrelid"), fmt.Sprintf(in, "r.ev_class")
	return with + ` t AS (SELECT c.oid, n.nspname, c.relname, c.relkind::text AS kind, c.relrowsecurity, c.relispartition,
 c.relrowsecurity::text || c.relforcerowsecurity::text || ' ' || c.relowner AS rls FROM pg_catalog.pg_class c
 JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace WHERE c.oid = pg_catalog.to_regclass($1))` + tree + `
SELECT t.oid::int8, t.nspname, t.relname, t.kind, pg_catalog.md5(pg_catalog.concat_ws('|', t.rls,
 (SELECT pg_catalog.string_agg(a.attnum || ' ' || a.attname || ' ' || a.atttypid || ' ' || a.atttypmod || ' ' || a.attgenerated::text || a.attidentity::text || a.attisdropped || a.atthasdef || a.attnotnull, ',' ORDER BY a.attnum)
  FROM pg_catalog.pg_attribute a WHERE a.attrelid = t.oid AND a.attnum > 0),
 (SELECT pg_catalog.string_agg(ic.relname || ' ' || i.indisunique || i.indisprimary || i.indisvalid || ' ' || i.indkey::text || ' ' || (i.indpred IS NULL) || (i.indexprs IS NULL), ',' ORDER BY ic.relname)
  FROM pg_catalog.pg_index i JOIN pg_catalog.pg_class ic ON ic.oid = i.indexrelid WHERE i.indrelid = t.oid),
 (SELECT pg_catalog.string_agg(con.conname || ' ' || con.contype::text || ' ' || con.conindid, ',' ORDER BY con.conname) FROM pg_catalog.pg_constraint con WHERE con.conrelid = t.oid))),
 EXISTS (SELECT 1 FROM pg_catalog.pg_trigger g ` + trig + ` NOT g.tgisinternal AND g.tgenabled <> 'D'),
 EXISTS (SELECT 1 FROM pg_catalog.pg_rewrite r ` + rule + ` r.rulename <> '_RETURN'),
 (SELECT COALESCE(pg_catalog.string_agg(g.oid || ' ' || g.tgdeferrable, ',' ORDER BY g.oid), '') FROM pg_catalog.pg_trigger g ` + trig + ` g.tgfoid IN (
  'pg_catalog."RI_FKey_cascade_del"'::pg_catalog.regproc, 'pg_catalog."RI_FKey_setnull_del"'::pg_catalog.regproc, 'pg_catalog."RI_FKey_setdefault_del"'::pg_catalog.regproc)),
 (SELECT COALESCE(pg_catalog.string_agg(g.oid || ' ' || g.tgdeferrable, ',' ORDER BY g.oid), '') FROM pg_catalog.pg_trigger g ` + trig + ` g.tgfoid IN (
  'pg_catalog."RI_FKey_cascade_upd"'::pg_catalog.regproc, 'pg_catalog."RI_FKey_setnull_upd"'::pg_catalog.regproc, 'pg_catalog."RI_FKey_setdefault_upd"'::pg_catalog.regproc)),
 t.kind = 'r' AND EXISTS (SELECT 1 FROM pg_catalog.pg_inherits h WHERE h.inhparent = t.oid),
 ` + read + `,
 pg_catalog.current_setting('standard_conforming_strings'), pg_catalog.current_setting('DateStyle'),
 pg_catalog.current_setting('IntervalStyle'), pg_catalog.current_setting('extra_float_digits'),
 pg_catalog.current_setting('TimeZone'), pg_catalog.current_setting('client_encoding'),
 t.relrowsecurity,
 ` + root + `,
 pg_catalog.current_setting('transaction_isolation'), pg_catalog.current_setting('bytea_output'), t.relispartition
 FROM t`
}

// settings are the session settings a statement's rebuilt text and its
// images' text depend on. check refuses the values under which they
// cannot be restored exactly; timeZone, in which values of timestamptz
// inside arrays, composites and ranges are read as text (top-level
// timestamptz is imaged in UTC), is accepted whatever it is and recorded
// with the undo log instead (see imageZone).
type settings struct {
	standardStrings, dateStyle, intervalStyle, floatDigits, timeZone, clientEncoding, byteaOutput string
	// isolation is transaction_isolation (see freshProbe).
	isolation string
}

// check refuses a session whose settings would make the rebuilt
// statement mean other bytes than the user's (standard_conforming_strings
// off: the parser reads backslashes in '…' as PostgreSQL 9.1+ does by
// default), or images read as text that another session would read back
// as another value (DateStyle other than ISO, IntervalStyle other than
// postgres, extra_float_digits below 1: rounded floats, bytea_output
// other than hex: bytea inside arrays, composites and domains, imaged as
// text in escape form, which a rollback reading hex took for changed and
// parked), or text in another client_encoding than UTF8 (pgx reads text
// as UTF-8: a LATIN1 'ü' would be imaged as another string, and a
// rollback would take the row for changed).
func (s settings) check() error {
	switch {
	case s.clientEncoding != "UTF8":
		return txc.Errorf(txc.CodeUnsupported, "datasource/postgres: refused in AT mode: client_encoding is %q: images are read and restored as UTF-8 text", s.clientEncoding)
	case s.standardStrings != "on":
		return txc.Errorf(txc.CodeUnsupported, "datasource/postgres: refused in AT mode: standard_conforming_strings is %q: statements are rebuilt as PostgreSQL reads them with it on", s.standardStrings)
	case !strings.HasPrefix(s.dateStyle, "ISO"):
		return txc.Errorf(txc.CodeUnsupported, "datasource/postgres: refused in AT mode: DateStyle is %q: images read as text must be in ISO form to be restored exactly", s.dateStyle)
	case s.intervalStyle != "postgres":
		return txc.Errorf(txc.CodeUnsupported, "datasource/postgres: refused in AT mode: IntervalStyle is %q: images read as text must be in postgres form to be restored exactly", s.intervalStyle)
	case s.byteaOutput != "hex":
		return txc.Errorf(txc.CodeUnsupported, "datasource/postgres: refused in AT mode: bytea_output is %q: bytea read as text (arrays, composites, domains) must be in hex form to be compared at rollback", s.byteaOutput)
	}
	if n, err := strconv.Atoi(s.floatDigits); err != nil || n < 1 {
		return txc.Errorf(txc.CodeUnsupported, "datasource/postgres: refused in AT mode: extra_float_digits is %q: floats read as text (arrays, composites) would be rounded", s.floatDigits)
	}
	return nil
}

// lockSQL takes the lock a write of rel takes, ROW EXCLUSIVE, which
// conflicts with every DDL that adds what a write would do beyond the rows
// it returns (CREATE TRIGGER, a foreign key referencing rel, which creates
// its action triggers on rel, CREATE INDEX, and whatever takes a stronger
// lock), and with no write: it only takes earlier the lock the statement
// takes anyway.
func lockSQL(rel string) string { return "LOCK TABLE " + rel + " IN ROW EXCLUSIVE MODE" }

// TableProbe returns the two statements a global write sends first for
// the plain table rel (as the proxy quotes it) in each local transaction,
// in one pipelined round trip, once the connection has probed it before:
// lockSQL's lock and plainProbe's catalog probe, whose one parameter is
// rel. txc-bench's --floor replays them.
func TableProbe(rel string) (lock, probe string) { return lockSQL(rel), plainProbe(rel) }

// probeTable runs probeSQL for rel, after lockSQL when lock is set, in one
// round trip. Without the lock, DDL that only conflicts with a write's lock
// could commit between the probe and the write it describes: a cascading
// foreign key added to a child by a transaction still open at the probe
// would then delete child rows that no image holds. With it, the probe
// reads the catalogs once that DDL has committed or waits for the local
// transaction to end.
//
// LOCK TABLE needs INSERT, UPDATE, DELETE or TRUNCATE privilege on the
// table itself (column privileges are not enough) and a table or view: a
// write it refuses is refused in AT mode, with the local transaction
// aborted by the failed LOCK (as by a failed statement).
//
// Not kept out: DDL that takes SHARE UPDATE EXCLUSIVE on rel (ATTACH
// PARTITION, CREATE TABLE … INHERITS, ALTER TABLE … INHERIT) conflicts
// with no write; a partition attached, or a first inheritance child
// created, while the local transaction runs is not seen by this probe.
//
// With plain, it sends plainProbe's form: the caller checks that the table
// is plain (probe.plain) before it trusts the answer.
func probeTable(ctx context.Context, q datasource.Querier, rel string, lock, plain bool) (probe, settings, error) {
	pc, b, d, folded, err := heldBatch(q)
	if err != nil {
		return probe{}, settings{}, err
	}
	if lock {
		b.Queue(lockSQL(rel))
	}
	if plain {
		b.Queue(plainProbe(rel), rel)
	} else {
		b.Queue(probeSQL(rel), rel)
	}
	br := pc.Conn().SendBatch(ctx, b)
	pr, set, err := readProbe(br, rel, lock, folded, d.Begun)
	if cerr := br.Close(); err == nil && cerr != nil {
		err = cerr
	}
	return pr, set, err
}

// heldBatch starts a batch on q's (a datasource.Exec's) connection with
// the local transaction's BEGIN queued first while it is held back
// (folded: its answer is read first, see readBegun), so that the BEGIN
// costs no round trip of its own.
func heldBatch(q datasource.Querier) (pgxConn, *pgx.Batch, connHolder, bool, error) {
	d, ok := q.(connHolder)
	if !ok {
		return nil, nil, nil, false, txc.Errorf(txc.CodeInternal, "datasource/postgres: %T gives no access to its connection", q)
	}
	b := &pgx.Batch{}
	begin, folded := d.TakeBegin()
	if folded {
		b.Queue(begin)
	}
	// The BEGIN taken goes first in the batch: the connection as it is.
	var c driver.Conn
	if folded {
		c = d.Peek()
	} else {
		c = d.Driver()
	}
	pc, ok := c.(pgxConn)
	if !ok {
		err := txc.Errorf(txc.CodeInternal, "datasource/postgres: the wrapped connection %T is not pgx's", c)
		if folded {
			d.Begun(err)
		}
		return nil, nil, nil, false, err
	}
	return pc, b, d, folded, nil
}

// readBegun reads the answer to the BEGIN heldBatch queued, when folded,
// and reports it to begun.
func readBegun(br pgx.BatchResults, folded bool, begun func(error)) error {
	if !folded {
		return nil
	}
	_, err := br.Exec()
	begun(err)
	return err
}

// connHolder is what probeTable needs of its Querier (a datasource.Exec):
// the connection, and the local transaction's BEGIN while it is held back
// (see datasource.BeginFolder), sent first in the probe's batch.
type connHolder interface {
	Driver() driver.Conn
	Peek() driver.Conn
	TakeBegin() (string, bool)
	Begun(err error)
}

// readProbe reads probeTable's answers from br: the BEGIN's, when folded
// (reported to begun), the lock's, when lock, then the probe's.
func readProbe(br pgx.BatchResults, rel string, lock, folded bool, begun func(error)) (probe, settings, error) {
	if err := readBegun(br, folded, begun); err != nil {
		return probe{}, settings{}, err
	}
	if lock {
		if _, err := br.Exec(); err != nil {
			var pe *pgconn.PgError
			if errors.As(err, &pe) && (pe.Code == "42501" || pe.Code == "42809") {
				return probe{}, settings{}, txc.Errorf(txc.CodeUnsupported, "datasource/postgres: refused in AT mode: %s cannot be locked against DDL while it is written (LOCK TABLE … IN ROW EXCLUSIVE MODE needs a table and INSERT, UPDATE, DELETE or TRUNCATE privilege on it; the local transaction is aborted): %s", rel, pe.Message)
			}
			return probe{}, settings{}, err
		}
	}
	rows, err := br.Query()
	if err != nil {
		return probe{}, settings{}, err
	}
	defer rows.Close()
	if !rows.Next() {
		if err := rows.Err(); err != nil {
			return probe{}, settings{}, err
		}
		return probe{}, settings{}, txc.Errorf(txc.CodeInvalidArgument, "datasource/postgres: table %s not found", rel)
	}
	var (
		pr     probe
		set    settings
		locked *int32
	)
	if err := rows.Scan(&pr.oid, &pr.schema, &pr.name, &pr.kind, &pr.fingerprint, &pr.triggers, &pr.rules,
		&pr.cascadeDelete, &pr.cascadeUpdate, &pr.inheritParent, &locked, &set.standardStrings, &set.dateStyle,
		&set.intervalStyle, &set.floatDigits, &set.timeZone, &set.clientEncoding, &pr.rowSecurity, &pr.lockRoot, &set.isolation, &set.byteaOutput, &pr.partition); err != nil {
		return probe{}, settings{}, err
	}
	return pr, set, rows.Err()
}

// freshProbe checks, for a write probed in a REPEATABLE READ or
// SERIALIZABLE local transaction, that the catalogs its probe read are
// current. There the probe's catalog reads see the transaction's
// snapshot, taken at its first statement: DDL committed since (a
// cascading foreign key, a trigger), before the write's lock was granted,
// is invisible to it, yet the executor acts on it, and a cascade would
// delete rows no image holds. The same probe, run on a phase-2 connection
// (READ COMMITTED, a snapshot of its own, taken now that the lock is
// held), sees the current catalogs; if they differ the write is refused
// (CodeUnavailable: the transaction must start over to see them).
func freshProbe(ctx context.Context, x *datasource.Exec, pr probe, isolation string) error {
	rel := quoteIdent(pr.schema) + "." + quoteIdent(pr.name)
	rows, err := x.QueryPhase2(ctx, probeQuery(rel, probeLockFree), rel)
	if err != nil {
		return err
	}
	if len(rows) != 1 || len(rows[0]) < 19 {
		return txc.Errorf(txc.CodeUnavailable, "datasource/postgres: %s is not found as it was by this transaction's snapshot; retry the transaction", rel)
	}
	// The columns same compares (the fingerprint covers row-level
	// security). The lock root too: a table attached as a partition since
	// the snapshot would lock its rows under its own name, and writes
	// through its partitioned table under the root's.
	r := rows[0]
	fresh := probe{oid: r[0].Value.Int64(), fingerprint: r[4].Value.Str(), triggers: r[5].Value.Boolean(), rules: r[6].Value.Boolean(),
		cascadeDelete: r[7].Value.Str(), cascadeUpdate: r[8].Value.Str(), inheritParent: r[9].Value.Boolean()}
	if !r[18].Value.IsNull() {
		if err := json.Unmarshal([]byte(r[18].Value.Str()), &fresh.lockRoot); err != nil {
			return txc.Errorf(txc.CodeInternal, "datasource/postgres: the second probe of %s: lock root %q: %v", rel, r[18].Value.Str(), err)
		}
	}
	if !fresh.same(pr) {
		return txc.Errorf(txc.CodeUnavailable, "datasource/postgres: %s was changed by DDL committed after this %s transaction's snapshot, which its catalog reads still see; the write could not be imaged exactly: retry the transaction", rel, strings.ToUpper(isolation))
	}
	return nil
}

// same reports whether two probes found the same table in the same state.
func (p probe) same(o probe) bool {
	return p.oid == o.oid && p.fingerprint == o.fingerprint && p.triggers == o.triggers && p.rules == o.rules &&
		p.cascadeDelete == o.cascadeDelete && p.cascadeUpdate == o.cascadeUpdate && p.inheritParent == o.inheritParent &&
		slices.Equal(p.lockRoot, o.lockRoot)
}

// LoadTable reads a table's columns, keys and the hazards AT mode must
// refuse (triggers, rules, cascading foreign keys, inheritance children,
// row-level security, …) from the catalogs, one step per catalog query.
// An unqualified name is resolved through the connection's search_path,
// the recorded name is always schema-qualified.
func (Dialect) LoadTable(ctx context.Context, q datasource.Querier, schema, table string) (*datasource.Table, error) {
	reg := quoteIdent(table)
	if schema != "" {
		reg = quoteIdent(schema) + "." + reg
	}
	pr, _, err := probeTable(ctx, q, reg, false, false)
	if err != nil {
		return nil, err
	}
	reg = quoteIdent(pr.schema) + "." + quoteIdent(pr.name)
	t, in, err := loadColumns(ctx, q, reg)
	if err != nil {
		return nil, err
	}
	if err := loadKeys(ctx, q, reg, t, in); err != nil {
		return nil, err
	}
	in.probe = pr
	t.Dialect = in
	probeHazards(t, in)
	if datasource.RefuseTable(t) != nil {
		return t, nil // refused whatever the rest says
	}
	if err := loadRollbackVisibility(ctx, q, t, pr); err != nil {
		return nil, err
	}
	if pr.cascadeDelete != "" || pr.cascadeUpdate != "" {
		if err := loadCascades(ctx, q, t, pr); err != nil {
			return nil, err
		}
	}
	if len(pr.lockRoot) == 2 {
		// One row, one lock, through the partition or any table above
		// it that has the key.
		t.LockName = nameOf(pr.lockRoot[0], pr.lockRoot[1])
	}
	return t, nil
}

// loadColumns reads the columns of the relation reg (pg_attribute): the
// stored ones, their types (and the lossy types they hold, lossy.go),
// identity and serial columns.
func loadColumns(ctx context.Context, q datasource.Querier, reg string) (*datasource.Table, *tableInfo, error) {
	cols, err := q.Query(ctx, `SELECT n.nspname, c.relname, c.relkind::text, a.attname, a.attgenerated::text, a.attidentity::text,
 pg_catalog.format_type(a.atttypid, a.atttypmod), pg_catalog.pg_get_serial_sequence(pg_catalog.quote_ident(n.nspname) || '.' || pg_catalog.quote_ident(c.relname), a.attname) IS NOT NULL,
 `+lossyTypeQuery+`
 FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
 JOIN pg_catalog.pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
 WHERE c.oid = pg_catalog.to_regclass($1) ORDER BY a.attnum`, reg)
	if err != nil {
		return nil, nil, err
	}
	if len(cols) == 0 {
		return nil, nil, txc.Errorf(txc.CodeInvalidArgument, "datasource/postgres: table %s not found", reg)
	}
	t := &datasource.Table{Name: nameOf(cols[0][0].Value.Str(), cols[0][1].Value.Str()), AutoIncrementStep: 1, AutoIncrementBulkConsecutive: false}
	switch kind := cols[0][2].Value.Str(); kind {
	case "r", "p":
	default:
		t.Hazards.NotTable = fmt.Sprintf("relkind %q", kind)
	}
	in := &tableInfo{types: map[string]string{}, lossy: map[string]string{}}
	for _, c := range cols {
		name := c[3].Value.Str()
		t.AllColumns = append(t.AllColumns, name)
		if c[4].Value.Str() != "" {
			continue // generated column: not stored as written, not imaged
		}
		t.Columns = append(t.Columns, name)
		in.types[name] = c[6].Value.Str()
		if !c[8].Value.IsNull() {
			in.lossy[name] = c[8].Value.Str()
		}
		switch c[5].Value.Str() {
		case "a":
			t.Hazards.IdentityAlways = append(t.Hazards.IdentityAlways, name)
			t.AutoIncrement = name
		case "d":
			t.AutoIncrement = name
		}
		if t.AutoIncrement == "" && c[7].Value.Boolean() {
			t.AutoIncrement = name
		}
	}
	return t, in, nil
}

// loadKeys reads the primary key and the unique keys on plain columns
// (pg_index), which are also the ON CONFLICT arbiters.
func loadKeys(ctx context.Context, q datasource.Querier, reg string, t *datasource.Table, in *tableInfo) error {
	keys, err := q.Query(ctx, `SELECT ic.relname, i.indisprimary, COALESCE(con.conname, ''), a.attname, `+inexactKeySQL+`
 FROM pg_catalog.pg_index i
 JOIN pg_catalog.pg_class ic ON ic.oid = i.indexrelid
 LEFT JOIN pg_catalog.pg_constraint con ON con.conindid = i.indexrelid AND con.conrelid = i.indrelid AND con.contype IN ('p', 'u')
 CROSS JOIN LATERAL pg_catalog.unnest(i.indkey::int2[]) WITH ORDINALITY AS k(attnum, ord)
 JOIN pg_catalog.pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum
 WHERE i.indrelid = pg_catalog.to_regclass($1) AND i.indisunique AND i.indisvalid AND i.indpred IS NULL AND i.indexprs IS NULL
 AND k.ord <= i.indnkeyatts
 ORDER BY i.indisprimary DESC, ic.relname, k.ord`, reg)
	if err != nil {
		return err
	}
	for _, k := range keys {
		idx, col := k[0].Value.Str(), k[3].Value.Str()
		if n := len(in.keys); n == 0 || in.keys[n-1].index != idx {
			in.keys = append(in.keys, uniqueKey{index: idx, primary: k[1].Value.Boolean(), constraint: k[2].Value.Str(), inexact: k[4].Value.Boolean()})
		}
		last := &in.keys[len(in.keys)-1]
		last.cols = append(last.cols, col)
	}
	for _, k := range in.keys {
		if k.primary {
			t.PK = k.cols
		} else {
			t.Unique = append(t.Unique, k.cols)
		}
	}
	return nil
}

// probeHazards fills in the hazards the table probe and the column types
// tell (the foreign keys with referential actions: see loadCascades).
func probeHazards(t *datasource.Table, in *tableInfo) {
	h, pr := &t.Hazards, in.probe
	h.Triggers, h.Rules = pr.triggers, pr.rules
	h.InheritanceChildren = pr.inheritParent
	// Foreign-key checks and actions stay on in a rollback's session.
	h.RollbackCascades = true
	for _, c := range t.Columns {
		if typ, ok := in.lossy[c]; ok {
			h.LossyColumn, h.LossyWhy = c, lossyWhy(typ, in.types[c])
			break
		}
	}
}

// loadRollbackVisibility reads, on a phase-2 connection, whether the
// rollback's user would see the table's rows and the rows referencing
// them. Which rows a rollback sees is up to the policies for that user,
// in a session the application never set up: one they filter might not
// see the rows to restore, or the rows of a referencing table that would
// still point at a row the rollback deletes or rekeys (its session reads
// them with row_security off, so such a read fails: the rollback would
// be retried until an operator acts).
func loadRollbackVisibility(ctx context.Context, q datasource.Querier, t *datasource.Table, pr probe) error {
	p2, ok := q.(interface {
		QueryPhase2(ctx context.Context, query string, args ...any) ([]undo.Row, error)
	})
	if !ok {
		return txc.Errorf(txc.CodeInternal, "datasource/postgres: %T gives no access to the phase-2 connections", q)
	}
	if pr.rowSecurity {
		rows, err := p2.QueryPhase2(ctx, "SELECT pg_catalog.row_security_active($1::pg_catalog.oid)", pr.oid)
		if err != nil {
			return err
		}
		if len(rows) != 1 || len(rows[0]) != 1 {
			return txc.Errorf(txc.CodeInternal, "datasource/postgres: row_security_active(%s) answered %d rows", t.Name, len(rows))
		}
		t.Hazards.HiddenFromRollback = rows[0][0].Value.Boolean()
	}
	rows, err := p2.QueryPhase2(ctx, hiddenReferrerSQL, pr.oid)
	if err != nil {
		return err
	}
	if len(rows) > 0 && len(rows[0]) == 3 {
		t.Hazards.HiddenReferrer = nameOf(rows[0][0].Value.Str(), rows[0][1].Value.Str())
		t.Hazards.HiddenWhy = rows[0][2].Value.Str()
	}
	return nil
}

// hiddenReferrerSQL names a table with a foreign key referencing the
// table $1 (or a partition ancestor of it, as referencesSQL lists them)
// whose referencing rows the session's user (the phase-2 user's, when run
// on a phase-2 connection) cannot all read, and why: row-level security
// filters them, or the user lacks USAGE on its schema or SELECT on a
// column of the key.
const hiddenReferrerSQL = `SELECT n.nspname, r.relname,
 CASE WHEN r.relrowsecurity AND pg_catalog.row_security_active(c.conrelid) THEN 'row-level security on it applies to'
  ELSE 'it cannot be read (SELECT on its foreign-key columns, USAGE on its schema) by' END
FROM pg_catalog.pg_constraint c
JOIN pg_catalog.pg_class r ON r.oid = c.conrelid JOIN pg_catalog.pg_namespace n ON n.oid = r.relnamespace
WHERE c.contype = 'f' AND c.conparentid = 0
  AND c.confrelid IN (SELECT $1::pg_catalog.oid UNION SELECT relid FROM pg_catalog.pg_partition_ancestors($1::pg_catalog.oid::pg_catalog.regclass))
  AND ((r.relrowsecurity AND pg_catalog.row_security_active(c.conrelid))
   OR NOT pg_catalog.has_schema_privilege(r.relnamespace, 'USAGE')
   OR EXISTS (SELECT 1 FROM pg_catalog.unnest(c.conkey) k(a) WHERE NOT pg_catalog.has_column_privilege(c.conrelid, k.a, 'SELECT')))
ORDER BY n.nspname, r.relname LIMIT 1`

var _ datasource.RestoreGuard = Dialect{}

// RestoreHazards counts the user triggers that fire in the rollback's
// session (enabled, or ALWAYS) and finds the rewrite rules on table and
// its partitions: phase 1 refused writes to such tables, so these were
// created since, and restoring would fire them (a BEFORE trigger writing
// other values than the images, an audit row). It first takes the lock
// the restore's writes take, ROW EXCLUSIVE, so that no trigger or rule
// (whose DDL conflicts with it) can be created between this check and
// the restore. (Inheritance children created since are left to the
// duplicate-key check of the rows the rollback locks: the restoring
// statements reach a child's rows only by a key the table's own rows
// have.)
func (Dialect) RestoreHazards(ctx context.Context, tx *sql.Tx, table string) (datasource.RestoreHazards, error) {
	var h datasource.RestoreHazards
	rel := Dialect{}.QuoteTable(table)
	if _, err := tx.ExecContext(ctx, lockSQL(rel)); err != nil {
		var pe *pgconn.PgError
		if errors.As(err, &pe) && (pe.Code == "42501" || pe.Code == "42809") {
			h.Unlockable = "LOCK TABLE … IN ROW EXCLUSIVE MODE needs INSERT, UPDATE, DELETE or TRUNCATE privilege on the table itself: " + pe.Message
			return h, nil
		}
		return h, err
	}
	err := tx.QueryRowContext(ctx, `WITH tree AS (SELECT $1::pg_catalog.regclass::pg_catalog.oid AS relid
 UNION SELECT relid FROM pg_catalog.pg_partition_tree($1::pg_catalog.regclass))
SELECT (SELECT pg_catalog.count(*) FROM pg_catalog.pg_trigger g JOIN tree ON g.tgrelid = tree.relid WHERE NOT g.tgisinternal AND g.tgenabled IN ('O', 'A'))::int4,
 EXISTS (SELECT 1 FROM pg_catalog.pg_rewrite r JOIN tree ON r.ev_class = tree.relid WHERE r.rulename <> '_RETURN')`,
		rel).Scan(&h.Triggers, &h.Rules)
	return h, err
}
