// Command tcc shows TCC participants against a running txc-server: an order
// reserves stock from a "stock" service over HTTP (the XID travels in a
// header; the stock service registers its own branch, fenced in PostgreSQL
// or MySQL) and charges a "payment" participant that calls no database
// (no fence: its Confirm and Cancel are idempotent by themselves). The first
// order commits, the second rolls back.
//
//	make run                                  # in another terminal
//	go run ./examples/tcc                     # PostgreSQL at 127.0.0.1:5432, database test
//	go run ./examples/tcc --driver mysql --dsn 'root@tcp(127.0.0.1:3306)/test'
package main

import (
	"context"
	"database/sql"
	"errors"
	"flag"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
	"strconv"
	"time"

	_ "github.com/go-sql-driver/mysql"
	_ "github.com/jackc/pgx/v5/stdlib"

	"github.com/txcio/txc/client"
	"github.com/txcio/txc/rm"
	"github.com/txcio/txc/rm/tcc"
	"github.com/txcio/txc/tm"
)

// Reservation is the stock participant's argument: Confirm and Cancel get
// the same value Try got, decoded from the branch.
type Reservation struct {
	SKU string
	N   int
}

// Charge is the payment participant's argument.
type Charge struct {
	Account string
	Cents   int64
}

func main() {
	addr := flag.String("addr", "127.0.0.1:8091", "txc-server gRPC address")
	driver := flag.String("driver", "pgx", "database/sql driver of the stock service: pgx or mysql")
	dsn := flag.String("dsn", "postgres://postgres@127.0.0.1:5432/test?sslmode=disable", "stock service database")
	flag.Parse()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	sec, err := client.OptionsFromEnv(os.Getenv) // TXC_TLS_CA, TXC_TOKEN, …: see README "Security"
	if err != nil {
		log.Fatal(err)
	}
	conn, err := client.Dial(context.Background(), *addr, sec...) // gives up after client.DefaultDialTimeout
	if err != nil {
		log.Fatal(err)
	}
	defer conn.Close()
	tm.SetDefault(tm.New(conn))
	mgr := rm.New(conn)

	// A commit's phase 2 (Confirm) runs after WithGlobalTx returns; a
	// rollback's (Cancel) before it returns. The example waits for both
	// Confirms of the first order so that its output comes in order.
	confirms := make(chan struct{}, 16)
	confirmed := func() {
		select {
		case confirms <- struct{}{}:
		default:
		}
	}
	db, err := sql.Open(*driver, *dsn)
	if err != nil {
		log.Fatal(err)
	}
	defer db.Close()
	stockURL := startStock(ctx, mgr, db, confirmed)
	charge := declarePayment(mgr, confirmed)

	fmt.Println("first order:", order(ctx, stockURL, charge, "apple", 2, 300, nil))
	for range 2 {
		<-confirms
	}
	// WithGlobalTx returns once both Cancels have run.
	fmt.Println("second order:", order(ctx, stockURL, charge, "pear", 1, 150, errors.New("out of pears")))
}

// startStock runs the stock service: a participant fenced in db, whose
// Try is called over HTTP. It returns the service's URL.
func startStock(ctx context.Context, mgr *rm.Manager, db *sql.DB, confirmed func()) string {
	fence, err := tcc.NewFence(ctx, db, tcc.FenceOptions{CreateTable: true})
	if err != nil {
		log.Fatal(err)
	}
	go fence.RunCleanup(ctx, time.Hour, 24*time.Hour) // deletes finished fence rows after a day
	stockRes, err := tcc.NewResource(mgr, "tcc:stock")
	if err != nil {
		log.Fatal(err)
	}
	reserve, err := tcc.DeclareFenced(stockRes, "reserve", fence, tcc.FencedFuncs[Reservation]{
		// Each runs in the fence's local transaction: do the business change in tx.
		Try: func(ctx context.Context, tx *sql.Tx, r Reservation) error {
			fmt.Printf("stock   try     reserve %d %s\n", r.N, r.SKU)
			return nil
		},
		Confirm: func(ctx context.Context, tx *sql.Tx, r Reservation) error {
			defer confirmed()
			fmt.Printf("stock   confirm ship %d %s\n", r.N, r.SKU)
			return nil
		},
		Cancel: func(ctx context.Context, tx *sql.Tx, r Reservation) error {
			fmt.Printf("stock   cancel  release %d %s\n", r.N, r.SKU)
			return nil
		},
	})
	if err != nil {
		log.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /reserve", func(w http.ResponseWriter, r *http.Request) {
		n, _ := strconv.Atoi(r.URL.Query().Get("n"))
		if err := reserve.Try(r.Context(), Reservation{SKU: r.URL.Query().Get("sku"), N: n}); err != nil {
			http.Error(w, err.Error(), http.StatusConflict)
		}
	})
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	go http.Serve(l, tm.HTTPMiddleware(mux)) // the middleware puts the caller's XID in r.Context()
	return "http://" + l.Addr().String()
}

// declarePayment declares the payment participant, which calls no
// database.
func declarePayment(mgr *rm.Manager, confirmed func()) *tcc.Participant[Charge] {
	payRes, err := tcc.NewResource(mgr, "tcc:payment")
	if err != nil {
		log.Fatal(err)
	}
	charge, err := tcc.Declare(payRes, "charge", tcc.Funcs[Charge]{
		Try: func(ctx context.Context, c Charge) error {
			fmt.Printf("payment try     hold %d cents on %s\n", c.Cents, c.Account)
			return nil
		},
		Confirm: func(ctx context.Context, c Charge) error { // idempotent: capturing a hold twice is harmless
			defer confirmed()
			b, _ := tcc.BranchFromContext(ctx)
			fmt.Printf("payment confirm capture %d cents on %s (%s branch %d)\n", c.Cents, c.Account, b.XID, b.ID)
			return nil
		},
		Cancel: func(ctx context.Context, c Charge) error { // idempotent; must accept a Try that never ran
			fmt.Printf("payment cancel  release %d cents on %s\n", c.Cents, c.Account)
			return nil
		},
	})
	if err != nil {
		log.Fatal(err)
	}
	return charge
}

// order is one global transaction over both participants: fail nil
// commits (Confirm runs on both), an error rolls back (Cancel on both).
func order(ctx context.Context, stockURL string, charge *tcc.Participant[Charge], sku string, n int, cents int64, fail error) error {
	httpc := &http.Client{Transport: tm.RoundTripper(nil)} // sends ctx's XID in a header
	return tm.WithGlobalTx(ctx, tm.Config{Name: "order", Timeout: 10 * time.Second}, func(ctx context.Context) error {
		if err := charge.Try(ctx, Charge{Account: "alice", Cents: cents}); err != nil {
			return err
		}
		req, _ := http.NewRequestWithContext(ctx, "POST", fmt.Sprintf("%s/reserve?sku=%s&n=%d", stockURL, sku, n), nil)
		resp, err := httpc.Do(req)
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("stock: %s", resp.Status)
		}
		return fail
	})
}
