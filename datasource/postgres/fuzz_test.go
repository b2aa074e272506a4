package postgres_test

import (
	"testing"

	"github.com/txcio/txc/datasource/dialecttest"
	txcpg "github.com/txcio/txc/datasource/postgres"
)

// FuzzRecognize: no input crashes the recognizer; whatever it refuses, it
// refuses with txc.ErrUnsupported; what it recognizes has a known kind
// (dialecttest.FuzzRecognize). More of the seed corpus is in
// testdata/fuzz/FuzzRecognize.
func FuzzRecognize(f *testing.F) {
	var seeds []string
	for _, c := range stmtCases {
		for _, st := range c.stmts {
			seeds = append(seeds, c.text(st.q, "t", "u"))
		}
	}
	seeds = append(seeds, "", ";", "SELECT 1; SELECT 2", "UPDATE t SET a = $99999999999", "INSERT INTO t VALUES ($0)",
		"SELECT * FROM t FOR UPDATE OF x", `UPDATE "a""b"."c" SET "d" = 1`, "DELETE FROM t WHERE CURRENT OF c", "\x00")
	dialecttest.FuzzRecognize(f, txcpg.Dialect{}.Recognize, seeds)
}
