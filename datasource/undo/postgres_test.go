package undo

import (
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/txcio/txc"
)

// postgresColumns: name, definition (ENUM is replaced by the test's enum
// type), whether the type has an equality operator, and the literal of each
// source row (row 1 minimums, row 2 maximums and odd values, row 3 NULLs,
// row 4 empty, zero and infinite values).
var postgresColumns = []struct {
	name, def string
	eq        bool
	rows      [4]string
}{
	{"i2", "smallint", true, [4]string{"-32768", "32767", "NULL", "0"}},
	{"i4", "integer", true, [4]string{"-2147483648", "2147483647", "NULL", "0"}},
	{"i8", "bigint", true, [4]string{"-9223372036854775808", "9223372036854775807", "NULL", "0"}},
	{"f4", "real", true, [4]string{"'-Infinity'", "1.2345678", "NULL", "'-0'"}},
	{"f4n", "real", true, [4]string{"'NaN'", "'Infinity'", "NULL", "1e-45"}},
	{"f8", "double precision", true, [4]string{"'-Infinity'", "0.1", "NULL", "'-0'"}},
	{"f8n", "double precision", true, [4]string{"'NaN'", "1.7976931348623157e308", "NULL", "5e-324"}},
	{"n", "numeric", true, [4]string{"'-" + strings.Repeat("9", 1000) + "'", "'" + strings.Repeat("1", 500) + "." + strings.Repeat("2", 500) + "'", "NULL", "'0.000'"}},
	{"nx", "numeric(10,2)", true, [4]string{"'NaN'", "'-99999999.99'", "NULL", "'-0.01'"}},
	{"t", "text", true, [4]string{"'a'", "'Ünïcødé 🙂 \t\r\n\\ '' \x01 𝄞'", "NULL", "''"}},
	{"vc", "varchar(20)", true, [4]string{"' lead and trail  '", "'🙂🙂🙂🙂🙂🙂🙂🙂🙂🙂🙂🙂🙂🙂🙂🙂🙂🙂🙂🙂'", "NULL", "''"}},
	{"bc", "char(5)", true, [4]string{"'a'", "'🙂 🙂 🙂'", "NULL", "''"}},
	{"ch", `"char"`, true, [4]string{"'a'", "'z'", "NULL", "''"}},
	{"nm", "name", true, [4]string{"'a'", "'Name 🙂'", "NULL", "''"}},
	{"by", "bytea", true, [4]string{`'\x00'`, `'\x` + allBytes() + `'`, "NULL", "''"}},
	{"bo", "boolean", true, [4]string{"false", "true", "NULL", "false"}},
	{"d", "date", true, [4]string{"'4713-01-01 BC'", "'5874897-12-31'", "NULL", "'infinity'"}},
	{"d2", "date", true, [4]string{"'0001-12-31 BC'", "'2024-02-29'", "NULL", "'-infinity'"}},
	{"tm", "time", true, [4]string{"'00:00:00'", "'24:00:00'", "NULL", "'12:34:56.789012'"}},
	{"ttz", "timetz", true, [4]string{"'00:00:00+15:59'", "'24:00:00-15:59'", "NULL", "'12:00:00.5+05:30'"}},
	{"ts", "timestamp", true, [4]string{"'4713-01-01 00:00:00 BC'", "'294276-12-31 23:59:59.999999'", "NULL", "'infinity'"}},
	{"ts3", "timestamp(3)", true, [4]string{"'2000-01-01 00:00:00.001'", "'1999-12-31 23:59:59.999'", "NULL", "'-infinity'"}},
	{"tz", "timestamptz", true, [4]string{"'4713-01-01 00:00:00+00 BC'", "'2024-01-02 03:04:05.123456+05:30'", "NULL", "'-infinity'"}},
	{"tz2", "timestamptz", true, [4]string{"'1970-01-01 00:00:00+00'", "'2024-03-10 02:30:00.000001-04:00'", "NULL", "'infinity'"}},
	{"iv", "interval", true, [4]string{"'-178000000 years'", "'1 year 2 mons -3 days 04:05:06.789012'", "NULL", "'0 seconds'"}},
	{"u", "uuid", true, [4]string{"'00000000-0000-0000-0000-000000000000'", "'ffffffff-ffff-ffff-ffff-ffffffffffff'", "NULL", "'0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b'"}},
	{"j", "json", false, [4]string{"'[]'", `'{"b": 1,  "a": [1, 2.50, "🙂", null], "b": 2}'`, "NULL", "'\"\"'"}},
	{"jb", "jsonb", true, [4]string{"'{}'", `'{"b": 1,  "a": [1, 2.50, "🙂\\n\u00e9x"]}'`, "NULL", "'null'"}},
	{"ai", "integer[]", true, [4]string{"'{}'", "'{1,NULL,-2147483648}'", "NULL", "'{{1,2},{3,4}}'"}},
	{"at", "text[]", true, [4]string{"'{}'", `'{"a b","\"",NULL,"","NULL","🙂"}'`, "NULL", `'{""}'`}},
	{"atz", "timestamptz[]", true, [4]string{"'{}'", `'{"2024-01-01 00:00:00.5+01",infinity,NULL}'`, "NULL", "'[0:1]={-infinity,infinity}'"}},
	{"anum", "numeric[]", true, [4]string{"'{NaN}'", "'{1.50,-0.000}'", "NULL", "'{}'"}},
	{"cp", "PAIR", false, [4]string{"ROW(NULL, NULL)", `ROW(-1, '🙂 "q" ,()')`, "NULL", "ROW(0, '')"}},
	{"dm", "POSINT", true, [4]string{"1", "2147483647", "NULL", "7"}},
	{"af8", "double precision[]", true, [4]string{"'{NaN,-Infinity}'", "'{-0,5e-324,0.1}'", "NULL", "'{}'"}},
	{"en", "ENUM", true, [4]string{"'sad'", "'🙂 happy'", "NULL", "''"}},
	{"aen", "ENUM[]", true, [4]string{"'{}'", `'{sad,"🙂 happy",NULL}'`, "NULL", `'{""}'`}},
	{"ip", "inet", true, [4]string{"'0.0.0.0'", "'2001:db8::1/64'", "NULL", "'10.1.2.3/8'"}},
	{"cd", "cidr", true, [4]string{"'0.0.0.0/0'", "'2001:db8::/32'", "NULL", "'10.0.0.0/8'"}},
	{"mac", "macaddr", true, [4]string{"'00:00:00:00:00:00'", "'ff:ff:ff:ff:ff:ff'", "NULL", "'08:00:2b:01:02:03'"}},
	{"bt", "bit(5)", true, [4]string{"B'00000'", "B'10101'", "NULL", "B'11111'"}},
	{"vbt", "varbit", true, [4]string{"B''", "B'1010101010101010101010101010101010101010101010101010101010101010101'", "NULL", "B'0'"}},
	{"rng", "int4range", true, [4]string{"'empty'", "'[1,2)'", "NULL", "'(,)'"}},
	{"tsr", "tstzrange", true, [4]string{"'empty'", "'[2024-01-01 00:00:00.000001+00,infinity)'", "NULL", "'(,)'"}},
	{"pt", "point", false, [4]string{"'(0,0)'", "'(1.5,-1e300)'", "NULL", "'(-0,NaN)'"}},
	{"x", "xml", false, [4]string{"'<a/>'", "'<a b=\"1\">🙂 &amp; text</a>'", "NULL", "''"}},
	{"mo", "money", true, [4]string{"'-92233720368547758.08'", "'92233720368547758.07'", "NULL", "0"}},
	{"o", "oid", true, [4]string{"0", "4294967295", "NULL", "1"}},
	{"ts1", "tsvector", true, [4]string{"''", "'a:1 fat:2,3 cat'", "NULL", "'x'"}},
}

