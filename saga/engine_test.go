package saga

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/txcio/txc"
	"github.com/txcio/txc/client"
	"github.com/txcio/txc/rm"
)

// fakeClock is a Clock whose time moves only by Advance.
type fakeClock struct {
	mu     sync.Mutex
	now    time.Time
	timers map[int]*fakeTimer
	n      int
	cond   *sync.Cond
}

type fakeTimer struct {
	at time.Time
	f  func()
}

func newFakeClock() *fakeClock {
	c := &fakeClock{now: time.Unix(1_000_000, 0), timers: map[int]*fakeTimer{}}
	c.cond = sync.NewCond(&c.mu)
	return c
}

func (c *fakeClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }

func (c *fakeClock) AfterFunc(d time.Duration, f func()) func() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.n++
	id := c.n
	c.timers[id] = &fakeTimer{at: c.now.Add(d), f: f}
	c.cond.Broadcast()
	return func() bool {
		c.mu.Lock()
		defer c.mu.Unlock()
		_, ok := c.timers[id]
		delete(c.timers, id)
		return ok
	}
}

// waitTimers blocks until at least n timers are pending.
func (c *fakeClock) waitTimers(n int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for len(c.timers) < n {
		c.cond.Wait()
	}
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	var due []func()
	for id, t := range c.timers {
		if !t.at.After(c.now) {
			due = append(due, t.f)
			delete(c.timers, id)
		}
	}
	c.mu.Unlock()
	for _, f := range due {
		go f()
	}
}

// fakeTC is a coordinator in memory. Commit delivers the branch's phase-2
// commit once, in a goroutine; a test delivers it again (the coordinator's
// retry) with redeliver. A "process" is a ctx: crash cancels it.
type fakeTC struct {
	mu       sync.Mutex
	seq      int
	branches map[txc.XID]client.Branch
	ids      map[txc.XID]txc.BranchID
	handler  rm.Handler
	ctx      context.Context
	cancel   context.CancelFunc
	wg       sync.WaitGroup
	results  chan error
	failNext error // the next Commit fails with it
}

func newFakeTC(t *testing.T) *fakeTC {
	tc := &fakeTC{branches: map[txc.XID]client.Branch{}, ids: map[txc.XID]txc.BranchID{}, results: make(chan error, 100)}
	tc.ctx, tc.cancel = context.WithCancel(t.Context())
	t.Cleanup(func() { tc.cancel(); tc.wg.Wait() })
	return tc
}

func (tc *fakeTC) Begin(ctx context.Context, name string, timeout time.Duration) (txc.XID, error) {
	tc.mu.Lock()
	defer tc.mu.Unlock()
	tc.seq++
	return txc.XID(fmt.Sprintf("fake:%d", tc.seq)), nil
}

func (tc *fakeTC) RegisterBranch(ctx context.Context, b client.Branch) (txc.BranchID, error) {
	tc.mu.Lock()
	defer tc.mu.Unlock()
	tc.seq++
	tc.branches[b.XID] = b
	tc.ids[b.XID] = txc.BranchID(tc.seq)
	return txc.BranchID(tc.seq), nil
}

func (tc *fakeTC) Commit(ctx context.Context, xid txc.XID) (txc.GlobalStatus, error) {
	tc.mu.Lock()
	err := tc.failNext
	tc.failNext = nil
	tc.mu.Unlock()
	if err != nil {
		return txc.GlobalUnknown, err
	}
	tc.deliver(xid, true)
	return txc.GlobalCommitting, nil
}

func (tc *fakeTC) Rollback(ctx context.Context, xid txc.XID) (txc.GlobalStatus, error) {
	tc.deliver(xid, false)
	return txc.GlobalRollbacking, nil
}

func (tc *fakeTC) AddResource(id string, typ txc.BranchType, h rm.Handler) error {
	tc.mu.Lock()
	defer tc.mu.Unlock()
	tc.handler = h
	return nil
}

func (tc *fakeTC) deliver(xid txc.XID, commit bool) {
	tc.mu.Lock()
	b, h, ctx := tc.branches[xid], tc.handler, tc.ctx
	rb := rm.Branch{XID: xid, ID: tc.ids[xid], Type: b.Type, ResourceID: b.ResourceID, ApplicationData: b.ApplicationData}
	tc.wg.Add(1)
	tc.mu.Unlock()
	go func() {
		defer tc.wg.Done()
		var err error
		if commit {
			err = h.Commit(ctx, rb)
		} else {
			err = h.Rollback(ctx, rb)
		}
		tc.results <- err
	}()
}

