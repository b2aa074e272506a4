package lang_test

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
	"github.com/txcio/txc/saga"
	"github.com/txcio/txc/saga/lang"
)

// coordinator is a minimal in-memory coordinator: Commit delivers the
// branch's phase-2 commit to the engine's handler.
type coordinator struct {
	mu       sync.Mutex
	n        int
	branches map[txc.XID]client.Branch
	h        rm.Handler
	ctx      context.Context
}

func (c *coordinator) Begin(context.Context, string, time.Duration) (txc.XID, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.n++
	return txc.XID(fmt.Sprintf("x:%d", c.n)), nil
}
func (c *coordinator) RegisterBranch(_ context.Context, b client.Branch) (txc.BranchID, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.branches[b.XID] = b
	return 1, nil
}
func (c *coordinator) Commit(_ context.Context, xid txc.XID) (txc.GlobalStatus, error) {
	c.mu.Lock()
	b := c.branches[xid]
	c.mu.Unlock()
	go c.h.Commit(c.ctx, rm.Branch{XID: xid, ID: 1, Type: b.Type, ResourceID: b.ResourceID, ApplicationData: b.ApplicationData})
	return txc.GlobalCommitting, nil
}
func (c *coordinator) Rollback(context.Context, txc.XID) (txc.GlobalStatus, error) {
	return txc.GlobalRollbacking, nil
}
func (c *coordinator) AddResource(_ string, _ txc.BranchType, h rm.Handler) error {
	c.h = h
	return nil
}

type calls struct {
	mu   sync.Mutex
	list []string
}

func (c *calls) add(s string) { c.mu.Lock(); c.list = append(c.list, s); c.mu.Unlock() }
func (c *calls) get() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.list)
}

func TestOrderDefinition(t *testing.T) {
	defs, err := lang.LoadFiles("testdata/order.json", "testdata/payment.json")
	if err != nil {
		t.Fatal(err)
	}
	if defs["order"].Recovery() != saga.Forward || defs["payment"].Recovery() != saga.Backward {
		t.Fatal("recovery strategies")
	}
	for _, tc := range []struct {
		name     string
		input    string
		behave   map[string]string // service → error name it fails with
		status   saga.Status
		errName  string
		calls    string
		output   string
		released string
	}{
		{"pays", `{"sku":"apple","n":2,"total":50}`, nil, saga.StatusSucceeded, "",
			"stock.reserve apple,pay.charge 50", `{"receipt":"R-50","reservation":"res-apple"}`, ""},
		{"sold out: catch to Fail", `{"sku":"pear","total":5}`, map[string]string{"stock.reserve": "OutOfStock"}, saga.StatusFailed, "SoldOut",
			"stock.reserve pear", "", ""},
		{"large order: compensation trigger", `{"sku":"apple","total":5000}`, nil, saga.StatusCompensated, "NeedsReview",
			"stock.reserve apple,stock.release", "", "res-apple"},
		{"declined in the sub machine compensates everything", `{"sku":"fig","total":70}`, map[string]string{"pay.charge": "Declined"},
			saga.StatusCompensated, "Declined", "stock.reserve fig,pay.charge 70,stock.release", "", "res-fig"},
		{"unavailable retried then ok", `{"sku":"kiwi","total":1}`, map[string]string{"stock.reserve": "Unavailable-once"}, saga.StatusSucceeded, "",
			"stock.reserve kiwi,stock.reserve kiwi,pay.charge 1", `{"receipt":"R-1","reservation":"res-kiwi"}`, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			co := &coordinator{branches: map[txc.XID]client.Branch{}, ctx: t.Context()}
			e, err := saga.NewEngine(saga.Config{Name: "lang", Coordinator: co, Store: saga.NewMemoryStore()})
			if err != nil {
				t.Fatal(err)
			}
			var log calls
			var released string
			failedOnce := false
			fail := func(svc string) error {
				switch n := tc.behave[svc]; {
				case n == "Unavailable-once" && !failedOnce:
					failedOnce = true
					return saga.NewError("Unavailable", "down")
				case n != "" && n != "Unavailable-once":
					return saga.NewError(n, "")
				}
				return nil
			}
			e.RegisterService("stock.reserve", saga.Func(func(_ context.Context, _ *saga.Request, in struct{ SKU string }) (any, error) {
				log.add("stock.reserve " + in.SKU)
				if err := fail("stock.reserve"); err != nil {
					return nil, err
				}
				return map[string]string{"id": "res-" + in.SKU}, nil
			}))
			e.RegisterService("stock.release", saga.Func(func(_ context.Context, _ *saga.Request, in struct{ Reservation string }) (any, error) {
				log.add("stock.release")
				released = in.Reservation
				return nil, nil
			}))
			e.RegisterService("pay.charge", saga.Func(func(_ context.Context, _ *saga.Request, in struct{ Amount float64 }) (any, error) {
				log.add(fmt.Sprintf("pay.charge %v", in.Amount))
				if err := fail("pay.charge"); err != nil {
					return nil, err
				}
				return map[string]string{"receipt": fmt.Sprintf("R-%v", in.Amount)}, nil
			}))
			e.RegisterService("pay.refund", saga.Func(func(context.Context, *saga.Request, any) (any, error) {
				log.add("pay.refund")
				return nil, nil
			}))
			if err := e.Register(defs["order"]); err != nil {
				t.Fatal(err)
			}
			res, err := e.Run(t.Context(), "order", json.RawMessage(tc.input))
			if tc.status == saga.StatusSucceeded && err != nil {
				t.Fatal(err)
			}
			if res == nil || res.Status != tc.status || res.ErrorName != tc.errName || strings.Join(log.get(), ",") != tc.calls {
				t.Fatalf("result %+v err %v calls %v", res, err, log.get())
			}
			if tc.output != "" && string(res.Output) != tc.output {
				t.Fatalf("output %s", res.Output)
			}
			if released != tc.released {
				t.Fatalf("released %q", released)
			}
		})
	}
}

