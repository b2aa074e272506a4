package postgres_test

import (
	"errors"
	"testing"

	"github.com/txcio/txc"
	txcpg "github.com/txcio/txc/datasource/postgres"
)

// FuzzRecognize: no input crashes the recognizer; whatever it refuses, it
// refuses with txc.ErrUnsupported. The seed corpus is in
// testdata/fuzz/FuzzRecognize.
func FuzzRecognize(f *testing.F) {
	for _, c := range stmtCases {
		for _, st := range c.stmts {
			f.Add(c.text(st.q, "t", "u"))
		}
	}
	for _, q := range []string{"", ";", "SELECT 1; SELECT 2", "UPDATE t SET a = $99999999999", "INSERT INTO t VALUES ($0)",
		"SELECT * FROM t FOR UPDATE OF x", `UPDATE "a""b"."c" SET "d" = 1`, "DELETE FROM t WHERE CURRENT OF c", "\x00"} {
		f.Add(q)
	}
	f.Fuzz(func(t *testing.T, q string) {
		st, err := txcpg.Dialect{}.Recognize(q)
		if err != nil {
			if !errors.Is(err, txc.ErrUnsupported) {
				t.Fatalf("%q: error %v is not ErrUnsupported", q, err)
			}
			return
		}
		if st == nil {
			t.Fatalf("%q: no statement and no error", q)
		}
	})
}