// crash ends the current "process": its deliveries see ctx cancelled.
func (tc *fakeTC) crash(t *testing.T) {
	tc.cancel()
	tc.wg.Wait()
	tc.mu.Lock()
	tc.ctx, tc.cancel = context.WithCancel(t.Context())
	tc.mu.Unlock()
	for len(tc.results) > 0 {
		<-tc.results
	}
}

func (tc *fakeTC) result(t *testing.T) error {
	t.Helper()
	select {
	case err := <-tc.results:
		return err
	case <-t.Context().Done():
		t.Fatal("no phase-2 result")
		return nil
	}
}

// recorder is a set of fake services that log every call.
type recorder struct {
	mu    sync.Mutex
	calls []string
	// behave, if set for a service, decides its answer.
	behave map[string]func(ctx context.Context, r *Request) (json.RawMessage, error)
}

func newRecorder() *recorder {
	return &recorder{behave: map[string]func(context.Context, *Request) (json.RawMessage, error){}}
}

func (r *recorder) service(name string) Service {
	return ServiceFunc(func(ctx context.Context, req *Request) (json.RawMessage, error) {
		r.mu.Lock()
		r.calls = append(r.calls, name+" "+req.Key)
		f := r.behave[name]
		r.mu.Unlock()
		if f != nil {
			return f(ctx, req)
		}
		return json.RawMessage(fmt.Sprintf(`{"by":%q}`, name)), nil
	})
}

func (r *recorder) set(name string, f func(ctx context.Context, r *Request) (json.RawMessage, error)) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.behave[name] = f
}

func (r *recorder) list() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.calls)
}

type rig struct {
	tc    *fakeTC
	store Store
	clock *fakeClock
	rec   *recorder
	eng   *Engine
	def   *Definition
}

var tripServices = []string{"flight.book", "flight.cancel", "hotel.book", "hotel.cancel", "car.book", "car.cancel"}

func newRig(t *testing.T, r Recovery) *rig {
	t.Helper()
	g := &rig{tc: newFakeTC(t), store: NewMemoryStore(), clock: newFakeClock(), rec: newRecorder()}
	g.def = threeSteps(t, r)
	g.restart(t)
	return g
}

// crashIn starts the trip with input and makes the process die in the
// middle of service: once service was entered, the coordinator's side
// crashes and service is reset to the recorder's default. It returns the
// instance's ID.
func (g *rig) crashIn(t *testing.T, service string, input any) string {
	t.Helper()
	entered := make(chan struct{})
	g.rec.set(service, func(ctx context.Context, _ *Request) (json.RawMessage, error) {
		close(entered)
		<-ctx.Done() // the process dies in the middle of the call
		return nil, ctx.Err()
	})
	id, err := g.eng.Start(t.Context(), "trip", input)
	if err != nil {
		t.Fatal(err)
	}
	<-entered
	g.tc.crash(t)
	g.rec.set(service, nil)
	return id
}

// restart makes a new engine (a new process) on the same store and TC.
func (g *rig) restart(t *testing.T) {
	t.Helper()
	n := 0
	e, err := NewEngine(Config{Name: "e1", Coordinator: g.tc, Store: g.store, Clock: g.clock,
		NewID: func() string { n++; return fmt.Sprintf("id%d", n) }})
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range tripServices {
		e.RegisterService(s, g.rec.service(s))
	}
	if err := e.Register(g.def); err != nil {
		t.Fatal(err)
	}
	g.eng = e
}