func TestValidationErrors(t *testing.T) {
	base := func(states string) string {
		return `{"Name":"v","StartAt":"A","States":{` + states + `}}`
	}
	for _, tc := range []struct{ doc, want string }{
		{`{"Name":"v","StartAt":"A","States":{"A":{"Type":"Succeed"}},"Extra":1}`, `definition "v": field Extra: unknown field`},
		{base(`"A":{"Type":"ServiceTask","Service":"s","Bogus":true}`), `state "A": field Bogus: unknown field`},
		{base(`"A":{"Type":"ServiceTask","Service":7}`), `state "A": field Service: want string`},
		{base(`"A":{"Type":"ServiceTask","Service":"s","Next":"B"}`), `state "A": field Next: no state named "B"`},
		{base(`"A":{"Type":"ServiceTask","Service":"s","TimeoutSeconds":-1}`), `state "A": field TimeoutSeconds`},
		{base(`"A":{"Type":"ServiceTask","Service":"s","Retry":[{"ErrorEquals":["X"],"MaxAttempts":0}]}`), `state "A": field Retry: [0].MaxAttempts`},
		{base(`"A":{"Type":"ServiceTask","Service":"s","CompensateState":"C"}`), `state "A": field CompensateState: no compensation state`},
		{base(`"A":{"Type":"Succeed"},"C":{"Type":"ServiceTask","Service":"c","IsForCompensation":true}`), `state "C": field IsForCompensation: no state names it`},
		{base(`"A":{"Type":"Choice","Choices":[{"Variable":"$.input.x","Like":1,"Next":"A"}]}`), `state "A": field Choices[0]: unknown field "Like"`},
		{base(`"A":{"Type":"Choice","Choices":[{"Variable":"$.input.x","NumericEquals":"1","Next":"A"}]}`), `state "A": field Choices[0]: NumericEquals needs a number`},
		{base(`"A":{"Type":"SubStateMachine","StateMachine":"missing"}`), `state "A": field StateMachine: no loaded state machine named "missing"`},
		{base(`"A":{"Type":"Wait"}`), `state "A": field Type: unknown type "Wait"`},
		{`{"Name":"v","StartAt":"A","RecoveryStrategy":"Sideways","States":{"A":{"Type":"Succeed"}}}`, `field RecoveryStrategy`},
		{`{"Name":"v","StartAt":"A","States":{}}`, `field States: missing or empty`},
		{`{"Name":"v",`, `ends too early`},
	} {
		_, err := lang.Load([]byte(tc.doc))
		if err == nil || !strings.Contains(err.Error(), tc.want) || !errors.Is(err, txc.ErrInvalidArgument) {
			t.Errorf("%s\n got %v\nwant …%s…", tc.doc, err, tc.want)
		}
	}
}

