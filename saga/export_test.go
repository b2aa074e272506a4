package saga

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/txcio/txc"
)

// EngineOnStore runs the engine on st: a success, a compensation, and a
// crash in the middle then recovery from the log. The external test
// TestEngineOnDatabases gives it the SQL log on each real database (package
// sqllog imports this one, so this package's own tests cannot).
func EngineOnStore(t *testing.T, name string, st Store) {
	t.Helper()
	g := &rig{tc: newFakeTC(t), store: nil, clock: newFakeClock(), rec: newRecorder()}
	g.def = threeSteps(t, Forward)
	mk := func() {
		n := 0
		e, err := NewEngine(Config{Name: "db", Coordinator: g.tc, Store: st, Clock: g.clock, NewID: func() string { n++; return fmt.Sprintf("%s-%d", name, n) }})
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
	mk()
	if _, err := g.eng.Run(t.Context(), "trip", map[string]any{"who": "bo"}); err != nil {
		t.Fatal(err)
	}
	g.rec.set("car.book", func(context.Context, *Request) (json.RawMessage, error) { return nil, NewError("NoCar", "") })
	if _, err := g.eng.Run(t.Context(), "trip", nil); !errors.Is(err, txc.ErrRolledBack) {
		t.Fatalf("Run: %v", err)
	}
	id := g.crashIn(t, "car.book", nil)
	mk() // the restarted process: its scan at start resumes the saga
	if err := g.eng.Recover(t.Context()); err != nil {
		t.Fatal(err)
	}
	inst, steps, err := g.eng.Status(t.Context(), id)
	if err != nil || inst.Status != StatusSucceeded || len(steps) != 3 {
		t.Fatalf("%+v %v %v", inst, steps, err)
	}
	calls := g.rec.list()
	if tail := strings.Join(calls[len(calls)-2:], ","); tail != "car.book "+id+"/3,car.book "+id+"/3" {
		t.Fatalf("calls %v", calls)
	}
}
