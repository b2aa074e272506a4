package main

import (
	"context"
	"database/sql"
	"testing"
	"time"

	"github.com/spf13/cobra"

	"github.com/txcio/txc/internal/dbtest"
	"github.com/txcio/txc/tc/server/servertest"
)

// atScenarios are the AT transfer scenarios, with the database each
// runs on and the steps --floor-omit can leave out of its floor.
var atScenarios = []struct {
	name  string
	cmd   func() *cobra.Command
	db    func(testing.TB) *sql.DB
	steps []string
}{
	{"at-mysql", atMySQLCommand, dbtest.MySQL, []string{omitBefore, omitAfter, omitInsert}},
	{"at-postgres", atPostgresCommand, dbtest.Postgres, []string{omitProbe, omitInsert}},
}

// TestATScenarios runs at-mysql and at-postgres briefly, with --floor,
// against an in-process coordinator and the real databases: every half
// commits transfers without an error, the money adds up (the scenario
// checks it), and the floor half deletes every undo row it wrote, as
// phase 2 would.
func TestATScenarios(t *testing.T) {
	for _, tc := range atScenarios {
		t.Run(tc.name, func(t *testing.T) {
			db := tc.db(t)
			addr := servertest.Addr(t, "bench")
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			r := runScenario(t, ctx, tc.cmd(), "--addr", addr, "--clients", "3", "--duration", "1s", "--warmup", "1s", "--floor")
			if r.Errors != 0 || r.PlainTxSec <= 0 || r.ATTxSec <= 0 || r.FloorTxSec <= 0 || r.FloorRatio <= 0 || r.Ratio <= 0 {
				t.Fatalf("result %+v", r)
			}
			var n int
			if err := db.QueryRowContext(ctx, "SELECT COUNT(*) FROM "+floorTable+" WHERE xid LIKE '"+floorXIDPrefix+"%'").Scan(&n); err != nil || n != 0 {
				t.Fatalf("floor undo rows left: %d (%v)", n, err)
			}
		})
	}
}

// TestXAScenarios runs xa-mysql (the shared MariaDB) and xa-postgres (a
// private PostgreSQL with max_prepared_transactions set) briefly, with
// --floor: all three halves commit transfers without an error, the money
// adds up, and no branch is left prepared (the scenario waits for phase
// 2; the floor commits its own).
func TestXAScenarios(t *testing.T) {
	for _, tc := range []struct {
		name string
		cmd  func() *cobra.Command
		dsn  func(testing.TB) string
	}{
		{"xa-mysql", xaMySQLCommand, func(t testing.TB) string { dbtest.SkipShort(t, "mysql database"); return dbtest.MySQLDSN }},
		{"xa-postgres", xaPostgresCommand, func(t testing.TB) string {
			return dbtest.PrivatePostgres(t, "max_prepared_transactions=20")
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dsn := tc.dsn(t)
			addr := servertest.Addr(t, "bench")
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			r := runXAScenario(t, ctx, tc.cmd(), addr, dsn, "--floor")
			if r.Errors != 0 || r.PlainTxSec <= 0 || r.ATTxSec <= 0 || r.Ratio <= 0 || r.FloorTxSec <= 0 || r.FloorRatio <= 0 || r.Scenario != tc.name {
				t.Fatalf("result %+v", r)
			}
			// --only floor runs the floor alone.
			r = runXAScenario(t, ctx, tc.cmd(), addr, dsn, "--only", "floor")
			if r.Errors != 0 || r.PlainTxSec != 0 || r.ATTxSec != 0 || r.FloorTxSec <= 0 {
				t.Fatalf("--only floor: result %+v", r)
			}
			if n := floorPrepared(t, ctx, tc.name, dsn); n != 0 {
				t.Fatalf("%d floor branches left prepared", n)
			}
		})
	}
}