func TestPostgresRoundTrip(t *testing.T) {
	for _, mode := range []struct{ name, params string }{
		{"extended", ""},
		{"simple", "&default_query_exec_mode=simple_protocol&timezone=America/St_Johns"},
		{"zone", "&timezone=Asia/Kolkata"},
	} {
		t.Run(mode.name, func(t *testing.T) {
			t.Parallel()
			db := openDB(t, "pgx", postgresDSN+mode.params)
			table := uniqueName(t, db, "undo_pg")
			enum := table + "_mood"
			if _, err := db.Exec("CREATE TYPE " + enum + " AS ENUM ('sad', '🙂 happy', '')"); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { // before the cleanup of uniqueName: the table goes first
				db.Exec("DROP TABLE IF EXISTS " + table)
				db.Exec("DROP TYPE IF EXISTS " + enum)
				db.Exec("DROP TYPE IF EXISTS " + table + "_pair")
				db.Exec("DROP DOMAIN IF EXISTS " + table + "_posint")
			})
			if _, err := db.Exec("CREATE TYPE " + table + "_pair AS (a int, b text)"); err != nil {
				t.Fatal(err)
			}
			if _, err := db.Exec("CREATE DOMAIN " + table + "_posint AS int CHECK (VALUE > 0)"); err != nil {
				t.Fatal(err)
			}
			var defs, names []string
			for _, c := range postgresColumns {
				defs = append(defs, c.name+" "+strings.NewReplacer("ENUM", enum, "PAIR", table+"_pair", "POSINT", table+"_posint").Replace(c.def))
				names = append(names, c.name)
			}
			if _, err := db.Exec("CREATE TABLE " + table + " (id int PRIMARY KEY, " + strings.Join(defs, ", ") + ")"); err != nil {
				t.Fatal(err)
			}
			for r := range 4 {
				vals := []string{fmt.Sprint(r + 1)}
				for _, c := range postgresColumns {
					vals = append(vals, c.rows[r])
				}
				if _, err := db.Exec("INSERT INTO " + table + " VALUES (" + strings.Join(vals, ", ") + ")"); err != nil {
					t.Fatalf("row %d: %v", r+1, err)
				}
			}
			read := func(id int) Row {
				rows, err := db.Query("SELECT "+strings.Join(names, ", ")+" FROM "+table+" WHERE id = $1", id)
				if err != nil {
					t.Fatal(err)
				}
				defer rows.Close()
				cols, err := rows.ColumnTypes()
				if err != nil {
					t.Fatal(err)
				}
				if !rows.Next() {
					t.Fatalf("row %d missing: %v", id, rows.Err())
				}
				r, err := ScanPostgresRow(rows, cols)
				if err != nil {
					t.Fatalf("row %d: %v", id, err)
				}
				return r
			}
			for id := 1; id <= 4; id++ {
				img := throughCodec(t, read(id))
				// Restore by INSERT (undo of a delete) ...
				ph, args := []string{"$1"}, []any{id + 1000}
				for _, c := range img {
					p, a, err := PostgresParam(c.Value, len(args)+1)
					if err != nil {
						t.Fatal(err)
					}
					ph, args = append(ph, p), append(args, a)
				}
				if _, err := db.Exec("INSERT INTO "+table+" (id, "+strings.Join(names, ", ")+") VALUES ("+strings.Join(ph, ", ")+")", args...); err != nil {
					t.Fatalf("row %d: insert: %v", id, err)
				}
				// ... and by UPDATE of a scrambled row (undo of an update).
				if _, err := db.Exec("INSERT INTO "+table+" SELECT $1, "+strings.Join(names, ", ")+" FROM "+table+" WHERE id = $2", id+2000, id%3+1); err != nil {
					t.Fatal(err)
				}
				var sets []string
				args = args[:0]
				for _, c := range img {
					p, a, _ := PostgresParam(c.Value, len(args)+1)
					sets, args = append(sets, c.Name+" = "+p), append(args, a)
				}
				if _, err := db.Exec(fmt.Sprintf("UPDATE %s SET %s WHERE id = $%d", table, strings.Join(sets, ", "), len(args)+1), append(args, id+2000)...); err != nil {
					t.Fatalf("row %d: update: %v", id, err)
				}
				for _, copyID := range []int{id + 1000, id + 2000} {
					postgresSameRow(t, db, table, id, copyID)
					if again := read(copyID); !again.Equal(img) {
						t.Errorf("row %d: image of the copy %d differs:\n got %v\nwant %v", id, copyID, again, img)
					}
				}
			}
		})
	}
}

