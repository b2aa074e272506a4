package tm_test

import (
	"context"
	"fmt"
	"time"

	"github.com/txcio/txc"
	"github.com/txcio/txc/tm"
)

// memCoordinator stands in for a *client.Conn connected to a txc-server.
type memCoordinator struct{ seq uint64 }

func (c *memCoordinator) Begin(ctx context.Context, name string, timeout time.Duration) (txc.XID, error) {
	c.seq++
	return txc.NewXID("tc1", c.seq), nil
}
func (c *memCoordinator) Commit(ctx context.Context, xid txc.XID) (txc.GlobalStatus, error) {
	return txc.GlobalCommitting, nil
}
func (c *memCoordinator) Rollback(ctx context.Context, xid txc.XID) (txc.GlobalStatus, error) {
	return txc.GlobalRollbacking, nil
}
func (c *memCoordinator) Status(ctx context.Context, xid txc.XID) (txc.GlobalStatus, error) {
	return txc.GlobalBegin, nil
}

func ExampleWithGlobalTx() {
	// In a real program: conn, err := client.Dial(ctx, "127.0.0.1:8091", …)
	tm.SetDefault(tm.New(&memCoordinator{}))
	defer tm.SetDefault(nil)

	ctx := context.Background()
	err := tm.WithGlobalTx(ctx, tm.Config{Name: "transfer", Timeout: 30 * time.Second}, func(ctx context.Context) error {
		xid, _ := tm.XIDFromContext(ctx)
		fmt.Println("in global transaction", xid)
		// Debit and credit through the txc SQL driver, call other services
		// with clients that use tm.UnaryClientInterceptor or tm.RoundTripper:
		// everything done with ctx joins the transaction. Returning an error
		// rolls it all back.
		return nil
	})
	fmt.Println("committed:", err == nil)
	// Output:
	// in global transaction tc1:1
	// committed: true
}