func TestEngineRunSucceeds(t *testing.T) {
	g := newRig(t, Backward)
	res, err := g.eng.Run(t.Context(), "trip", map[string]any{"who": "ann"})
	if err != nil {
		t.Fatal(err)
	}
	if res.Status != StatusSucceeded || string(res.Output) != `{"fid":null}` {
		t.Fatalf("result %+v", res)
	}
	if err := g.tc.result(t); err != nil {
		t.Fatalf("phase-2 commit answered %v", err)
	}
	want := []string{"flight.book id1/1", "hotel.book id1/2", "car.book id1/3"}
	if got := g.rec.list(); !slices.Equal(got, want) {
		t.Fatalf("calls %v", got)
	}
	inst, steps, err := g.eng.Status(t.Context(), res.ID)
	if err != nil || inst.Status != StatusSucceeded || inst.XID == "" || inst.BranchID == 0 || len(steps) != 3 {
		t.Fatalf("status %+v %v %v", inst, steps, err)
	}
	for _, s := range steps {
		if s.Status != StepSucceeded || s.Attempts != 1 || len(s.Input) == 0 || len(s.Output) == 0 {
			t.Fatalf("step %+v", s)
		}
	}
	// Before and after each step, in n+1 saves: each end rides with the
	// next start.
	if n := g.store.(*MemoryStore).Saves(); n != 4 {
		t.Fatalf("%d saves for three steps, want 4", n)
	}
	// A duplicate delivery only confirms.
	g.tc.deliver(inst.XID, true)
	if err := g.tc.result(t); err != nil || len(g.rec.list()) != 3 {
		t.Fatalf("duplicate delivery: %v, calls %v", err, g.rec.list())
	}
}

func TestEngineFailureCompensates(t *testing.T) {
	g := newRig(t, Backward)
	g.rec.set("car.book", func(context.Context, *Request) (json.RawMessage, error) { return nil, NewError("NoCar", "none left") })
	res, err := g.eng.Run(t.Context(), "trip", map[string]any{"who": "ann"})
	var f *Failure
	if !errors.Is(err, txc.ErrRolledBack) || !errors.As(err, &f) || f.Name != "NoCar" || res.Status != StatusCompensated {
		t.Fatalf("Run: %v %+v", err, res)
	}
	want := []string{"flight.book id1/1", "hotel.book id1/2", "car.book id1/3", "hotel.cancel id1/2/c", "flight.cancel id1/1/c"}
	if got := g.rec.list(); !slices.Equal(got, want) {
		t.Fatalf("calls %v", got)
	}
	if err := g.tc.result(t); err != nil {
		t.Fatalf("phase 2: %v", err)
	}
	_, steps, _ := g.eng.Status(t.Context(), res.ID)
	var comps []int
	for _, s := range steps {
		if s.Compensation {
			comps = append(comps, s.Seq)
			if s.Status != StepSucceeded {
				t.Fatalf("compensation %+v", s)
			}
		}
	}
	if fmt.Sprint(comps) != "[1 2]" {
		t.Fatalf("compensations logged %v", comps)
	}
}

// TestEngineUnavailableStepIsCompensated: a step failing with Unavailable
// (its request may have gone out and its answer been lost) may have run,
// so it is compensated, newest first, with the completed steps.
func TestEngineUnavailableStepIsCompensated(t *testing.T) {
	g := newRig(t, Backward)
	g.rec.set("car.book", func(context.Context, *Request) (json.RawMessage, error) {
		return nil, &ServiceError{Name: ErrNameUnavailable, Message: "connection reset by peer"}
	})
	res, err := g.eng.Run(t.Context(), "trip", map[string]any{"who": "ann"})
	if !errors.Is(err, txc.ErrRolledBack) || res.Status != StatusCompensated {
		t.Fatalf("Run: %v %+v", err, res)
	}
	want := []string{"flight.book id1/1", "hotel.book id1/2", "car.book id1/3", "car.cancel id1/3/c", "hotel.cancel id1/2/c", "flight.cancel id1/1/c"}
	if got := g.rec.list(); !slices.Equal(got, want) {
		t.Fatalf("calls %v", got)
	}
}

func TestEngineRetriesOnFakeClock(t *testing.T) {
	g := newRig(t, Backward)
	def, err := Define("retry").Step(Step("a").Call("flight.book").
		Retry(RetryRule{Errors: []string{"Busy"}, Interval: time.Second, Backoff: 2, MaxAttempts: 3})).Build()
	if err != nil {
		t.Fatal(err)
	}
	g.eng.Register(def)
	n := 0
	g.rec.set("flight.book", func(context.Context, *Request) (json.RawMessage, error) {
		n++
		if n < 3 {
			return nil, NewError("Busy", "try later")
		}
		return nil, nil
	})
	done := make(chan error, 1)
	go func() { _, err := g.eng.Run(t.Context(), "retry", nil); done <- err }()
	start := g.clock.Now()
	g.clock.waitTimers(1)
	g.clock.Advance(time.Second)
	g.clock.waitTimers(1)
	g.clock.Advance(2 * time.Second)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if got := g.rec.list(); !slices.Equal(got, []string{"flight.book id1/1", "flight.book id1/1", "flight.book id1/1"}) {
		t.Fatalf("calls %v", got)
	}
	if el := g.clock.Now().Sub(start); el != 3*time.Second {
		t.Fatalf("waited %v", el)
	}
	_, steps, _ := g.eng.Status(t.Context(), "id1")
	if steps[0].Attempts != 3 {
		t.Fatalf("attempts %d", steps[0].Attempts)
	}
}

