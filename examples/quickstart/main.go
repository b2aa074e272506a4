// Command quickstart is the README's example: one process that is both a
// transaction manager and a resource manager, against a running txc-server.
//
//	make run                      # in another terminal
//	go run ./examples/quickstart  # commits one global transaction, rolls back another
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log"
	"os"
	"time"

	"github.com/txcio/txc"
	"github.com/txcio/txc/client"
	"github.com/txcio/txc/rm"
	"github.com/txcio/txc/tm"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:8091", "txc-server gRPC address")
	flag.Parse()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	// One multiplexed stream per process; gives up after client.DefaultDialTimeout
	// (5 s) when no coordinator answers.
	sec, err := client.OptionsFromEnv(os.Getenv) // TXC_TLS_CA, TXC_TOKEN, …: see README "Security"
	if err != nil {
		log.Fatal(err)
	}
	conn, err := client.Dial(context.Background(), *addr, sec...)
	if err != nil {
		log.Fatal(err)
	}
	defer conn.Close()
	tm.SetDefault(tm.New(conn))

	// A resource whose phase 2 is plain Go (AT, TCC and saga handlers plug in the same way).
	inventory := rm.New(conn)
	// A commit's phase 2 runs after WithGlobalTx returns (committed is only
	// for this example's output order); a rollback's runs before it returns.
	committed := make(chan struct{}, 1)
	inventory.AddResource("inventory", txc.BranchGeneric, rm.HandlerFuncs{
		CommitFunc: func(_ context.Context, b rm.Branch) error {
			fmt.Println("commit  ", b.XID, b.ID)
			committed <- struct{}{}
			return nil
		},
		RollbackFunc: func(_ context.Context, b rm.Branch) error { fmt.Println("rollback", b.XID, b.ID); return nil },
	})

	reserve := func(ctx context.Context, sku string) error {
		xid, _ := tm.XIDFromContext(ctx)
		_, err := inventory.RegisterBranch(ctx, client.Branch{XID: xid, Type: txc.BranchGeneric, ResourceID: "inventory",
			LockKeys: []txc.LockKey{{Table: "stock", Rows: []string{txc.RowKey(sku)}}}})
		return err
	}

	err = tm.WithGlobalTx(ctx, tm.Config{Name: "order", Timeout: 10 * time.Second}, func(ctx context.Context) error {
		return reserve(ctx, "apple")
	})
	fmt.Println("first transaction:", err)
	<-committed

	out := errors.New("out of pears")
	err = tm.WithGlobalTx(ctx, tm.Config{Name: "order"}, func(ctx context.Context) error {
		if err := reserve(ctx, "pear"); err != nil {
			return err
		}
		return out // any error rolls the global transaction back
	})
	fmt.Println("second transaction:", err) // its rollback has run
}