// postgresSameRow compares rows a and b column by column in the database:
// IS NOT DISTINCT FROM (where the type has equality) and on ::text.
func postgresSameRow(t *testing.T, db *sql.DB, table string, a, b int) {
	t.Helper()
	var exprs []string
	for _, c := range postgresColumns {
		e := fmt.Sprintf("(a.%[1]s::text IS NOT DISTINCT FROM b.%[1]s::text)", c.name)
		if c.eq {
			e += fmt.Sprintf(" AND (a.%[1]s IS NOT DISTINCT FROM b.%[1]s)", c.name)
		}
		exprs = append(exprs, e)
	}
	same := make([]bool, len(exprs))
	ptrs := make([]any, len(exprs))
	for i := range same {
		ptrs[i] = &same[i]
	}
	if err := db.QueryRow("SELECT "+strings.Join(exprs, ", ")+" FROM "+table+" a, "+table+" b WHERE a.id = $1 AND b.id = $2", a, b).Scan(ptrs...); err != nil {
		t.Fatal(err)
	}
	for i, ok := range same {
		if !ok {
			t.Errorf("row %d: column %s differs in the copy %d", a, postgresColumns[i].name, b)
		}
	}
}

func TestPostgresParamRefusesBadTypeTag(t *testing.T) {
	for _, typ := range []string{"inet; DROP TABLE x", "a b", "int4[]", `"x"`} {
		if _, _, err := PostgresParam(Text(typ, "1"), 1); !errors.Is(err, txc.ErrUnsupported) {
			t.Errorf("%q: err = %v", typ, err)
		}
	}
}

