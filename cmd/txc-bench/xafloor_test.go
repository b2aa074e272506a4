package main

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/spf13/cobra"

	"github.com/txcio/txc/datasource"
)

// runScenario runs cmd (a transfer scenario) with args and returns its
// result line.
func runScenario(t *testing.T, ctx context.Context, cmd *cobra.Command, args ...string) atResult {
	t.Helper()
	var out bytes.Buffer
	cmd.SetOut(&out)
	cmd.SetArgs(args)
	if err := cmd.ExecuteContext(ctx); err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	var r atResult
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &r); err != nil {
		t.Fatalf("last line is not the result: %v\n%s", err, out.String())
	}
	return r
}

// runXAScenario runs cmd (an XA scenario, 3 clients, 700 ms) with extra
// flags.
func runXAScenario(t *testing.T, ctx context.Context, cmd *cobra.Command, addr, dsn string, extra ...string) atResult {
	t.Helper()
	return runScenario(t, ctx, cmd, append([]string{"--addr", addr, "--dsn", dsn, "--clients", "3", "--duration", "700ms", "--warmup", "300ms"}, extra...)...)
}

// floorPrepared counts the floor's branches ("floor:<n>") that the
// database of scenario (xa-mysql or xa-postgres) at dsn holds prepared.
func floorPrepared(t *testing.T, ctx context.Context, scenario, dsn string) int {
	t.Helper()
	driverName := "pgx"
	if scenario == "xa-mysql" {
		driverName = "mysql"
	}
	db, err := sql.Open(driverName, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if scenario != "xa-mysql" {
		var n int
		if err := db.QueryRowContext(ctx, "SELECT COUNT(*) FROM pg_prepared_xacts WHERE gid LIKE 'floor:%'").Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	rows, err := db.QueryContext(ctx, "XA RECOVER")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	n := 0
	for rows.Next() {
		var format, glen, blen int
		var data []byte
		if err := rows.Scan(&format, &glen, &blen, &data); err != nil {
			t.Fatal(err)
		}
		if strings.HasPrefix(string(data), "floor:") {
			n++
		}
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return n
}

// TestBenchTable: the XA scenarios transfer on tables of their own, and
// every run on tables named for its process.
func TestBenchTable(t *testing.T) {
	for _, tc := range []struct {
		name string
		mode datasource.Mode
		want string
	}{
		{"txc_bench_account", datasource.AT, "txc_bench_account"},
		{"txc_bench_account", datasource.XA, "txc_bench_xa_account"},
		{"txc_bench_pg_account", datasource.XA, "txc_bench_xa_pg_account"},
	} {
		if got, want := benchTable(tc.name, tc.mode), tc.want+"_"+strconv.Itoa(os.Getpid()); got != want {
			t.Errorf("benchTable(%q, %v) = %q, want %q", tc.name, tc.mode, got, want)
		}
	}
}
