// Command atparticipant is the AT resource manager of the integration
// tests: an HTTP service (behind tm.HTTPMiddleware) whose /update endpoint
// runs one UPDATE through the txc-mysql or txc-postgres proxy (--driver)
// under the caller's XID, so
// the AT branch is registered by this process and its phase 2 reaches
// this process's RM stream (or, after a kill -9, its restarted successor).
//
// With --mode xa the database runs XA mode: each /update is an XA branch
// of its own, prepared before the answer.
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

	gomysql "github.com/go-sql-driver/mysql"
	"github.com/jackc/pgx/v5"

	"github.com/txcio/txc/client"
	"github.com/txcio/txc/datasource"
	txcmysql "github.com/txcio/txc/datasource/mysql"
	txcpg "github.com/txcio/txc/datasource/postgres"
	"github.com/txcio/txc/rm"
	"github.com/txcio/txc/tm"
)

func main() {
	tc := flag.String("tc", "127.0.0.1:8091", "coordinator address")
	drv := flag.String("driver", "mysql", `"mysql" or "postgres"`)
	dsn := flag.String("dsn", "root@tcp(127.0.0.1:3306)/test", "DSN (go-sql-driver syntax for mysql, pgx for postgres)")
	table := flag.String("table", "", "table (id INT PRIMARY KEY, n INT)")
	mode := flag.String("mode", "at", `"at" or "xa"`)
	undoTable := flag.String("undo-table", "", "the undo-log table (default: datasource's)")
	leftoverAge := flag.Duration("leftover-age", time.Minute, "the leftover sweep's age and interval (datasource.WithLeftoverSweep)")
	flag.Parse()
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	ctx := context.Background()
	dctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	conn, err := client.Dial(dctx, *tc, client.WithName("atparticipant"), client.WithBackoff(20*time.Millisecond, 200*time.Millisecond))
	cancel()
	if err != nil {
		log.Fatal(err)
	}
	opts := []datasource.Option{datasource.WithManager(rm.New(conn, rm.WithLogger(logger))), datasource.WithCreateUndoTable(), datasource.WithLogger(logger)}
	opts = append(opts, datasource.WithLeftoverSweep(*leftoverAge))
	if *undoTable != "" {
		opts = append(opts, datasource.WithUndoTable(*undoTable), datasource.WithResourceID(*drv+":"+*undoTable))
	}
	if *mode == "xa" {
		opts = append(opts, datasource.WithMode(datasource.XA))
	}
	var db *sql.DB
	update := "UPDATE " + *table + " SET n = n + ? WHERE id = ?"
	switch *drv {
	case "mysql":
		cfg, err := gomysql.ParseDSN(*dsn)
		if err != nil {
			log.Fatal(err)
		}
		db, err = txcmysql.OpenDB(cfg, opts...)
		if err != nil {
			log.Fatal(err)
		}
	case "postgres":
		cfg, err := pgx.ParseConfig(*dsn)
		if err != nil {
			log.Fatal(err)
		}
		db, err = txcpg.OpenDB(cfg, opts...)
		if err != nil {
			log.Fatal(err)
		}
		update = "UPDATE " + *table + " SET n = n + $1 WHERE id = $2"
	default:
		log.Fatalf("--driver %q: want mysql or postgres", *drv)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/update", func(w http.ResponseWriter, r *http.Request) {
		id, _ := strconv.Atoi(r.URL.Query().Get("id"))
		delta, _ := strconv.Atoi(r.URL.Query().Get("delta"))
		if _, err := db.ExecContext(r.Context(), update, delta, id); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		fmt.Fprintln(w, "ok")
	})
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("ready", lis.Addr().String())
	log.Fatal(http.Serve(lis, tm.HTTPMiddleware(mux)))
}
