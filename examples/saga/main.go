// Command saga runs an order saga defined in JSON (order.json) against a
// running txc-server: reserve stock from a "stock" service over HTTP,
// charge a payment service (a Go function), ship. The execution log is kept
// in PostgreSQL or MySQL. Four orders: one ships, one is declined by the
// payment service (the stock is released), one is too large (a
// CompensationTrigger releases the stock), and one asks for more than the
// stock holds (caught: the saga fails without anything to undo). The last
// runs asynchronously: Start returns its ID, Wait follows it.
//
//	make run                                      # in another terminal
//	go run ./examples/saga                        # PostgreSQL at 127.0.0.1:5432, database test
//	go run ./examples/saga --driver mysql --dsn 'root@tcp(127.0.0.1:3306)/test'
package main

import (
	"context"
	"database/sql"
	_ "embed"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
	"sync"
	"time"

	_ "github.com/go-sql-driver/mysql"
	_ "github.com/jackc/pgx/v5/stdlib"

	"github.com/txcio/txc/client"
	"github.com/txcio/txc/rm"
	"github.com/txcio/txc/saga"
	"github.com/txcio/txc/saga/httpservice"
	"github.com/txcio/txc/saga/lang"
	"github.com/txcio/txc/saga/sqllog"
)

//go:embed order.json
var orderJSON []byte

type order struct {
	SKU      string  `json:"sku"`
	Qty      int     `json:"qty"`
	Customer string  `json:"customer"`
	Amount   float64 `json:"amount"`
}

func main() {
	addr := flag.String("addr", "127.0.0.1:8091", "txc-server address")
	driver := flag.String("driver", "pgx", "database/sql driver of the log: pgx or mysql")
	dsn := flag.String("dsn", "postgres://postgres@127.0.0.1:5432/test?sslmode=disable", "DSN of the log's database")
	flag.Parse()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := run(ctx, *addr, *driver, *dsn); err != nil {
		log.Fatal(err)
	}
}

func run(ctx context.Context, addr, driver, dsn string) error {
	db, err := sql.Open(driver, dsn)
	if err != nil {
		return err
	}
	defer db.Close()
	store, err := sqllog.New(ctx, db, sqllog.Options{CreateTables: true})
	if err != nil {
		return err
	}
	defer store.Close()

	sec, err := client.OptionsFromEnv(os.Getenv) // TXC_TLS_CA, TXC_TOKEN, …: see README "Security"
	if err != nil {
		log.Fatal(err)
	}
	conn, err := client.Dial(context.Background(), addr, sec...) // gives up after client.DefaultDialTimeout
	if err != nil {
		return err
	}
	defer conn.Close()
	host, _ := os.Hostname()
	eng, err := saga.NewEngine(saga.Config{
		Name:        "example-" + host, // stable across restarts: the coordinator resumes this engine's sagas here
		Coordinator: saga.Coordinated(rm.New(conn)),
		Store:       store,
	})
	if err != nil {
		return err
	}

	if err := registerServices(eng); err != nil {
		return err
	}
	// Sagas this engine left unfinished in an earlier run resume now.
	go eng.Recover(ctx)

	if err := placeOrders(ctx, eng); err != nil {
		return err
	}
	return startAndWait(ctx, eng)
}

