package integration

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/txcio/txc"
	"github.com/txcio/txc/internal/dbtest"
	"github.com/txcio/txc/rm/tcc"
	"github.com/txcio/txc/tm"
)

// TestClusterATAndTCCThroughTakeover: three nodes on a PostgreSQL store;
// AT participants on MariaDB and PostgreSQL and a fenced TCC participant
// (processes of their own, dialing every node) take part in transfers
// that move an amount from a MariaDB row to a PostgreSQL row and reserve
// it through TCC; 30% roll back. A node is killed (-9) mid-load and
// restarted. Every acknowledged outcome must be carried out: the rows sum
// to what the committed transfers say, no undo row or lock is left, and
// every TCC branch ended confirmed if its transaction committed and
// cancelled otherwise.
func TestClusterATAndTCCThroughTakeover(t *testing.T) {
	myDB, pgDB := dbtest.MySQL(t), dbtest.Postgres(t)
	c := startCluster(t, "postgres", dbtest.PostgresDSN, pgDB, 3, nil)
	const rows = 8
	myTable, pgTable := dbtest.Table(t, myDB, "cl_at"), dbtest.Table(t, pgDB, "cl_at")
	for _, tb := range []struct {
		db    *sql.DB
		table string
	}{{myDB, myTable}, {pgDB, pgTable}} {
		if _, err := tb.db.Exec("CREATE TABLE " + tb.table + " (id INT PRIMARY KEY, n INT NOT NULL)"); err != nil {
			t.Fatal(err)
		}
		for id := range rows {
			if _, err := tb.db.Exec(fmt.Sprintf("INSERT INTO %s VALUES (%d, 1000)", tb.table, id)); err != nil {
				t.Fatal(err)
			}
		}
	}
	// A commit notice the killed node had not sent is lost: the RMs'
	// leftover sweep (every second here) deletes those undo rows.
	my := startATParticipant(t, c.target(), "mysql", myTable, "--leftover-age", "1s")
	pg := startATParticipant(t, c.target(), "postgres", pgTable, "--leftover-age", "1s")
	biz, fence := tccTables(t, tccDB(t, tcc.Postgres))
	stock := startParticipant(t, c.target(), biz, fence)
	conn := dial(t, c.target(), "tm")
	tmm := tm.New(conn)

	var (
		mu      sync.Mutex
		results = map[txc.XID]transfer{}
		halt    atomic.Bool
		wg      sync.WaitGroup
	)
	errRollback := errors.New("rolled back on purpose")
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rnd := rand.New(rand.NewPCG(uint64(w), 7))
			for !halt.Load() {
				tr := transfer{id: rnd.IntN(rows), amount: 1 + rnd.IntN(9), rollback: rnd.IntN(10) < 3}
				var xid txc.XID
				// A rollback that needs rows another transfer's branch holds
				// locally while it waits for their global lock waits until
				// that transfer's deadline: 8 s keeps such stalls short
				// enough for the counts below on a loaded machine.
				err := tmm.WithGlobalTx(context.Background(), tm.Config{Name: "cluster-transfer", Timeout: 8 * time.Second}, func(ctx context.Context) error {
					xid, _ = tm.XIDFromContext(ctx)
					if err := my.update(ctx, tr.id, -tr.amount); err != nil {
						return err
					}
					if err := pg.update(ctx, tr.id, tr.amount); err != nil {
						return err
					}
					if err := stock.reserve(ctx, int64(tr.amount)); err != nil {
						return err
					}
					if tr.rollback {
						return errRollback
					}
					return nil
				})
				if xid == "" {
					time.Sleep(20 * time.Millisecond)
					continue
				}
				tr.err = err
				mu.Lock()
				results[xid] = tr
				mu.Unlock()
			}
		}()
	}
	count := func() int { mu.Lock(); defer mu.Unlock(); return len(results) }
	waitFor(t, 60*time.Second, func() bool { return count() >= 30 }, "30 transfers before the kill")
	victim := c.nodes[0]
	victim.kill9()
	c.hostedBy(c.names[0], 10*time.Second, victim)
	victim.restart()
	n := count()
	waitFor(t, 60*time.Second, func() bool { return count() >= n+30 }, "30 transfers after the takeover")
	halt.Store(true)
	wg.Wait()
	c.waitQuiet(60 * time.Second)

	// Every outcome: from the error when it says, else from the coordinator.
	committed := map[int]int{}
	decided := map[txc.XID]bool{}
	for xid, tr := range results {
		ok := tr.err == nil
		if tr.err != nil && !errors.Is(tr.err, errRollback) {
			st, err := conn.Status(context.Background(), xid)
			switch {
			case errors.Is(err, txc.ErrUnknownTransaction) && errors.Is(tr.err, txc.ErrUnavailable):
				// The kill took its pipelined Begin before it was
				// stored, so the Begin was never answered: no branch
				// could register, nothing of it ran.
				ok = false
			case err != nil || !st.IsFinal():
				t.Fatalf("%s ended with %v; status %v, %v", xid, tr.err, st, err)
			default:
				ok = st == txc.GlobalCommitted
			}
		}
		decided[xid] = ok
		if ok {
			committed[tr.id] += tr.amount
		}
	}
	for id := range rows {
		if got, want := atValue(t, myDB, myTable, id), 1000-committed[id]; got != want {
			t.Errorf("MariaDB row %d = %d, want %d", id, got, want)
		}
		if got, want := atValue(t, pgDB, pgTable, id), 1000+committed[id]; got != want {
			t.Errorf("PostgreSQL row %d = %d, want %d", id, got, want)
		}
	}
	// Undo logs (state 0) must all be gone, those of lost commit notices
	// once the leftover sweep has run; finished markers (state 1, written
	// by a rollback that overtook its branch's phase 1) stay until the
	// RM's cleanup.
	for _, u := range []struct {
		db    *sql.DB
		table string
	}{{myDB, "txc_undo_log"}, {pgDB, "public.txc_undo_log"}} {
		deadline := time.Now().Add(30 * time.Second)
		for xid := range decided {
			for {
				var left int
				err := u.db.QueryRow("SELECT COUNT(*) FROM " + u.table + " WHERE state = 0 AND xid = '" + string(xid) + "'").Scan(&left)
				if err == nil && left == 0 {
					break
				}
				if err != nil || time.Now().After(deadline) {
					t.Fatalf("%s: %d undo rows left in %s (%v)", xid, left, u.table, err)
				}
				time.Sleep(50 * time.Millisecond)
			}
		}
	}
	checkTCCOutcomes(t, tccDB(t, tcc.Postgres), biz, decided)
	c.checkNoBranches()
	t.Logf("%d transfers (%d decided as commits) across a takeover", len(results), countTrue(decided))
}

