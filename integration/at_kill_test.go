package integration

import (
	"context"
	"database/sql"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/txcio/txc"
	"github.com/txcio/txc/internal/dbtest"
	"github.com/txcio/txc/tm"
)

// atProc is one atparticipant process.
type atProc struct{ childProc }

// startATParticipant starts an atparticipant on the proxy of driver
// ("mysql" or "postgres").
func startATParticipant(t *testing.T, tcAddr, driver, table string, extra ...string) *atProc {
	t.Helper()
	buildTestdata(t, "atparticipant")
	dsn := dbtest.MySQLDSN
	if driver == "postgres" {
		dsn = dbtest.PostgresDSN
	}
	p := &atProc{childProc{t: t, name: "atparticipant", args: append([]string{"--tc", tcAddr, "--driver", driver, "--dsn", dsn, "--table", table}, extra...)}}
	p.start()
	t.Cleanup(func() {
		p.kill9()
		if t.Failed() {
			t.Logf("atparticipant log:\n%s", tail(p.logText(), 4000))
		}
	})
	return p
}

func (p *atProc) update(ctx context.Context, id, delta int) error {
	req, _ := http.NewRequestWithContext(ctx, "POST", fmt.Sprintf("%s/update?id=%d&delta=%d", p.url, id, delta), nil)
	resp, err := (&http.Client{Transport: tm.RoundTripper(nil)}).Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("atparticipant: %s: %s", resp.Status, strings.TrimSpace(string(body)))
	}
	return nil
}

// phaseOne begins a global transaction and adds 5 to row 1 and 7 to row
// 2 through p, each in a local transaction of its own (two AT branches).
func (p *atProc) phaseOne(tmm *tm.Manager) *tm.GlobalTx {
	p.t.Helper()
	g, ctx, err := tmm.Begin(context.Background(), tm.Config{Name: "at-kill", Timeout: 60 * time.Second})
	if err != nil {
		p.t.Fatal(err)
	}
	if err := p.update(ctx, 1, 5); err != nil {
		p.t.Fatal(err)
	}
	if err := p.update(ctx, 2, 7); err != nil {
		p.t.Fatal(err)
	}
	return g
}

