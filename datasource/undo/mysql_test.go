package undo

import (
	"database/sql"
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/txcio/txc"
)

// mysqlColumns: name, definition, exact over the text protocol, and the
// literal of each source row (row 1 minimums, row 2 maximums and odd
// values, row 3 NULLs, row 4 empty and zero values).
var mysqlColumns = []struct {
	name, def string
	text      bool
	rows      [4]string
}{
	{"i8", "TINYINT", true, [4]string{"-128", "127", "NULL", "0"}},
	{"u8", "TINYINT UNSIGNED", true, [4]string{"0", "255", "NULL", "0"}},
	{"i16", "SMALLINT", true, [4]string{"-32768", "32767", "NULL", "0"}},
	{"i24", "MEDIUMINT", true, [4]string{"-8388608", "8388607", "NULL", "0"}},
	{"u24", "MEDIUMINT UNSIGNED", true, [4]string{"0", "16777215", "NULL", "0"}},
	{"i32", "INT", true, [4]string{"-2147483648", "2147483647", "NULL", "0"}},
	{"u32", "INT UNSIGNED", true, [4]string{"0", "4294967295", "NULL", "0"}},
	{"i64", "BIGINT", true, [4]string{"-9223372036854775808", "9223372036854775807", "NULL", "0"}},
	{"u64", "BIGINT UNSIGNED", true, [4]string{"0", "18446744073709551615", "NULL", "9223372036854775808"}},
	{"f", "FLOAT", false, [4]string{"-3.4028234e38", "1.2345678", "NULL", "1.1754944e-38"}},
	{"d", "DOUBLE", true, [4]string{"-1.7976931348623157e308", "0.1", "NULL", "2.2250738585072014e-308"}},
	{"dc", "DECIMAL(65,30)", true, [4]string{"'-" + strings.Repeat("9", 35) + "." + strings.Repeat("9", 30) + "'", "'0." + strings.Repeat("0", 29) + "1'", "NULL", "0"}},
	{"dc0", "DECIMAL(65,0)", true, [4]string{"'-" + strings.Repeat("9", 65) + "'", "'" + strings.Repeat("9", 65) + "'", "NULL", "0"}},
	{"dt", "DATE", true, [4]string{"'1000-01-01'", "'9999-12-31'", "NULL", "'0000-00-00'"}},
	{"dtm", "DATETIME(6)", true, [4]string{"'1000-01-01 00:00:00.000000'", "'9999-12-31 23:59:59.999999'", "NULL", "'0000-00-00 00:00:00'"}},
	{"dtm0", "DATETIME", true, [4]string{"'2024-02-29 12:00:00'", "'2024-02-29 12:00:01'", "NULL", "'0000-00-00 00:00:00'"}},
	{"ts", "TIMESTAMP(6) NULL", true, [4]string{"'2001-02-03 04:05:06.000001'", "'2038-01-18 00:00:00.999999'", "NULL", "'0000-00-00 00:00:00'"}},
	{"tm", "TIME(6)", true, [4]string{"'-838:59:59.000000'", "'838:59:59.000000'", "NULL", "'00:00:00'"}},
	{"y", "YEAR", true, [4]string{"1901", "2155", "NULL", "0"}},
	{"b1", "BIT(1)", true, [4]string{"b'0'", "b'1'", "NULL", "b'0'"}},
	{"b10", "BIT(10)", true, [4]string{"b'1000000001'", "b'1111111111'", "NULL", "b'0'"}},
	{"b64", "BIT(64)", true, [4]string{"b'0'", "b'" + strings.Repeat("1", 64) + "'", "NULL", "b'1" + strings.Repeat("0", 63) + "'"}},
	{"bo", "BOOLEAN", true, [4]string{"FALSE", "TRUE", "NULL", "0"}},
	{"e", "ENUM('a','b','🙂')", true, [4]string{"'a'", "'🙂'", "NULL", "'b'"}},
	{"s", "SET('x','y','z')", true, [4]string{"'x'", "'x,y,z'", "NULL", "''"}},
	{"j", "JSON", true, [4]string{"'[]'", `'{"b": 1,  "a": [1, 2.50, "🙂", null]}'`, "NULL", "'\"\"'"}},
	{"c", "CHAR(10)", true, [4]string{"'a'", "'🙂🙂🙂🙂🙂🙂🙂🙂🙂🙂'", "NULL", "''"}},
	{"vc", "VARCHAR(100)", true, [4]string{"' lead and trail  '", "'Ünïcødé 🙂 \\0 \\t \\\\ '''", "NULL", "''"}},
	{"l1", "VARCHAR(20) CHARACTER SET latin1", true, [4]string{"'é'", "'ÿ ¼ ascii'", "NULL", "''"}},
	{"tx", "LONGTEXT", true, [4]string{"'x'", "REPEAT('🙂abc', 20000)", "NULL", "''"}},
	{"bn", "BINARY(4)", true, [4]string{"X'00000000'", "X'FF00FF80'", "NULL", "''"}},
	{"vb", "VARBINARY(300)", true, [4]string{"X'00'", "X'" + allBytes() + "'", "NULL", "''"}},
	{"bl", "LONGBLOB", true, [4]string{"X'FF'", "UNHEX(REPEAT('" + allBytes() + "', 300))", "NULL", "''"}},
	{"g", "GEOMETRY NULL", true, [4]string{"ST_GeomFromText('POINT(1 2)')", "ST_GeomFromText('LINESTRING(0 0, 1.5 -2, 1e300 3)', 4326)", "NULL", "ST_GeomFromText('POLYGON((0 0,1 0,1 1,0 0))', 3857)"}},
}

