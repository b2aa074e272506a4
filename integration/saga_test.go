package integration

import (
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/txcio/txc/internal/dbtest"
)

// tripService is one of the three services of the trip saga (flight,
// hotel, car), an HTTP endpoint of this test process whose bookings and
// cancellations are rows of a MariaDB table keyed by the idempotency key:
// a repeated call leaves one row.
type tripService struct {
	name  string
	db    *sql.DB
	table string
	calls atomic.Int64
	fail  atomic.Bool // answer 409 NoVacancy
	hang  atomic.Bool // hold bookings until the caller goes away
	// refuseCancel answers cancellations 400: a permanent failure.
	refuseCancel atomic.Bool
	srv          *httptest.Server
	keys         sync.Map // keys seen, with how many calls
}

func newTripService(t *testing.T, db *sql.DB, table, name string) *tripService {
	s := &tripService{name: name, db: db, table: table}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /book", func(w http.ResponseWriter, r *http.Request) { s.serve(w, r, "book") })
	mux.HandleFunc("POST /cancel", func(w http.ResponseWriter, r *http.Request) { s.serve(w, r, "cancel") })
	s.srv = httptest.NewServer(mux)
	t.Cleanup(s.srv.Close)
	return s
}

func (s *tripService) serve(w http.ResponseWriter, r *http.Request, op string) {
	key := r.Header.Get("Idempotency-Key")
	body, _ := io.ReadAll(r.Body)
	if op == "book" {
		s.calls.Add(1)
		n, _ := s.keys.LoadOrStore(key, new(atomic.Int64))
		n.(*atomic.Int64).Add(1)
		if s.hang.Load() {
			<-r.Context().Done()
			return
		}
		if s.fail.Load() {
			w.WriteHeader(http.StatusConflict)
			fmt.Fprint(w, `{"error":"NoVacancy","message":"fully booked"}`)
			return
		}
	}
	if op == "cancel" && s.refuseCancel.Load() {
		http.Error(w, "cancellation refused", http.StatusBadRequest)
		return
	}
	if _, err := s.db.ExecContext(r.Context(), "INSERT IGNORE INTO "+s.table+" (k, service, op, body) VALUES (?, ?, ?, ?)",
		key, s.name, op, string(body)); err != nil {
		http.Error(w, err.Error(), http.StatusServiceUnavailable)
		return
	}
	if op == "book" {
		fmt.Fprintf(w, `{"id":%q}`, s.name+":"+key)
	}
}

// rows returns "service op key" for every recorded call of instance id.
func tripRows(t *testing.T, db *sql.DB, table, id string) []string {
	t.Helper()
	rs, err := db.Query("SELECT service, op, k FROM "+table+" WHERE k LIKE ? ORDER BY k", id+"/%")
	if err != nil {
		t.Fatal(err)
	}
	defer rs.Close()
	var out []string
	for rs.Next() {
		var s, op, k string
		rs.Scan(&s, &op, &k)
		out = append(out, s+" "+op+" "+strings.TrimPrefix(k, id+"/"))
	}
	slices.Sort(out)
	return out
}

type sagaEngineProc struct{ childProc }

type tripRig struct {
	tc                 *tcProcess
	db                 *sql.DB
	table              string
	flight, hotel, car *tripService
	engine             *sagaEngineProc
}

// newTripRig starts a coordinator, the three services and the saga engine
// process (log on PostgreSQL).
func newTripRig(t *testing.T) *tripRig {
	t.Helper()
	buildTestdata(t, "sagaengine")
	g := &tripRig{db: dbtest.MySQL(t)}
	g.table = dbtest.Table(t, g.db, "it_saga_trip")
	if _, err := g.db.Exec("CREATE TABLE " + g.table + " (k VARCHAR(200) NOT NULL PRIMARY KEY, service VARCHAR(16) NOT NULL, op VARCHAR(16) NOT NULL, body TEXT)"); err != nil {
		t.Fatal(err)
	}
	pg := dbtest.Postgres(t)
	prefix := dbtest.Name("it_saga")
	t.Cleanup(func() {
		pg.Exec("DROP TABLE IF EXISTS " + prefix + "_instance")
		pg.Exec("DROP TABLE IF EXISTS " + prefix + "_step")
	})
	g.tc = startTC(t, "--retry-min", "50ms", "--retry-max", "500ms")
	g.flight = newTripService(t, g.db, g.table, "flight")
	g.hotel = newTripService(t, g.db, g.table, "hotel")
	g.car = newTripService(t, g.db, g.table, "car")
	g.engine = &sagaEngineProc{childProc{t: t, name: "sagaengine", args: []string{"--tc", g.tc.addr, "--dsn", dbtest.PostgresDSN, "--prefix", prefix,
		"--name", "it-" + prefix, "--defs", "testdata/sagaengine/trip.json,testdata/sagaengine/trip_backward.json",
		"--services", "flight=" + g.flight.srv.URL + ",hotel=" + g.hotel.srv.URL + ",car=" + g.car.srv.URL}}}
	g.engine.start()
	t.Cleanup(func() {
		g.engine.kill9()
		if t.Failed() {
			t.Logf("sagaengine log:\n%s", tail(g.engine.logText(), 6000))
		}
	})
	return g
}

