package main

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/spf13/cobra"

	"github.com/txcio/txc/internal/dbtest"
	"github.com/txcio/txc/tc/server/servertest"
)

// TestATScenarios runs at-mysql and at-postgres briefly, with --floor,
// against an in-process coordinator and the real databases: every half
// commits transfers without an error, the money adds up (the scenario
// checks it), and the floor half deletes every undo row it wrote, as
// phase 2 would.
func TestATScenarios(t *testing.T) {
	for _, tc := range []struct {
		name string
		cmd  func() *cobra.Command
		db   func(testing.TB) *sql.DB
	}{
		{"at-mysql", atMySQLCommand, dbtest.MySQL},
		{"at-postgres", atPostgresCommand, dbtest.Postgres},
	} {
		t.Run(tc.name, func(t *testing.T) {
			db := tc.db(t)
			addr := servertest.Addr(t, "bench")
			var out bytes.Buffer
			cmd := tc.cmd()
			cmd.SetOut(&out)
			cmd.SetArgs([]string{"--addr", addr, "--clients", "3", "--duration", "300ms", "--warmup", "0s", "--floor"})
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			if err := cmd.ExecuteContext(ctx); err != nil {
				t.Fatalf("%v\n%s", err, out.String())
			}
			lines := strings.Split(strings.TrimSpace(out.String()), "\n")
			var r atResult
			if err := json.Unmarshal([]byte(lines[len(lines)-1]), &r); err != nil {
				t.Fatalf("last line is not the result: %v\n%s", err, out.String())
			}
			if r.Errors != 0 || r.PlainTxSec <= 0 || r.ATTxSec <= 0 || r.FloorTxSec <= 0 || r.FloorRatio <= 0 || r.Ratio <= 0 {
				t.Fatalf("result %+v\n%s", r, out.String())
			}
			var n int
			if err := db.QueryRowContext(ctx, "SELECT COUNT(*) FROM "+floorTable).Scan(&n); err != nil || n != 0 {
				t.Fatalf("floor undo rows left: %d (%v)", n, err)
			}
		})
	}
}
