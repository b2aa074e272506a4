// Command tccparticipant is the remote TCC participant of the integration
// tests: a "stock" service whose HTTP endpoint (behind tm.HTTPMiddleware)
// reserves stock as a fenced TCC participant on PostgreSQL, so the branch is
// registered by this process under the caller's XID and its Confirm/Cancel
// reach this process's RM stream. Every business call is logged in a table
// (xid, branch_id, phase, amount); a call that ran twice leaves two rows.
//
// It prints "ready <http address>" once serving and runs until killed.
package main

import (
	"context"
	"database/sql"
	"flag"
	"fmt"
	"log"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strconv"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib"

	"github.com/txcio/txc/client"
	"github.com/txcio/txc/rm"
	"github.com/txcio/txc/rm/tcc"
	"github.com/txcio/txc/tm"
)

// Reservation is the participant's argument.
type Reservation struct {
	SKU    string
	Amount int64
}

func main() {
	tc := flag.String("tc", "127.0.0.1:8091", "coordinator address")
	listen := flag.String("listen", "127.0.0.1:0", "HTTP address")
	dsn := flag.String("dsn", "postgres://postgres@127.0.0.1:5432/test?sslmode=disable", "PostgreSQL DSN")
	fenceTable := flag.String("fence-table", "txc_tcc_fence", "fence table (created if missing)")
	bizTable := flag.String("biz-table", "", "business log table (created if missing)")
	flag.Parse()
	ctx := context.Background()
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))

	db, err := sql.Open("pgx", *dsn)
	if err != nil {
		log.Fatal(err)
	}
	if _, err := db.Exec("CREATE TABLE IF NOT EXISTS " + *bizTable + " (xid VARCHAR(128) NOT NULL, branch_id BIGINT NOT NULL, phase VARCHAR(16) NOT NULL, amount BIGINT NOT NULL)"); err != nil {
		log.Fatal(err)
	}
	fence, err := tcc.NewFence(ctx, db, tcc.FenceOptions{Table: *fenceTable, CreateTable: true, Logger: logger})
	if err != nil {
		log.Fatal(err)
	}
	dctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	conn, err := client.Dial(dctx, *tc, client.WithName("tccparticipant"), client.WithBackoff(20*time.Millisecond, 200*time.Millisecond))
	cancel()
	if err != nil {
		log.Fatal(err)
	}
	res, err := tcc.NewResource(rm.New(conn, rm.WithLogger(logger)), "tcc:stock", tcc.WithLogger(logger))
	if err != nil {
		log.Fatal(err)
	}
	record := func(phase string) func(ctx context.Context, tx *sql.Tx, r Reservation) error {
		return func(ctx context.Context, tx *sql.Tx, r Reservation) error {
			if phase == "try" && r.Amount <= 0 {
				return fmt.Errorf("stock: cannot reserve %d", r.Amount)
			}
			b, _ := tcc.BranchFromContext(ctx)
			_, err := tx.ExecContext(ctx, "INSERT INTO "+*bizTable+" (xid, branch_id, phase, amount) VALUES ($1, $2, $3, $4)",
				string(b.XID), int64(b.ID), phase, r.Amount)
			return err
		}
	}
	reserve, err := tcc.DeclareFenced(res, "reserve", fence, tcc.FencedFuncs[Reservation]{
		Try: record("try"), Confirm: record("confirm"), Cancel: record("cancel")})
	if err != nil {
		log.Fatal(err)
	}

	mux := http.NewServeMux()
	mux.HandleFunc("POST /reserve", func(w http.ResponseWriter, r *http.Request) {
		amount, _ := strconv.ParseInt(r.URL.Query().Get("amount"), 10, 64)
		if err := reserve.Try(r.Context(), Reservation{SKU: r.URL.Query().Get("sku"), Amount: amount}); err != nil {
			http.Error(w, err.Error(), http.StatusConflict)
			return
		}
		fmt.Fprintln(w, "reserved")
	})
	l, err := net.Listen("tcp", *listen)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("ready", l.Addr())
	log.Fatal(http.Serve(l, tm.HTTPMiddleware(mux)))
}