// A step cut off by its timeout may have run: the saga fails with Timeout
// and compensates it, whatever the service answered once cut off. A Go
// function sees ctx's error; an HTTP service usually answers with its own
// error (httpservice: "Unavailable"; grpcservice: "grpc.Canceled").
func TestEngineStepTimeout(t *testing.T) {
	answers := map[string]func(ctx context.Context) error{
		"ctx error": func(ctx context.Context) error { return ctx.Err() },
		"service error": func(ctx context.Context) error {
			return &ServiceError{Name: ErrNameUnavailable, Message: ctx.Err().Error()}
		},
	}
	for name, answer := range answers {
		t.Run(name, func(t *testing.T) { testStepTimeout(t, answer) })
	}
}

func testStepTimeout(t *testing.T, answer func(ctx context.Context) error) {
	g := newRig(t, Backward)
	def, err := Define("slow").Step(Step("a").Call("flight.book").Compensate("flight.cancel")).
		Step(Step("b").Call("hotel.book").Compensate("hotel.cancel").Timeout(5 * time.Second)).Build()
	if err != nil {
		t.Fatal(err)
	}
	g.eng.Register(def)
	g.rec.set("hotel.book", func(ctx context.Context, _ *Request) (json.RawMessage, error) {
		<-ctx.Done() // the request was sent; its answer is lost
		return nil, answer(ctx)
	})
	done := make(chan error, 1)
	go func() { _, err := g.eng.Run(t.Context(), "slow", nil); done <- err }()
	g.clock.waitTimers(1)
	g.clock.Advance(5 * time.Second)
	err = <-done
	var f *Failure
	if !errors.As(err, &f) || f.Name != ErrNameTimeout || f.Status != StatusCompensated {
		t.Fatalf("Run: %v", err)
	}
	want := []string{"flight.book id1/1", "hotel.book id1/2", "hotel.cancel id1/2/c", "flight.cancel id1/1/c"}
	if got := g.rec.list(); !slices.Equal(got, want) {
		t.Fatalf("calls %v", got)
	}
}

func TestEngineCompensationRetriedByCoordinatorThenParked(t *testing.T) {
	g := newRig(t, Backward)
	g.rec.set("car.book", func(context.Context, *Request) (json.RawMessage, error) { return nil, NewError("NoCar", "") })
	busy := func(context.Context, *Request) (json.RawMessage, error) { return nil, NewError("Busy", "") }
	g.rec.set("hotel.cancel", busy)
	id, err := g.eng.Start(t.Context(), "trip", map[string]any{})
	if err != nil {
		t.Fatal(err)
	}
	// Five attempts in the process (default compensation retry), on the
	// fake clock, then the handler gives the saga back to the coordinator.
	for i := 0; i < 4; i++ {
		g.clock.waitTimers(1)
		g.clock.Advance(time.Minute)
	}
	err = g.tc.result(t)
	if err == nil || txc.IsPermanent(err) || !strings.Contains(err.Error(), "keeps failing") {
		t.Fatalf("phase 2 after retries: %v", err)
	}
	inst, _, _ := g.eng.Status(t.Context(), id)
	if inst.Status != StatusCompensating {
		t.Fatalf("status %v", inst.Status)
	}
	// The coordinator's retry: now the compensation fails permanently.
	g.rec.set("hotel.cancel", func(context.Context, *Request) (json.RawMessage, error) {
		return nil, txc.Permanent(errors.New("hotel deleted the booking system"))
	})
	g.tc.deliver(inst.XID, true)
	if err := g.tc.result(t); !txc.IsPermanent(err) || !errors.Is(err, ErrNeedsManualAction) {
		t.Fatalf("phase 2 after a permanent failure: %v", err)
	}
	if r, err := g.eng.Wait(t.Context(), id); !errors.Is(err, ErrNeedsManualAction) || r.Status != StatusCompensationFailed {
		t.Fatalf("Wait: %v %+v", err, r)
	}
	// The operator fixes it and retries at the coordinator.
	g.rec.set("hotel.cancel", nil)
	g.tc.deliver(inst.XID, true)
	if err := g.tc.result(t); err != nil {
		t.Fatalf("operator retry: %v", err)
	}
	inst, _, _ = g.eng.Status(t.Context(), id)
	calls := g.rec.list()
	if inst.Status != StatusCompensated || !slices.Equal(calls[len(calls)-2:], []string{"hotel.cancel id1/2/c", "flight.cancel id1/1/c"}) {
		t.Fatalf("status %v calls %v", inst.Status, calls)
	}
}