type sagaOutcome struct {
	ID        string `json:"id"`
	XID       string `json:"xid"`
	Status    string `json:"status"`
	ErrorName string `json:"error_name"`
	Error     string `json:"error"`
	Steps     int    `json:"steps"`
}

func (p *sagaEngineProc) call(method, path, body string) sagaOutcome {
	p.t.Helper()
	req, _ := http.NewRequestWithContext(p.t.Context(), method, p.url+path, strings.NewReader(body))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		p.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var o sagaOutcome
	if resp.StatusCode != 200 || json.Unmarshal(b, &o) != nil {
		p.t.Fatalf("%s %s: %s %s", method, path, resp.Status, b)
	}
	return o
}

// waitStatus polls the engine until instance id is in a final status.
func (p *sagaEngineProc) waitStatus(id string) sagaOutcome {
	p.t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		o := p.call("GET", "/status?id="+id, "")
		switch o.Status {
		case "Succeeded", "Compensated", "Failed", "Aborted", "CompensationFailed":
			return o
		}
		time.Sleep(50 * time.Millisecond)
	}
	p.t.Fatalf("instance %s did not end", id)
	return sagaOutcome{}
}

// TestSagaThreeServicesSucceed: concurrent trips each book a flight, a
// hotel and a car, once each, and the coordinator ends with nothing open.
func TestSagaThreeServicesSucceed(t *testing.T) {
	g := newTripRig(t)
	var wg sync.WaitGroup
	out := make([]sagaOutcome, 8)
	for i := range out {
		wg.Add(1)
		go func() {
			defer wg.Done()
			out[i] = g.engine.call("POST", "/run?def=trip", fmt.Sprintf(`{"who":"p%d"}`, i))
		}()
	}
	wg.Wait()
	for _, o := range out {
		if o.Status != "Succeeded" {
			t.Fatalf("run: %+v", o)
		}
		want := []string{"car book 3", "flight book 1", "hotel book 2"}
		if got := tripRows(t, g.db, g.table, o.ID); !slices.Equal(got, want) {
			t.Fatalf("instance %s rows %v, want %v", o.ID, got, want)
		}
		if s := g.engine.call("GET", "/status?id="+o.ID, ""); s.Steps != 3 {
			t.Fatalf("log of %s: %+v", o.ID, s)
		}
	}
	waitQuiet(t, g.tc, 30*time.Second)
}

// TestSagaLastStepFailsCompensates: the car cannot be booked, so the hotel
// and then the flight are cancelled; the saga's transaction still ends at
// the coordinator (the saga ended, compensated).
func TestSagaLastStepFailsCompensates(t *testing.T) {
	g := newTripRig(t)
	g.car.fail.Store(true)
	o := g.engine.call("POST", "/run?def=trip", `{"who":"ann"}`)
	if o.Status != "Compensated" || o.ErrorName != "NoVacancy" {
		t.Fatalf("run: %+v", o)
	}
	want := []string{"flight book 1", "flight cancel 1/c", "hotel book 2", "hotel cancel 2/c"}
	if got := tripRows(t, g.db, g.table, o.ID); !slices.Equal(got, want) {
		t.Fatalf("rows %v, want %v", got, want)
	}
	waitQuiet(t, g.tc, 30*time.Second)
}

