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
func startATParticipant(t *testing.T, tcAddr, driver, table string) *atProc {
	t.Helper()
	buildTestdata(t, "atparticipant")
	dsn := dbtest.MySQLDSN
	if driver == "postgres" {
		dsn = dbtest.PostgresDSN
	}
	p := &atProc{childProc{t: t, name: "atparticipant", args: []string{"--tc", tcAddr, "--driver", driver, "--dsn", dsn, "--table", table}}}
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
		g, ctx, err := tmm.Begin(context.Background(), tm.Config{Name: "at-kill", Timeout: 60 * time.Second})
		if err != nil {
			t.Fatal(err)
		}
		if err := rmp.update(ctx, 1, 5); err != nil {
			t.Fatal(err)
		}
		if err := rmp.update(ctx, 2, 7); err != nil {
			t.Fatal(err)
		}
		if undoRows(g.XID()) != 2 {
			t.Fatalf("phase 1 left %d undo rows, want 2", undoRows(g.XID()))
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