func TestMySQLRoundTrip(t *testing.T) {
	for _, mode := range []struct {
		name, params string
		text         bool // the text protocol: FLOAT is rounded by the server
		parseTime    bool
	}{
		{"binary", "", false, false},
		{"text", "?interpolateParams=true", true, false},
		{"parseTime", "?parseTime=true", false, true},
		{"parseTimeText", "?parseTime=true&interpolateParams=true&loc=Local", true, true},
	} {
		t.Run(mode.name, func(t *testing.T) {
			t.Parallel()
			db := openDB(t, "mysql", mysqlDSN+mode.params)
			table := uniqueName(t, db, "undo_my")
			var defs, names []string
			for _, c := range mysqlColumns {
				defs = append(defs, c.name+" "+c.def)
				names = append(names, c.name)
			}
			if _, err := db.Exec("CREATE TABLE " + table + " (id INT PRIMARY KEY, " + strings.Join(defs, ", ") + ") DEFAULT CHARSET=utf8mb4"); err != nil {
				t.Fatal(err)
			}
			for r := range 4 {
				vals := []string{strconv.Itoa(r + 1)}
				for _, c := range mysqlColumns {
					vals = append(vals, c.rows[r])
				}
				if _, err := db.Exec("INSERT INTO " + table + " VALUES (" + strings.Join(vals, ", ") + ")"); err != nil {
					t.Fatalf("row %d: %v", r+1, err)
				}
			}
			read := func(id int) (Row, error) {
				rows, err := db.Query("SELECT "+strings.Join(names, ", ")+" FROM "+table+" WHERE id = ?", id)
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
				return ScanMySQLRow(rows, cols)
			}
			for id := 1; id <= 4; id++ {
				img, err := read(id)
				if mode.parseTime && id == 4 {
					// Zero dates are ambiguous under parseTime=true.
					if !errors.Is(err, txc.ErrUnsupported) || !strings.HasPrefix(err.Error(), "undo: ") {
						t.Fatalf("zero date under parseTime: err = %v", err)
					}
					continue
				}
				if err != nil {
					t.Fatalf("row %d: %v", id, err)
				}
				img = throughCodec(t, img)
				// Restore by INSERT (undo of a delete) ...
				ph, args := []string{"?"}, []any{id + 1000}
				for _, c := range img {
					p, a, err := MySQLParam(c.Value)
					if err != nil {
						t.Fatal(err)
					}
					ph, args = append(ph, p), append(args, a)
				}
				if _, err := db.Exec("INSERT INTO "+table+" (id, "+strings.Join(names, ", ")+") VALUES ("+strings.Join(ph, ", ")+")", args...); err != nil {
					t.Fatalf("row %d: insert: %v", id, err)
				}
				// ... and by UPDATE of a scrambled row (undo of an update).
				other := id%3 + 1
				if _, err := db.Exec("INSERT INTO "+table+" SELECT ?, "+strings.Join(names, ", ")+" FROM "+table+" WHERE id = ?", id+2000, other); err != nil {
					t.Fatal(err)
				}
				var sets []string
				args = args[:0]
				for _, c := range img {
					p, a, _ := MySQLParam(c.Value)
					sets, args = append(sets, c.Name+" = "+p), append(args, a)
				}
				if _, err := db.Exec("UPDATE "+table+" SET "+strings.Join(sets, ", ")+" WHERE id = ?", append(args, id+2000)...); err != nil {
					t.Fatalf("row %d: update: %v", id, err)
				}
				for _, copyID := range []int{id + 1000, id + 2000} {
					mysqlSameRow(t, db, table, id, copyID, mode.text)
					again, err := read(copyID)
					if err != nil || !again.Equal(img) {
						t.Errorf("row %d: image of the copy %d differs: %v\n got %v\nwant %v", id, copyID, err, again, img)
					}
				}
			}
		})
	}
}