// TestEngineCrashAtEachStep kills the "process" while step k runs (after
// its start is logged), starts a new engine on the same log, and lets the
// coordinator's redelivery (or the recovery scan) resume it.
func TestEngineCrashAtEachStep(t *testing.T) {
	books := []string{"flight.book", "hotel.book", "car.book"}
	cancels := []string{"flight.cancel", "hotel.cancel", "car.cancel"}
	for _, r := range []Recovery{Forward, Backward} {
		for _, via := range []string{"coordinator", "scan"} {
			for k := range 3 {
				t.Run(fmt.Sprintf("%v/%s/step-%d", r, via, k+1), func(t *testing.T) {
					g := newRig(t, r)
					id := g.crashIn(t, books[k], map[string]any{"who": "ann"})
					g.restart(t)
					if via == "coordinator" {
						inst, _, _ := g.eng.Status(t.Context(), id)
						g.tc.deliver(inst.XID, true)
						if err := g.tc.result(t); err != nil {
							t.Fatal(err)
						}
					} else if err := g.eng.Recover(t.Context()); err != nil {
						t.Fatal(err)
					}
					inst, _, _ := g.eng.Status(t.Context(), id)
					var want []string
					for i := 0; i <= k; i++ {
						want = append(want, fmt.Sprintf("%s id1/%d", books[i], i+1))
					}
					if r == Forward {
						for i := k; i < 3; i++ {
							want = append(want, fmt.Sprintf("%s id1/%d", books[i], i+1))
						}
						if inst.Status != StatusSucceeded {
							t.Fatalf("status %v", inst.Status)
						}
					} else {
						for i := k; i >= 0; i-- {
							want = append(want, fmt.Sprintf("%s id1/%d/c", cancels[i], i+1))
						}
						if inst.Status != StatusCompensated {
							t.Fatalf("status %v", inst.Status)
						}
					}
					if got := g.rec.list(); !slices.Equal(got, want) {
						t.Fatalf("calls\n%v\nwant\n%v", got, want)
					}
				})
			}
		}
	}
}

func TestEngineDuplicateDeliveryWhileRunning(t *testing.T) {
	g := newRig(t, Forward)
	release := make(chan struct{})
	entered := make(chan struct{})
	g.rec.set("hotel.book", func(ctx context.Context, _ *Request) (json.RawMessage, error) {
		close(entered)
		<-release
		return nil, nil
	})
	id, err := g.eng.Start(t.Context(), "trip", nil)
	if err != nil {
		t.Fatal(err)
	}
	<-entered
	inst, _, _ := g.eng.Status(t.Context(), id)
	g.tc.deliver(inst.XID, true) // the coordinator's ack timeout resends
	close(release)
	for range 2 {
		if err := g.tc.result(t); err != nil {
			t.Fatal(err)
		}
	}
	if got := g.rec.list(); len(got) != 3 {
		t.Fatalf("calls %v", got)
	}
}

func TestEngineAbortedBeforeCommit(t *testing.T) {
	g := newRig(t, Backward)
	g.tc.failNext = txc.Errorf(txc.CodeTimedOut, "tc: timed out")
	_, err := g.eng.Start(t.Context(), "trip", nil)
	if !errors.Is(err, txc.ErrTimedOut) {
		t.Fatalf("Start: %v", err)
	}
	// The coordinator rolls the branch back.
	g.tc.deliver("fake:1", false)
	if err := g.tc.result(t); err != nil {
		t.Fatal(err)
	}
	inst, steps, err := g.eng.Status(t.Context(), "id1")
	if err != nil || inst.Status != StatusAborted || len(steps) != 0 || len(g.rec.list()) != 0 {
		t.Fatalf("%+v %v %v %v", inst, steps, err, g.rec.list())
	}
}

