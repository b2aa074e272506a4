package integration

import (
	"context"
	"database/sql"
	"strings"
	"testing"
	"time"

	"github.com/txcio/txc"
	"github.com/txcio/txc/internal/dbtest"
	"github.com/txcio/txc/tm"
)

// startXAParticipant starts an atparticipant in XA mode on the proxy of
// driver ("mysql" or "postgres") at dsn.
func startXAParticipant(t *testing.T, tcAddr, driver, dsn, table string) *atProc {
	t.Helper()
	buildTestdata(t, "atparticipant")
	p := &atProc{childProc{t: t, name: "atparticipant", args: []string{"--tc", tcAddr, "--driver", driver, "--dsn", dsn, "--table", table, "--mode", "xa"}}}
	p.start()
	t.Cleanup(func() {
		p.kill9()
		if t.Failed() {
			t.Logf("atparticipant log:\n%s", tail(p.logText(), 4000))
		}
	})
	return p
}

// xaPrepared counts the branches of xid the database holds prepared.
func xaPrepared(t *testing.T, db *sql.DB, driver string, xid txc.XID) int {
	t.Helper()
	if driver == "postgres" {
		var n int
		if err := db.QueryRow("SELECT COUNT(*) FROM pg_prepared_xacts WHERE gid LIKE $1", "txc:"+string(xid)+":%").Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	rows, err := db.Query("XA RECOVER")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	node, seq, _ := strings.Cut(string(xid), ":")
	n := 0
	for rows.Next() {
		var format, gl, bl int
		var data []byte
		if err := rows.Scan(&format, &gl, &bl, &data); err != nil {
			t.Fatal(err)
		}
		if string(data[:gl]) == node && strings.HasPrefix(string(data[gl:]), seq+":") {
			n++
		}
	}
	return n
}

// TestXARMKilledBetweenPhases: an RM whose XA branches are prepared
// (MariaDB; then PostgreSQL, a private server with
// max_prepared_transactions set) is killed (-9) before phase 2; the
// coordinator decides, and once the RM is restarted the prepared
// branches end as it decided.
func TestXARMKilledBetweenPhases(t *testing.T) {
	t.Run("mysql", func(t *testing.T) {
		xaKilledBetweenPhases(t, "mysql", dbtest.MySQL(t), dbtest.MySQLDSN)
	})
	t.Run("postgres", func(t *testing.T) {
		dsn := dbtest.PrivatePostgres(t, "max_prepared_transactions=20")
		xaKilledBetweenPhases(t, "postgres", dbtest.Open(t, "pgx", dsn), dsn)
	})
}

func xaKilledBetweenPhases(t *testing.T, driver string, db *sql.DB, dsn string) {
	p := startTC(t, "--retry-min", "50ms", "--retry-max", "300ms")
	table := dbtest.Table(t, db, "xa_kill")
	if _, err := db.Exec("CREATE TABLE " + table + " (id INT PRIMARY KEY, n INT NOT NULL)"); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec("INSERT INTO " + table + " VALUES (1, 100), (2, 200)"); err != nil {
		t.Fatal(err)
	}
	rmp := startXAParticipant(t, p.addr, driver, dsn, table)
	tmm := tm.New(dial(t, p.addr, "tm"))
	for _, commit := range []bool{false, true} {
		g, ctx, err := tmm.Begin(context.Background(), tm.Config{Name: "xa-kill", Timeout: 60 * time.Second})
		if err != nil {
			t.Fatal(err)
		}
		if err := rmp.update(ctx, 1, 5); err != nil {
			t.Fatal(err)
		}
		if err := rmp.update(ctx, 2, 7); err != nil {
			t.Fatal(err)
		}
		if n := xaPrepared(t, db, driver, g.XID()); n != 2 {
			t.Fatalf("phase 1 left %d prepared branches, want 2", n)
		}
		rmp.kill9()
		if commit {
			err = g.Commit(context.Background())
		} else {
			err = g.Rollback(context.Background())
		}
		if err != nil {
			t.Fatal(err)
		}
		if n := xaPrepared(t, db, driver, g.XID()); n != 2 {
			t.Fatalf("with the RM dead, %d branches are prepared, want 2", n)
		}
		rmp.start()
		conn := dial(t, p.addr, "status")
		want := txc.GlobalRollbacked
		if commit {
			want = txc.GlobalCommitted
		}
		deadline := time.Now().Add(60 * time.Second)
		for {
			st, err := conn.Status(context.Background(), g.XID())
			if err == nil && st == want && xaPrepared(t, db, driver, g.XID()) == 0 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("commit=%v: status %v (err %v), %d prepared; want %v and none", commit, st, err, xaPrepared(t, db, driver, g.XID()), want)
			}
			time.Sleep(50 * time.Millisecond)
		}
		a, b := atValue(t, db, table, 1), atValue(t, db, table, 2)
		if commit && (a != 105 || b != 207) || !commit && (a != 100 || b != 200) {
			t.Fatalf("commit=%v: rows %d, %d", commit, a, b)
		}
	}
}
