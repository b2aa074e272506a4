package main

import (
	"bytes"
	"context"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// TestFloorDoesTheCoordinatorsIO runs tc-2branch against the floor, with
// the real client and RM agent: every transaction commits, each of its two
// branches gets its phase-2 command and acknowledges it, and the replies
// the client waits for (Begin with the first Register, the second
// Register, Commit) cost one sync each at one client, none for the
// acknowledgements.
func TestFloorDoesTheCoordinatorsIO(t *testing.T) {
	for _, inline := range []bool{false, true} {
		lis, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		served := make(chan floorCounts, 1)
		dir := t.TempDir()
		go func() {
			c, err := serveFloor(ctx, lis, dir, inline)
			if err != nil {
				t.Error(err)
			}
			served <- c
		}()
		addr, resources := lis.Addr().String(), []string{"floor-a", "floor-b"}
		stopRM, err := startRMInProcess(ctx, addr, resources)
		if err != nil {
			t.Fatal(err)
		}
		r, _, err := run2Branch(ctx, addr, 1, 1, 0, 500*time.Millisecond, resources, false)
		if err != nil {
			t.Fatal(err)
		}
		acked, err := stopRM()
		if err != nil {
			t.Fatal(err)
		}
		cancel()
		c := <-served
		written, err := os.ReadFile(filepath.Join(dir, "floor.log"))
		if err != nil || !bytes.Contains(written, []byte("floor-b")) {
			t.Errorf("inline=%v: the synced file holds no request (%v)", inline, err)
		}
		if r.Tx == 0 || r.Errors != 0 {
			t.Fatalf("inline=%v: %d transactions, %d errors", inline, r.Tx, r.Errors)
		}
		if acked != 2*c.Begun || c.Results != acked {
			t.Errorf("inline=%v: %d begun, %d commands acknowledged, %d results received; want 2 per transaction", inline, c.Begun, acked, c.Results)
		}
		if c.Synced != 4*c.Begun {
			t.Errorf("inline=%v: %d requests synced for %d transactions, want 4 each", inline, c.Synced, c.Begun)
		}
		// A Begin the client held back for longer than its linger leaves
		// alone and costs a sync of its own; anything else is one sync per
		// waited reply.
		if c.Syncs < 3*c.Begun || c.Syncs > 4*c.Begun {
			t.Errorf("inline=%v: %d syncs for %d transactions, want 3 to 4 each", inline, c.Syncs, c.Begun)
		}
	}
}