func TestEngineRegisterChecksServices(t *testing.T) {
	g := newRig(t, Backward)
	def, err := Define("x").Step(Step("a").Call("flight.book").Compensate("nope")).Build()
	if err != nil {
		t.Fatal(err)
	}
	err = g.eng.Register(def)
	if !errors.Is(err, txc.ErrInvalidArgument) || !strings.Contains(err.Error(), `state "a.compensation": field Service: service "nope" is not registered`) {
		t.Fatalf("Register: %v", err)
	}
	if _, err := g.eng.Start(t.Context(), "x", nil); !errors.Is(err, txc.ErrInvalidArgument) {
		t.Fatalf("Start of an unregistered definition: %v", err)
	}
	if _, err := g.eng.Start(t.Context(), "trip", json.RawMessage(`{bad`)); !errors.Is(err, txc.ErrInvalidArgument) {
		t.Fatalf("Start with bad JSON: %v", err)
	}
}

func TestEngineGoFunctionsAndParallel(t *testing.T) {
	g := newRig(t, Backward)
	type in struct{ N int }
	var mu sync.Mutex
	var undone []string
	undo := func(name string) Service {
		return ServiceFunc(func(ctx context.Context, r *Request) (json.RawMessage, error) {
			mu.Lock()
			undone = append(undone, name+" "+r.StepKey)
			mu.Unlock()
			return nil, nil
		})
	}
	def, err := Define("fn").
		Step(Step("double").Func(Func(func(ctx context.Context, r *Request, x in) (in, error) { return in{x.N * 2}, nil })).CompensateFunc(undo("double"))).
		Parallel("fan",
			Step("p1").Func(Func(func(ctx context.Context, r *Request, x in) (int, error) { return x.N + 1, nil })).Input(FromOutput("double", "")).CompensateFunc(undo("p1")),
			Step("p2").Func(Func(func(ctx context.Context, r *Request, x in) (int, error) {
				if x.N > 10 {
					return 0, NewError("TooBig", "%d", x.N)
				}
				return x.N + 2, nil
			})).Input(FromOutput("double", "")).CompensateFunc(undo("p2"))).
		Build()
	if err != nil {
		t.Fatal(err)
	}
	if err := g.eng.Register(def); err != nil {
		t.Fatal(err)
	}
	res, err := g.eng.Run(t.Context(), "fn", in{3})
	if err != nil {
		t.Fatal(err)
	}
	_, steps, _ := g.eng.Status(t.Context(), res.ID)
	if string(steps[1].Output) != "7" || string(steps[2].Output) != "8" {
		t.Fatalf("steps %+v", steps)
	}
	_, err = g.eng.Run(t.Context(), "fn", in{6})
	var f *Failure
	if !errors.As(err, &f) || f.Name != "TooBig" {
		t.Fatalf("Run: %v", err)
	}
	if fmt.Sprint(undone) != "[p1 id2/2 double id2/1]" {
		t.Fatalf("compensations %v", undone)
	}
}

// TestEngineCrashDuringCompensation: the process dies while a compensation
// runs; the restarted engine finishes the compensation (whatever the
// recovery strategy: the saga already decided to go backward) without
// running any step forward again.
func TestEngineCrashDuringCompensation(t *testing.T) {
	for _, r := range []Recovery{Forward, Backward} {
		t.Run(r.String(), func(t *testing.T) {
			g := newRig(t, r)
			g.rec.set("car.book", func(context.Context, *Request) (json.RawMessage, error) { return nil, NewError("NoCar", "") })
			id := g.crashIn(t, "hotel.cancel", nil)
			g.restart(t)
			inst, _, _ := g.eng.Status(t.Context(), id)
			if inst.Status != StatusCompensating {
				t.Fatalf("logged status %v", inst.Status)
			}
			g.tc.deliver(inst.XID, true)
			if err := g.tc.result(t); err != nil {
				t.Fatal(err)
			}
			res, err := g.eng.Wait(t.Context(), id)
			if !errors.Is(err, txc.ErrRolledBack) || res.Status != StatusCompensated || res.ErrorName != "NoCar" {
				t.Fatalf("Wait: %+v %v", res, err)
			}
			want := []string{"flight.book id1/1", "hotel.book id1/2", "car.book id1/3", "hotel.cancel id1/2/c", "hotel.cancel id1/2/c", "flight.cancel id1/1/c"}
			if got := g.rec.list(); !slices.Equal(got, want) {
				t.Fatalf("calls %v", got)
			}
		})
	}
}
