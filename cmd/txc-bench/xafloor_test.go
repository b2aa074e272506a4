package main

import (
	"context"
	"database/sql"
	"strings"
	"testing"
)

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