func TestParallelInJSON(t *testing.T) {
	defs, err := lang.Load([]byte(`{"Name":"fan","StartAt":"First","States":{
	  "First": {"Type":"ServiceTask","Service":"s","Input":{"n":1},"CompensateState":"UndoFirst","Next":"Fan"},
	  "UndoFirst": {"Type":"ServiceTask","IsForCompensation":true,"Service":"undo"},
	  "Fan": {"Type":"Parallel","Next":"Done","Branches":[
	    {"Name":"A","Service":"s","Input":{"n":2},"CompensateState":"UndoA"},
	    {"Name":"B","Type":"ServiceTask","Service":"s","Input":{"n":3}}]},
	  "UndoA": {"Type":"ServiceTask","IsForCompensation":true,"Service":"undo"},
	  "Done": {"Type":"Succeed"}}}`))
	if err != nil {
		t.Fatal(err)
	}
	co := &coordinator{branches: map[txc.XID]client.Branch{}, ctx: t.Context()}
	e, err := saga.NewEngine(saga.Config{Name: "fan", Coordinator: co, Store: saga.NewMemoryStore()})
	if err != nil {
		t.Fatal(err)
	}
	var log calls
	e.RegisterService("s", saga.Func(func(_ context.Context, r *saga.Request, in struct{ N int }) (any, error) {
		log.add(fmt.Sprintf("s%d", in.N))
		if in.N == 3 {
			return nil, saga.NewError("No", "")
		}
		return nil, nil
	}))
	e.RegisterService("undo", saga.ServiceFunc(func(_ context.Context, r *saga.Request) (json.RawMessage, error) {
		log.add("undo " + r.State + " " + strings.SplitN(r.StepKey, "/", 2)[1])
		return nil, nil
	}))
	if err := e.Register(defs["fan"]); err != nil {
		t.Fatal(err)
	}
	res, err := e.Run(t.Context(), "fan", nil)
	if res == nil || res.Status != saga.StatusCompensated || res.ErrorName != "No" {
		t.Fatalf("%+v %v", res, err)
	}
	got := log.get()
	slices.Sort(got[1:3]) // the branches run concurrently
	if strings.Join(got, ",") != "s1,s2,s3,undo UndoA 2,undo UndoFirst 1" {
		t.Fatalf("calls %v", got)
	}
	for doc, want := range map[string]string{
		`{"Name":"v","StartAt":"A","States":{"A":{"Type":"ServiceTask","Service":"s","Branches":[{"Name":"x","Service":"s"}]}}}`: `state "A": field Branches: only a Parallel`,
		`{"Name":"v","StartAt":"A","States":{"A":{"Type":"Parallel","Branches":[{"Service":"s"}]}}}`:                             `state "A": field Branches[0]: a branch is a named ServiceTask`,
		`{"Name":"v","StartAt":"A","States":{"A":{"Type":"Parallel","Branches":[{"Name":"A","Service":"s"}]}}}`:                  `field Branches[0].Name: "A" is also a state`,
		`{"Name":"v","StartAt":"A","States":{"A":{"Type":"Parallel","Branches":[{"Name":"B","Service":"s","Next":"A"}]}}}`:       `state "B": field Branches[0]: a parallel branch has no Next`,
	} {
		if _, err := lang.Load([]byte(doc)); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s\n got %v\nwant …%s…", doc, err, want)
		}
	}
}