// TestSagaEngineKilledMidSagaRecovers kills the engine process with
// SIGKILL while a step is in flight, restarts it, and checks that the saga
// resumes by itself (by the recovery scan at start and the coordinator's
// redelivery of the saga branch's commit, or by the redelivery alone): forward (the car booked with the same idempotency
// key: two calls, one booking) or backward (the hotel and flight cancelled).
func TestSagaEngineKilledMidSagaRecovers(t *testing.T) {
	for _, tc := range []struct {
		def    string
		scan   bool
		hangOn func(g *tripRig) *tripService
		status string
		want   []string
	}{
		{"trip", true, func(g *tripRig) *tripService { return g.car }, "Succeeded",
			[]string{"car book 3", "flight book 1", "hotel book 2"}},
		{"trip", false, func(g *tripRig) *tripService { return g.car }, "Succeeded",
			[]string{"car book 3", "flight book 1", "hotel book 2"}},
		{"trip-backward", true, func(g *tripRig) *tripService { return g.hotel }, "Compensated",
			[]string{"flight book 1", "flight cancel 1/c", "hotel cancel 2/c"}},
	} {
		name := tc.def + "/scan-and-coordinator"
		if !tc.scan {
			name = tc.def + "/coordinator-only"
		}
		t.Run(name, func(t *testing.T) {
			g := newTripRig(t)
			svc := tc.hangOn(g)
			svc.hang.Store(true)
			id := g.engine.call("POST", "/start?def="+tc.def, `{"who":"bo"}`).ID
			for deadline := time.Now().Add(30 * time.Second); svc.calls.Load() == 0; time.Sleep(10 * time.Millisecond) {
				if time.Now().After(deadline) {
					t.Fatal("the step to interrupt was never called")
				}
			}
			g.engine.kill9()
			svc.hang.Store(false)
			if !tc.scan {
				g.engine.args = append(g.engine.args, "--scan=false")
			}
			g.engine.start()
			o := g.engine.waitStatus(id)
			if o.Status != tc.status {
				t.Fatalf("after recovery: %+v", o)
			}
			if got := tripRows(t, g.db, g.table, id); !slices.Equal(got, tc.want) {
				t.Fatalf("rows %v, want %v", got, tc.want)
			}
			if tc.status == "Succeeded" {
				n, _ := svc.keys.Load(id + "/3")
				if c := n.(*atomic.Int64).Load(); c < 2 {
					t.Fatalf("the interrupted step was called %d times, want it called again with its key", c)
				}
			}
			waitQuiet(t, g.tc, 30*time.Second)
		})
	}
}

// TestSagaCompensationParkedThenRetried: a compensation that fails
// permanently parks the saga; the coordinator lists its transaction as
// needing manual action, and the operator's retry there finishes the
// compensation.
func TestSagaCompensationParkedThenRetried(t *testing.T) {
	g := newTripRig(t)
	g.car.fail.Store(true)
	g.hotel.refuseCancel.Store(true)
	o := g.engine.call("POST", "/run?def=trip", `{"who":"cy"}`)
	if o.Status != "CompensationFailed" || o.ErrorName != "HTTP.400" {
		t.Fatalf("run: %+v", o)
	}
	st := g.engine.call("GET", "/status?id="+o.ID, "")
	var listed bool
	for deadline := time.Now().Add(30 * time.Second); !listed && time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		_, body := g.tc.get("/v1/transactions?manual=1")
		listed = strings.Contains(body, st.XID)
	}
	if !listed {
		t.Fatalf("transaction %s not listed as needing manual action", st.XID)
	}
	if got := tripRows(t, g.db, g.table, o.ID); !slices.Equal(got, []string{"flight book 1", "hotel book 2"}) {
		t.Fatalf("rows while parked: %v", got)
	}
	g.hotel.refuseCancel.Store(false)
	req, _ := http.NewRequestWithContext(t.Context(), "POST", "http://"+g.tc.admin+"/v1/transactions/"+st.XID+"/retry", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted {
		t.Fatalf("retry: %s", resp.Status)
	}
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if st = g.engine.call("GET", "/status?id="+o.ID, ""); st.Status == "Compensated" {
			break
		}
	}
	if st.Status != "Compensated" {
		t.Fatalf("after the operator's retry: %+v", st)
	}
	want := []string{"flight book 1", "flight cancel 1/c", "hotel book 2", "hotel cancel 2/c"}
	if got := tripRows(t, g.db, g.table, o.ID); !slices.Equal(got, want) {
		t.Fatalf("rows %v, want %v", got, want)
	}
	waitQuiet(t, g.tc, 30*time.Second)
}