// mysqlSameRow compares rows a and b column by column in the database:
// NULL-safe equality and equal HEX (bytes, text, bits).
func mysqlSameRow(t *testing.T, db interface {
	QueryRow(string, ...any) *sql.Row
}, table string, a, b int, textProtocol bool) {
	t.Helper()
	var exprs []string
	var cols []string
	for _, c := range mysqlColumns {
		if textProtocol && !c.text {
			continue
		}
		exprs = append(exprs, "(a."+c.name+" <=> b."+c.name+") AND (HEX(a."+c.name+") <=> HEX(b."+c.name+"))")
		cols = append(cols, c.name)
	}
	same := make([]bool, len(exprs))
	ptrs := make([]any, len(exprs))
	for i := range same {
		ptrs[i] = &same[i]
	}
	if err := db.QueryRow("SELECT "+strings.Join(exprs, ", ")+" FROM "+table+" a, "+table+" b WHERE a.id = ? AND b.id = ?", a, b).Scan(ptrs...); err != nil {
		t.Fatal(err)
	}
	for i, ok := range same {
		if !ok {
			t.Errorf("row %d: column %s differs in the copy %d", a, cols[i], b)
		}
	}
}

func TestMySQLValueRefuses(t *testing.T) {
	for _, c := range []struct {
		typ string
		src any
	}{
		{"UNSIGNED INT", int64(-1)},
		{"UNSIGNED BIGINT", []byte("x")},
		{"BIGINT", []byte("1.5")},
		{"DOUBLE", []byte("nope")},
		{"BIT", []byte("123456789")},
		{"GEOMETRY", []byte{1}},
		{"DATETIME", time.Time{}},
		{"TIME", time.Now()},
		{"INT", struct{}{}},
	} {
		if v, err := MySQLValue(c.typ, c.src); !errors.Is(err, txc.ErrUnsupported) || !strings.HasPrefix(err.Error(), "undo: ") {
			t.Errorf("%s %#v: %v, %v", c.typ, c.src, v, err)
		}
	}
	if _, _, err := MySQLParam(Bytes([]byte{1}).WithType("GEOMETRY")); !errors.Is(err, txc.ErrUnsupported) {
		t.Errorf("short geometry: %v", err)
	}
}

// DATETIME and TIMESTAMP text is the same with and without parseTime, and
// logs written with the column's digits compare equal to trimmed reads.
func TestMySQLTimeTextTrimmed(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"2024-07-02 23:30:00.500000", "2024-07-02 23:30:00.5"},
		{"2024-07-02 23:30:00.000000", "2024-07-02 23:30:00"},
		{"2024-07-02 23:30:00.123456", "2024-07-02 23:30:00.123456"},
		{"2024-07-02 23:30:00", "2024-07-02 23:30:00"},
		{"0000-00-00 00:00:00.000", "0000-00-00 00:00:00"},
	} {
		for _, typ := range []string{"DATETIME", "TIMESTAMP"} {
			v, err := MySQLValue(typ, []byte(c.in))
			if err != nil {
				t.Fatal(err)
			}
			if v.Str() != c.want {
				t.Errorf("%s %q = %q, want %q", typ, c.in, v.Str(), c.want)
			}
			if old := Text(typ, c.in); !old.Equal(v) || !v.Equal(old) {
				t.Errorf("%s %q (a log's) and %q (a read's) differ", typ, c.in, v.Str())
			}
		}
	}
	tm, _ := time.Parse("2006-01-02 15:04:05.999999", "2024-07-02 23:30:00.5")
	if v, _ := MySQLValue("DATETIME", tm); v.Str() != "2024-07-02 23:30:00.5" {
		t.Errorf("parseTime DATETIME = %q", v.Str())
	}
	// Other types keep comparing exactly.
	if Text("TIME", "10:00:00.500").Equal(Text("TIME", "10:00:00.5")) || Text("VARCHAR", "1.50").Equal(Text("VARCHAR", "1.5")) {
		t.Error("TIME or VARCHAR text compared trimmed")
	}
	if Text("DATETIME", "2024-07-02 23:30:00.5").Equal(Text("TIMESTAMP", "2024-07-02 23:30:00.5")) {
		t.Error("DATETIME and TIMESTAMP text compared equal")
	}
}