// registerServices tells eng how to call each service the saga names, and
// registers the saga itself from its JSON definition.
func registerServices(eng *saga.Engine) error {
	stockURL, err := stockService()
	if err != nil {
		return err
	}
	eng.RegisterService("stock.reserve", &httpservice.Service{URL: stockURL + "/reserve"})
	eng.RegisterService("stock.release", &httpservice.Service{URL: stockURL + "/release"})
	eng.RegisterService("payment.charge", saga.Func(func(ctx context.Context, r *saga.Request, o order) (map[string]string, error) {
		if o.Customer == "mallory" {
			return nil, saga.NewError("Declined", "card of %s declined", o.Customer)
		}
		return map[string]string{"payment": "pay-" + r.Key}, nil // the idempotency key makes a retry harmless
	}))
	eng.RegisterService("payment.refund", saga.Func(func(ctx context.Context, r *saga.Request, in struct{ Payment string }) (any, error) {
		fmt.Printf("  refund %q\n", in.Payment) // empty when the charge never happened: nothing to refund
		return nil, nil
	}))
	eng.RegisterService("shipping.ship", saga.Func(func(ctx context.Context, r *saga.Request, in struct{ Reservation string }) (map[string]string, error) {
		return map[string]string{"parcel": "parcel-for-" + in.Reservation}, nil
	}))
	defs, err := lang.Load(orderJSON)
	if err != nil {
		return err
	}
	return eng.Register(defs["order"])
}

// placeOrders runs three orders to their end: one succeeds, two are
// compensated.
func placeOrders(ctx context.Context, eng *saga.Engine) error {
	for _, o := range []order{
		{SKU: "apple", Qty: 2, Customer: "alice", Amount: 30},
		{SKU: "apple", Qty: 1, Customer: "mallory", Amount: 15},
		{SKU: "pear", Qty: 1, Customer: "bob", Amount: 25000},
	} {
		res, err := eng.Run(ctx, "order", o)
		var f *saga.Failure
		switch {
		case err == nil:
			fmt.Printf("%-8s %s: %s\n", o.Customer, res.Status, res.Output)
		case errors.As(err, &f):
			fmt.Printf("%-8s %s after %s: %s\n", o.Customer, f.Status, f.Name, f.Message)
		default:
			return err
		}
	}
	return nil
}

// startAndWait starts an order in the background, then waits for it and
// reads its log.
func startAndWait(ctx context.Context, eng *saga.Engine) error {
	id, err := eng.Start(ctx, "order", order{SKU: "apple", Qty: 1000, Customer: "carol", Amount: 10})
	if err != nil {
		return err
	}
	fmt.Printf("carol    started instance %s\n", id)
	res, err := eng.Wait(ctx, id)
	if res == nil {
		return err
	}
	_, steps, err := eng.Status(ctx, id)
	if err != nil {
		return err
	}
	fmt.Printf("carol    %s (%s) after %d logged step(s)\n", res.Status, res.ErrorName, len(steps))
	return nil
}

// stockService serves a tiny stock API over HTTP on a free port: reserve is
// idempotent per Idempotency-Key, release undoes a reservation (and does
// nothing for an unknown one).
func stockService() (string, error) {
	var mu sync.Mutex
	stock := map[string]int{"apple": 10, "pear": 5}
	reservations := map[string]order{}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /reserve", func(w http.ResponseWriter, r *http.Request) {
		var o order
		if err := json.NewDecoder(r.Body).Decode(&o); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		key := r.Header.Get(httpservice.HeaderIdempotencyKey)
		mu.Lock()
		defer mu.Unlock()
		if _, done := reservations[key]; !done {
			if stock[o.SKU] < o.Qty {
				w.WriteHeader(http.StatusConflict)
				fmt.Fprintf(w, `{"error":"OutOfStock","message":"%d %s left"}`, stock[o.SKU], o.SKU)
				return
			}
			stock[o.SKU] -= o.Qty
			reservations[key] = o
		}
		fmt.Fprintf(w, `{"reservation":%q}`, key)
	})
	mux.HandleFunc("POST /release", func(w http.ResponseWriter, r *http.Request) {
		var in struct{ Reservation string }
		json.NewDecoder(r.Body).Decode(&in)
		mu.Lock()
		defer mu.Unlock()
		if o, ok := reservations[in.Reservation]; ok {
			stock[o.SKU] += o.Qty
			delete(reservations, in.Reservation)
			fmt.Printf("  released %d %s\n", o.Qty, o.SKU)
		}
	})
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	go http.Serve(l, mux)
	return "http://" + l.Addr().String(), nil
}