func atValue(t *testing.T, db *sql.DB, table string, id int) int {
	t.Helper()
	var n int
	if err := db.QueryRow(fmt.Sprintf("SELECT n FROM %s WHERE id = %d", table, id)).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// TestATRMKilledBetweenPhases: an RM that ran phase 1 of an AT branch
// (MariaDB, then PostgreSQL) is killed (-9) before phase 2; the
// coordinator keeps the decision and, once the RM is restarted, the
// branch rolls back (rows restored, undo log gone) or commits (undo log
// deleted).
func TestATRMKilledBetweenPhases(t *testing.T) {
	for _, driver := range []string{"mysql", "postgres"} {
		t.Run(driver, func(t *testing.T) { atKilledBetweenPhases(t, driver) })
	}
}

func atKilledBetweenPhases(t *testing.T, driver string) {
	p := startTC(t, "--retry-min", "50ms", "--retry-max", "300ms")
	db, undoTable := dbtest.MySQL(t), "txc_undo_log"
	if driver == "postgres" {
		db, undoTable = dbtest.Postgres(t), "public.txc_undo_log"
	}
	table := dbtest.Table(t, db, "at_kill")
	if _, err := db.Exec("CREATE TABLE " + table + " (id INT PRIMARY KEY, n INT NOT NULL)"); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec("INSERT INTO " + table + " VALUES (1, 100), (2, 200)"); err != nil {
		t.Fatal(err)
	}
	rmp := startATParticipant(t, p.addr, driver, table)
	tmm := tm.New(dial(t, p.addr, "tm"))
	undoRows := func(xid txc.XID) int {
		var n int
		if err := db.QueryRow("SELECT COUNT(*) FROM " + undoTable + " WHERE xid = '" + string(xid) + "'").Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	for _, commit := range []bool{false, true} {
		g := rmp.phaseOne(tmm)
		if undoRows(g.XID()) != 2 {
			t.Fatalf("phase 1 left %d undo rows, want 2", undoRows(g.XID()))
		}
		rmp.kill9()
		var err error
		if commit {
			err = g.Commit(context.Background())
		} else {
			err = g.Rollback(context.Background())
		}
		if err != nil {
			t.Fatal(err)
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
			if err == nil && st == want && undoRows(g.XID()) == 0 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("commit=%v: status %v (err %v), %d undo rows; want %v and none", commit, st, err, undoRows(g.XID()), want)
			}
			time.Sleep(50 * time.Millisecond)
		}
		a, b := atValue(t, db, table, 1), atValue(t, db, table, 2)
		if commit && (a != 105 || b != 207) || !commit && (a != 100 || b != 200) {
			t.Fatalf("commit=%v: rows %d, %d", commit, a, b)
		}
	}
}

// TestATRMKilledBeforeDeletingUndo: the coordinator counts an AT branch
// committed at the decision and notifies its RM, which deletes the undo
// rows. An RM killed (-9, its database sessions ended with it) while
// that DELETE waits leaves the rows behind; the committed data stays,
// and the restarted RM's leftover sweep deletes the rows once the
// coordinator reports the transaction committed.
func TestATRMKilledBeforeDeletingUndo(t *testing.T) {
	for _, driver := range []string{"mysql", "postgres"} {
		t.Run(driver, func(t *testing.T) { atKilledBeforeDeleting(t, driver) })
	}
}

func atKilledBeforeDeleting(t *testing.T, driver string) {
	p := startTC(t)
	db, undoTable := dbtest.MySQL(t), dbtest.Name("at_kill_undo")
	// The RM's DELETE waiting for the test's locks, and how to end its
	// session as the RM's death would.
	waiting := "SELECT id FROM information_schema.processlist WHERE info LIKE 'DELETE FROM %%%s%%' AND state = 'Updating'"
	end := "KILL %d"
	if driver == "postgres" {
		db = dbtest.Postgres(t)
		waiting = "SELECT pid FROM pg_stat_activity WHERE query LIKE 'DELETE FROM %%%s%%' AND wait_event_type = 'Lock'"
		end = "SELECT pg_terminate_backend(%d)"
	}
	t.Cleanup(func() { db.Exec("DROP TABLE IF EXISTS " + undoTable) })
	table := dbtest.Table(t, db, "at_kill_del")
	if _, err := db.Exec("CREATE TABLE " + table + " (id INT PRIMARY KEY, n INT NOT NULL)"); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec("INSERT INTO " + table + " VALUES (1, 100), (2, 200)"); err != nil {
		t.Fatal(err)
	}
	rmp := startATParticipant(t, p.addr, driver, table, "--undo-table", undoTable)
	g := rmp.phaseOne(tm.New(dial(t, p.addr, "tm")))
	undoRows := func() int {
		var n int
		if err := db.QueryRow("SELECT COUNT(*) FROM " + undoTable + " WHERE xid = '" + string(g.XID()) + "'").Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	// Hold the undo rows so that the RM's DELETE waits.
	hold, err := db.Begin()
	if err != nil {
		t.Fatal(err)
	}
	defer hold.Rollback()
	if _, err := hold.Exec("SELECT xid FROM " + undoTable + " WHERE xid = '" + string(g.XID()) + "' FOR UPDATE"); err != nil {
		t.Fatal(err)
	}
	if err := g.Commit(context.Background()); err != nil {
		t.Fatal(err)
	}
	var session int64
	deadline := time.Now().Add(30 * time.Second)
	for db.QueryRow(fmt.Sprintf(waiting, undoTable)).Scan(&session) != nil {
		if time.Now().After(deadline) {
			t.Fatal("the RM's DELETE of the undo rows never waited")
		}
		time.Sleep(20 * time.Millisecond)
	}
	rmp.kill9()
	if _, err := db.Exec(fmt.Sprintf(end, session)); err != nil {
		t.Fatal(err)
	}
	hold.Rollback()
	if n := undoRows(); n != 2 {
		t.Fatalf("%d undo rows after the RM died before deleting, want 2", n)
	}
	if st, err := dial(t, p.addr, "status").Status(context.Background(), g.XID()); err != nil || st != txc.GlobalCommitted {
		t.Fatalf("status %v %v, want Committed", st, err)
	}
	rmp.start()
	for undoRows() != 0 {
		if time.Now().After(deadline.Add(30 * time.Second)) {
			t.Fatalf("%d undo rows left after the RM restarted", undoRows())
		}
		time.Sleep(50 * time.Millisecond)
	}
	if a, b := atValue(t, db, table, 1), atValue(t, db, table, 2); a != 105 || b != 207 {
		t.Fatalf("rows %d, %d after the commit", a, b)
	}
}
