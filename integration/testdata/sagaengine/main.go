// Command sagaengine is the saga process of the integration tests: a saga
// engine connected to a coordinator, its execution log on PostgreSQL, its
// definitions loaded from JSON files, its services remote HTTP endpoints.
// An HTTP control API starts runs and reads their status:
//
//	POST /run?def=trip    body: input JSON → {"id", "status", "error_name", "error"} when the saga ended
//	POST /start?def=trip  body: input JSON → {"id"}
//	GET  /status?id=…     → {"id", "xid", "status", "error_name", "error", "steps"}
//
// It prints "ready <http address>" once serving, after starting the
// recovery scan of its unfinished instances, and runs until killed.
package main

import (
	"context"
	"database/sql"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib"

	"github.com/txcio/txc/client"
	"github.com/txcio/txc/rm"
	"github.com/txcio/txc/saga"
	"github.com/txcio/txc/saga/httpservice"
	"github.com/txcio/txc/saga/lang"
	"github.com/txcio/txc/saga/sqllog"
)

// flags are the command line.
type flags struct {
	tc, listen, dsn, prefix, name, defs, services string
	scan                                          bool
}

func parseFlags() flags {
	var f flags
	flag.StringVar(&f.tc, "tc", "127.0.0.1:8091", "coordinator address")
	flag.StringVar(&f.listen, "listen", "127.0.0.1:0", "HTTP control address")
	flag.StringVar(&f.dsn, "dsn", "postgres://postgres@127.0.0.1:5432/test?sslmode=disable", "PostgreSQL DSN of the log")
	flag.StringVar(&f.prefix, "prefix", sqllog.DefaultTablePrefix, "log table prefix")
	flag.StringVar(&f.name, "name", "it-engine", "engine name")
	flag.StringVar(&f.defs, "defs", "", "comma-separated JSON definition files")
	flag.StringVar(&f.services, "services", "", "comma-separated name=baseURL: name.book → baseURL/book, name.cancel → baseURL/cancel")
	flag.BoolVar(&f.scan, "scan", true, "run the recovery scan at start (off: only the coordinator's redelivery resumes sagas)")
	flag.Parse()
	return f
}

func main() {
	f := parseFlags()
	ctx := context.Background()
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	eng := newEngine(ctx, f, logger)
	if f.scan {
		go func() {
			if err := eng.Recover(ctx); err != nil {
				logger.Error("recovery scan", "err", err)
			}
		}()
	}
	l, err := net.Listen("tcp", f.listen)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("ready", l.Addr())
	log.Fatal(http.Serve(l, controlAPI(eng)))
}

// newEngine connects to the coordinator and the log, and registers the
// remote services and the definitions.
func newEngine(ctx context.Context, f flags, logger *slog.Logger) *saga.Engine {
	db, err := sql.Open("pgx", f.dsn)
	if err != nil {
		log.Fatal(err)
	}
	store, err := sqllog.New(ctx, db, sqllog.Options{TablePrefix: f.prefix, CreateTables: true})
	if err != nil {
		log.Fatal(err)
	}
	dctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	conn, err := client.Dial(dctx, f.tc, client.WithName("sagaengine-"+f.name), client.WithLogger(logger),
		client.WithBackoff(20*time.Millisecond, 200*time.Millisecond))
	cancel()
	if err != nil {
		log.Fatal(err)
	}
	eng, err := saga.NewEngine(saga.Config{Name: f.name, Coordinator: saga.Coordinated(rm.New(conn, rm.WithLogger(logger))),
		Store: store, Logger: logger})
	if err != nil {
		log.Fatal(err)
	}
	for _, s := range strings.Split(f.services, ",") {
		n, url, ok := strings.Cut(s, "=")
		if !ok {
			log.Fatalf("bad --services entry %q", s)
		}
		eng.RegisterService(n+".book", &httpservice.Service{URL: url + "/book"})
		eng.RegisterService(n+".cancel", &httpservice.Service{URL: url + "/cancel"})
	}
	loaded, err := lang.LoadFiles(strings.Split(f.defs, ",")...)
	if err != nil {
		log.Fatal(err)
	}
	for _, d := range loaded {
		if err := eng.Register(d); err != nil {
			log.Fatal(err)
		}
	}
	return eng
}

// outcome is the control API's answer.
type outcome struct {
	ID        string `json:"id"`
	XID       string `json:"xid,omitempty"`
	Status    string `json:"status"`
	ErrorName string `json:"error_name,omitempty"`
	Error     string `json:"error,omitempty"`
	Steps     int    `json:"steps,omitempty"`
}

func reply(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(v)
}

// controlAPI serves /run, /start and /status (see the package doc).
func controlAPI(eng *saga.Engine) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /run", func(w http.ResponseWriter, r *http.Request) {
		in, _ := io.ReadAll(r.Body)
		res, err := eng.Run(r.Context(), r.URL.Query().Get("def"), json.RawMessage(in))
		if res == nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		reply(w, outcome{ID: res.ID, Status: res.Status.String(), ErrorName: res.ErrorName, Error: res.Error})
	})
	mux.HandleFunc("POST /start", func(w http.ResponseWriter, r *http.Request) {
		in, _ := io.ReadAll(r.Body)
		id, err := eng.Start(r.Context(), r.URL.Query().Get("def"), json.RawMessage(in))
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		reply(w, outcome{ID: id})
	})
	mux.HandleFunc("GET /status", func(w http.ResponseWriter, r *http.Request) {
		inst, steps, err := eng.Status(r.Context(), r.URL.Query().Get("id"))
		if err != nil {
			http.Error(w, err.Error(), http.StatusNotFound)
			return
		}
		reply(w, outcome{ID: inst.ID, XID: string(inst.XID), Status: inst.Status.String(), ErrorName: inst.ErrorName, Error: inst.Error, Steps: len(steps)})
	})
	return mux
}