// TestPostgresTimestamptzUTC: a timestamptz image does not depend on the
// time zone of the process that read it (it is written in UTC), and text
// in the old form (the reader's own offset) still writes back the same
// instant.
func TestPostgresTimestamptzUTC(t *testing.T) {
	inst := time.Date(2024, 3, 31, 1, 30, 0, 123456000, time.UTC)
	var texts []string
	// Fixed zones, so the test needs no tz database: UTC, +05:30, -03:30.
	for _, loc := range []*time.Location{time.UTC, time.FixedZone("IST", 11*1800), time.FixedZone("NST", -7*1800)} {
		v, err := PostgresValue("TIMESTAMPTZ", inst.In(loc))
		if err != nil {
			t.Fatal(err)
		}
		texts = append(texts, v.Str())
	}
	for _, s := range texts {
		if s != "2024-03-31 01:30:00.123456+00:00" {
			t.Fatalf("texts %q, want every one in UTC", texts)
		}
	}
	db := openDB(t, "pgx", postgresDSN)
	for _, old := range []string{"2024-03-31 07:00:00.123456+05:30", "2024-03-30 22:00:00.123456-03:30", texts[0]} {
		ph, arg, err := PostgresParam(Text("TIMESTAMPTZ", old), 1)
		if err != nil {
			t.Fatal(err)
		}
		var same bool
		if err := db.QueryRow("SELECT "+ph+" = $2::timestamptz", arg, inst).Scan(&same); err != nil || !same {
			t.Fatalf("%s written back as %s: same instant %v, err %v", old, ph, same, err)
		}
	}
}