// transfer is one test transaction and how WithGlobalTx ended.
type transfer struct {
	id, amount int
	rollback   bool
	err        error
}

// checkTCCOutcomes checks that each committed transaction's TCC branch
// was confirmed once, and each rolled-back one whose Try ran was
// cancelled once (a Cancel without a Try records nothing here).
func checkTCCOutcomes(t *testing.T, db *sql.DB, biz string, committed map[txc.XID]bool) {
	t.Helper()
	rs, err := db.Query("SELECT xid, phase, COUNT(*) FROM " + biz + " GROUP BY xid, phase")
	if err != nil {
		t.Fatal(err)
	}
	defer rs.Close()
	seen, tried := map[txc.XID]string{}, map[txc.XID]bool{}
	for rs.Next() {
		var xid, phase string
		var n int
		if err := rs.Scan(&xid, &phase, &n); err != nil {
			t.Fatal(err)
		}
		if phase == "try" {
			tried[txc.XID(xid)] = true
			continue
		}
		if n != 1 || seen[txc.XID(xid)] != "" {
			t.Errorf("%s: %s ran %d times (after %q)", xid, phase, n, seen[txc.XID(xid)])
		}
		seen[txc.XID(xid)] = phase
	}
	for xid, ok := range committed {
		want := "cancel"
		if ok {
			want = "confirm"
		}
		if got := seen[xid]; got != want && (ok || tried[xid]) {
			t.Errorf("%s: TCC branch ended %q, want %q", xid, got, want)
		}
	}
}

func countTrue(m map[txc.XID]bool) int {
	n := 0
	for _, v := range m {
		if v {
			n++
		}
	}
	return n
}

// waitFor polls cond until it holds or within passes.
func waitFor(t *testing.T, within time.Duration, cond func() bool, what string) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("waited %v for %s", within, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
