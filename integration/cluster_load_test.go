package integration

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/txcio/txc"
	"github.com/txcio/txc/client"
)

// TestClusterLeaderKilledUnderLoad: three nodes on a SQL store, 16
// clients dialing all three; the leader is killed with SIGKILL mid-load
// and later restarted. Another node must serve within 10 s and carry
// every acknowledged outcome out; the store ends empty of branches; few
// phase-2 commands are repeats.
func TestClusterLeaderKilledUnderLoad(t *testing.T) {
	for _, s := range clusterStores {
		t.Run(s.store, func(t *testing.T) {
			c := startCluster(t, s.store, s.dsn, s.db(t), 3, nil)
			lead := c.leader(30*time.Second, nil)
			load := startLedgerLoad(t, c.target(), 16)
			load.waitDecided(t, 100)
			lead.kill9()
			killed := time.Now()
			next := c.leader(10*time.Second, lead)
			t.Logf("%s took over from %s in %v", next.addr, lead.addr, time.Since(killed).Round(time.Millisecond))
			lead.restart() // back as a standby
			load.waitDecided(t, len(load.decided())+100)
			load.stop()
			waitQuiet(t, next, 60*time.Second)
			load.check(t)
			c.checkNoBranches()
			repeats, commands := metricSum(t, next, "txc_phase2_repeats_total"), metricSum(t, next, "txc_phase2_commands_total")
			t.Logf("phase-2 commands on the new leader: %v, of which may repeat one sent before: %v", commands, repeats)
			if commands == 0 || repeats*4 > commands {
				t.Errorf("%v of %v phase-2 commands were repeats; they should be rare", repeats, commands)
			}
		})
	}
}

// TestClusterRaceSameRows: two clients, each dialing the nodes in another
// order, race to register the same row in 50 rounds: exactly one wins
// every round (locks are not per node).
func TestClusterRaceSameRows(t *testing.T) {
	s := clusterStores[0]
	c := startCluster(t, s.store, s.dsn, s.db(t), 2, nil)
	c.leader(30*time.Second, nil)
	a := dial(t, c.nodes[0].addr+","+c.nodes[1].addr, "a")
	b := dial(t, c.nodes[1].addr+","+c.nodes[0].addr, "b")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for round := range 50 {
		row := strconv.Itoa(round)
		var wins, conflicts int
		var mu sync.Mutex
		var wg sync.WaitGroup
		for _, conn := range []*client.Conn{a, b} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				xid, err := conn.Begin(ctx, "race", 0)
				if err != nil {
					t.Error(err)
					return
				}
				defer conn.Rollback(ctx, xid)
				_, err = conn.Register(ctx, client.Branch{XID: xid, Type: txc.BranchGeneric, ResourceID: "db",
					LockKeys: []txc.LockKey{{Table: "account", Rows: []string{row}}}})
				mu.Lock()
				defer mu.Unlock()
				switch {
				case err == nil:
					wins++
				case errors.Is(err, txc.ErrLockConflict):
					conflicts++
				default:
					t.Error(err)
				}
			}()
		}
		wg.Wait()
		if wins != 1 || conflicts != 1 {
			t.Fatalf("round %d: %d registrations won, %d conflicted; want exactly one each", round, wins, conflicts)
		}
	}
}

// TestClusterServesWithoutEtcd: with etcd stopped, the leader keeps
// serving (for several lease lengths) and clients with a static list keep
// working; when etcd is back, one node leads.
func TestClusterServesWithoutEtcd(t *testing.T) {
	s := clusterStores[0]
	c := startCluster(t, s.store, s.dsn, s.db(t), 2, nil)
	c.leader(30*time.Second, nil)
	conn := dial(t, c.target(), "tm")
	c.etcd.Stop()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for until := time.Now().Add(6 * time.Second); time.Now().Before(until); {
		xid, err := conn.Begin(ctx, "no-etcd", 0)
		if err != nil {
			t.Fatalf("begin with etcd down: %v", err)
		}
		if _, err := conn.Commit(ctx, xid); err != nil {
			t.Fatalf("commit with etcd down: %v", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	c.etcd.Restart()
	c.leader(30*time.Second, nil)
	xid, err := conn.Begin(ctx, "etcd-back", 0)
	if err == nil {
		_, err = conn.Commit(ctx, xid)
	}
	if err != nil {
		t.Fatalf("after etcd came back: %v", err)
	}
}

// TestClusterLeaderCutOffFromStore: the leader's link to the store fails
// (a TCP proxy closes it and refuses new connections); the leader stops
// serving and another node takes over; transactions begun before the cut
// are finished by the new leader.
func TestClusterLeaderCutOffFromStore(t *testing.T) {
	s := clusterStores[0]
	db := s.db(t)
	var proxies []*faultProxy
	c := startCluster(t, s.store, s.dsn, db, 2, func(i int) string {
		p := startFaultProxy(t, "127.0.0.1:5432")
		proxies = append(proxies, p)
		return strings.Replace(s.dsn, "127.0.0.1:5432", p.addr(), 1)
	})
	lead := c.leader(30*time.Second, nil)
	i := 0
	if lead == c.nodes[1] {
		i = 1
	}
	load := startLedgerLoad(t, c.target(), 4)
	load.waitDecided(t, 50)
	proxies[i].setCut(true)
	next := c.leader(20*time.Second, lead)
	if code, _ := lead.get("/readyz"); code == 200 {
		t.Fatalf("the node cut off from its store still serves")
	}
	load.waitDecided(t, len(load.decided())+50)
	load.stop()
	waitQuiet(t, next, 60*time.Second)
	load.check(t)
	c.checkNoBranches()
}

// checkNoBranches fails the test if the store still holds a branch a few
// seconds after every transaction finished.
func (c *testCluster) checkNoBranches() {
	c.t.Helper()
	waitNoBranches(c.t, c.db, c.prefix)
}

// metricSum adds up every series of a counter on p's /metrics.
func metricSum(t *testing.T, p *tcProcess, name string) float64 {
	t.Helper()
	code, body := p.get("/metrics")
	if code != 200 {
		t.Fatalf("/metrics: %d %s", code, body)
	}
	var sum float64
	for _, line := range strings.Split(body, "\n") {
		if !strings.HasPrefix(line, name+"{") && !strings.HasPrefix(line, name+" ") {
			continue
		}
		f := strings.Fields(line)
		v, err := strconv.ParseFloat(f[len(f)-1], 64)
		if err != nil {
			t.Fatalf("metric line %q: %v", line, err)
		}
		sum += v
	}
	return sum
}

// decided returns the transactions decided so far.
func (l *ledgerLoad) decided() map[txc.XID]outcome {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := make(map[txc.XID]outcome, len(l.told))
	for k, v := range l.told {
		out[k] = v
	}
	return out
}

// waitDecided waits until n transactions were decided.
func (l *ledgerLoad) waitDecided(t *testing.T, n int) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for len(l.decided()) < n {
		if time.Now().After(deadline) {
			t.Fatal(fmt.Sprintf("only %d of %d transactions decided in 60s", len(l.decided()), n))
		}
		time.Sleep(20 * time.Millisecond)
	}
}
