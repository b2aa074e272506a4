package servertest

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/txcio/txc"
	"github.com/txcio/txc/client"
	"github.com/txcio/txc/rm"
)

// Park leaves a transaction parked as needing manual action on the
// coordinator behind conn, for tests of the tools that show and resolve
// such transactions: it begins a transaction named "transfer" with one
// Generic branch on resource locking row "7" of table "accounts", whose
// rollback fails for good with reason, rolls it back and waits (up to 10
// s) until the coordinator reports RollbackFailed.
func Park(t testing.TB, conn *client.Conn, resource, reason string) txc.XID {
	t.Helper()
	m := rm.New(conn)
	m.AddResource(resource, txc.BranchGeneric, rm.HandlerFuncs{
		RollbackFunc: func(context.Context, rm.Branch) error { return txc.Permanent(errors.New(reason)) },
	})
	ctx := context.Background()
	xid, err := conn.Begin(ctx, "transfer", 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := m.RegisterBranch(ctx, client.Branch{XID: xid, Type: txc.BranchGeneric, ResourceID: resource,
		LockKeys: []txc.LockKey{{Table: "accounts", Rows: []string{"7"}}}}); err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Rollback(ctx, xid); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		if s, _ := conn.Status(ctx, xid); s == txc.GlobalRollbackFailed {
			return xid
		}
		if time.Now().After(deadline) {
			t.Fatalf("servertest: %s not parked", xid)
		}
	}
}
