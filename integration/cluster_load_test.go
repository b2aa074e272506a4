package integration

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/txcio/txc"
	"github.com/txcio/txc/client"
	"github.com/txcio/txc/internal/faultlink"
)

// TestClusterNodeKilledUnderLoad: three active nodes on a SQL store, 16
// clients dialing all three (their Begins spread over the nodes); one
// node is killed with SIGKILL mid-load and later restarted. Another node
// must adopt its partition within 10 s and carry every acknowledged
// outcome out, and hand the partition back when it returns; the stores
// end empty of branches and the shared lock table of rows; few phase-2
// commands are repeats.
func TestClusterNodeKilledUnderLoad(t *testing.T) {
	for _, s := range clusterStores {
		t.Run(s.store, func(t *testing.T) {
			c := startCluster(t, s.store, s.dsn, s.db(t), 3, nil)
			load := startLedgerLoad(t, c.target(), 16)
			load.waitDecided(t, 100)
			victim := c.nodes[0]
			victim.kill9()
			killed := time.Now()
			adopter := c.hostedBy(c.names[0], 10*time.Second, victim)
			t.Logf("%s adopted %s's partition %v after the kill", adopter.addr, victim.addr, time.Since(killed).Round(time.Millisecond))
			load.waitDecided(t, len(load.decided())+50)
			victim.restart()
			c.handedBack(c.names[0], victim, 30*time.Second)
			load.waitDecided(t, len(load.decided())+100)
			load.stop()
			c.waitQuiet(60 * time.Second)
			load.check(t)
			c.checkNoBranches()
			c.checkSpread(load.decided())
			var repeats, commands float64
			for _, p := range c.nodes {
				repeats += metricSum(t, p, "txc_phase2_repeats_total")
				commands += metricSum(t, p, "txc_phase2_commands_total")
			}
			t.Logf("phase-2 commands since the restart: %v, of which repeats of one sent before: %v", commands, repeats)
			if commands == 0 || repeats*4 > commands {
				t.Errorf("%v of %v phase-2 commands were repeats; they should be rare", repeats, commands)
			}
		})
	}
}

// checkSpread fails the test unless every node began some of xids.
func (c *testCluster) checkSpread(xids map[txc.XID]outcome) {
	c.t.Helper()
	per := map[string]int{}
	for x := range xids {
		node, _, err := x.Parse()
		if err != nil {
			c.t.Fatal(err)
		}
		per[node]++
	}
	for _, n := range c.names {
		if per[n] == 0 {
			c.t.Errorf("node %s began none of %d transactions: Begins are not balanced (%v)", n, len(xids), per)
		}
	}
}

// waitQuiet waits until no live node has an active transaction or a lock.
func (c *testCluster) waitQuiet(within time.Duration) {
	c.t.Helper()
	for _, p := range c.nodes {
		if p.cmd != nil {
			waitQuiet(c.t, p, within)
		}
	}
}

// TestClusterRaceSameRows: two clients, each dialing a different node (so
// their transactions are in different partitions), race to register the
// same row in 50 rounds: exactly one wins every round (locks are not per
// node).
func TestClusterRaceSameRows(t *testing.T) {
	s := clusterStores[0]
	c := startCluster(t, s.store, s.dsn, s.db(t), 2, nil)
	a := dial(t, c.nodes[0].addr, "a")
	b := dial(t, c.nodes[1].addr, "b")
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

// TestClusterServesWithoutEtcd: with etcd stopped, every node keeps
// serving its partition (for several lease lengths) and clients with a
// static list keep working on all of them; when etcd is back, each node
// still hosts its own partition.
func TestClusterServesWithoutEtcd(t *testing.T) {
	s := clusterStores[0]
	c := startCluster(t, s.store, s.dsn, s.db(t), 2, nil)
	conn := dial(t, c.target(), "tm")
	c.etcd.Stop()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	begun := map[txc.XID]outcome{}
	for until := time.Now().Add(6 * time.Second); time.Now().Before(until); {
		xid, err := conn.Begin(ctx, "no-etcd", 0)
		if err != nil {
			t.Fatalf("begin with etcd down: %v", err)
		}
		if _, err := conn.Commit(ctx, xid); err != nil {
			t.Fatalf("commit with etcd down: %v", err)
		}
		begun[xid] = outcome{}
		time.Sleep(20 * time.Millisecond)
	}
	c.checkSpread(begun)
	c.etcd.Restart()
	for i := range c.nodes {
		c.handedBack(c.names[i], c.nodes[i], 30*time.Second)
	}
	xid, err := conn.Begin(ctx, "etcd-back", 0)
	if err == nil {
		_, err = conn.Commit(ctx, xid)
	}
	if err != nil {
		t.Fatalf("after etcd came back: %v", err)
	}
}

// TestClusterNodeCutOffFromStore: a node's link to the store fails (a TCP
// proxy closes it and refuses new connections); the node stops deciding
// for its partition and another node takes the partition over;
// transactions begun there before the cut are finished by the adopter.
func TestClusterNodeCutOffFromStore(t *testing.T) {
	s := clusterStores[0]
	db := s.db(t)
	var links []*faultlink.Link
	c := startCluster(t, s.store, s.dsn, db, 2, func(i int) string {
		l := faultlink.Start(t, "127.0.0.1:5432")
		links = append(links, l)
		return strings.Replace(s.dsn, "127.0.0.1:5432", l.Addr(), 1)
	})
	load := startLedgerLoad(t, c.target(), 4)
	load.waitDecided(t, 50)
	links[0].SetCut(true)
	adopter := c.hostedBy(c.names[0], 20*time.Second, c.nodes[0])
	if slices.Contains(c.nodes[0].hosting(), c.names[0]) {
		t.Fatalf("the node cut off from its store still hosts its partition")
	}
	load.waitDecided(t, len(load.decided())+50)
	load.stop()
	waitQuiet(t, adopter, 60*time.Second)
	load.check(t)
	c.checkNoBranches()
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
