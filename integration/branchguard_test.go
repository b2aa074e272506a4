package integration

import (
	"context"
	"encoding/json"
	"errors"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/metadata"

	"github.com/txcio/txc"
	"github.com/txcio/txc/client"
	txcv1 "github.com/txcio/txc/proto/txc/v1"
)

// TestOtherIdentityCannotSettleABranch: payments may serve payments-db
// only. It can neither report orders' branch as failed nor forge the
// result of a phase-2 command sent to orders' stream (with the command's
// real id), and orders' own result still finishes the transaction.
func TestOtherIdentityCannotSettleABranch(t *testing.T) {
	ca := newTestCA(t, "txc-test-ca")
	tokens, policy := tokenPolicySetup(t)
	p := startTLSTC(t, ca, nil, "--tokens-file", tokens, "--policy-file", policy)
	tlsCfg := clientTLS(t, ca, "", "")
	ctx := context.Background()
	orders, err := tryDial(t, p.addr, client.WithTLS(tlsCfg), client.WithToken("orders-token-0123456789"))
	if err != nil {
		t.Fatal(err)
	}
	payments, err := tryDial(t, p.addr, client.WithTLS(tlsCfg), client.WithToken("payments-token-0123456789"))
	if err != nil {
		t.Fatal(err)
	}
	got := make(chan client.Command, 1)
	release := make(chan struct{})
	var once sync.Once
	free := func() { once.Do(func() { close(release) }) }
	t.Cleanup(free) // before orders.Close, which waits for handlers
	if err := orders.Serve([]string{"orders-db"}, func(_ context.Context, cmd client.Command) (txc.BranchStatus, string) {
		select {
		case got <- cmd:
		default:
		}
		<-release
		return txc.BranchRollbacked, ""
	}); err != nil {
		t.Fatal(err)
	}
	xid, err := orders.Begin(ctx, "guarded", 30*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	bid, err := orders.Register(ctx, client.Branch{XID: xid, Type: txc.BranchTCC, ResourceID: "orders-db"})
	if err != nil {
		t.Fatal(err)
	}
	if err := payments.Report(ctx, xid, bid, txc.BranchPhaseOneFailed); !errors.Is(err, txc.ErrPermissionDenied) {
		t.Fatalf("payments Report on orders' branch = %v, want ErrPermissionDenied", err)
	}
	if _, err := orders.Rollback(ctx, xid); err != nil {
		t.Fatal(err)
	}
	var cmd client.Command
	select {
	case cmd = <-got:
	case <-time.After(10 * time.Second):
		t.Fatal("no rollback command reached orders")
	}

	// payments forges the result on its own raw stream.
	cc, err := grpc.NewClient(p.addr, grpc.WithTransportCredentials(credentials.NewTLS(tlsCfg)),
		grpc.WithDefaultCallOptions(grpc.ForceCodecV2(txcv1.Codec{})))
	if err != nil {
		t.Fatal(err)
	}
	defer cc.Close()
	sctx := metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer payments-token-0123456789")
	stream, err := txcv1.NewCoordinatorClient(cc).Session(sctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := stream.Send(&txcv1.ClientFrame{Messages: []*txcv1.ClientMessage{
		{Id: 1, Body: &txcv1.ClientMessage_Hello{Hello: &txcv1.Hello{Version: 1, ClientName: "forger", ResourceIds: []string{"payments-db"}}}},
		{Id: cmd.ID, Body: &txcv1.ClientMessage_BranchResult{BranchResult: &txcv1.BranchResult{
			Xid: string(xid), BranchId: uint64(bid), Status: txcv1.BranchStatus(txc.BranchRollbacked)}}},
	}}); err != nil {
		t.Fatal(err)
	}
	if _, err := stream.Recv(); err != nil { // the Hello's reply
		t.Fatal(err)
	}
	// A request sent after the forged result is answered after the
	// coordinator handled that result: then the branch is looked at.
	if err := stream.Send(&txcv1.ClientFrame{Messages: []*txcv1.ClientMessage{
		{Id: 2, Body: &txcv1.ClientMessage_Status{Status: &txcv1.StatusRequest{Xid: string(xid)}}},
	}}); err != nil {
		t.Fatal(err)
	}
	awaitReply(t, stream, 2)
	branch := func() (status string, inFlight bool) {
		_, body := adminCall(t, p, "GET", "/v1/transactions/"+string(xid), "ops-ro-token-0123456789")
		var v struct {
			Status   string `json:"status"`
			Branches []struct {
				Status   string `json:"status"`
				InFlight bool   `json:"in_flight"`
			} `json:"branches"`
		}
		if err := json.Unmarshal([]byte(body), &v); err != nil || len(v.Branches) != 1 {
			t.Fatalf("transaction view: %v %s", err, body)
		}
		return v.Status, v.Branches[0].InFlight
	}
	if st, inFlight := branch(); !inFlight || st == "Rollbacked" {
		t.Fatalf("the forged result settled orders' branch: transaction %s, branch in flight %v", st, inFlight)
	}
	free()
	deadline := time.Now().Add(10 * time.Second)
	for {
		st, err := orders.Status(ctx, xid)
		if err == nil && st == txc.GlobalRollbacked || errors.Is(err, txc.ErrUnknownTransaction) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("orders' own result did not finish the rollback: %v %v", st, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// awaitReply receives frames on stream until one carries the reply to
// request id.
func awaitReply(t *testing.T, stream txcv1.Coordinator_SessionClient, id uint64) {
	t.Helper()
	for {
		f, err := stream.Recv()
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range f.Messages {
			if m.Id == id {
				return
			}
		}
	}
}
