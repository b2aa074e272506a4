package saga

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/txcio/txc"
)

// EngineOnStore runs the engine on st: a success, a compensation, and a
// crash in the middle then recovery from the log. The external test
// TestEngineOnDatabases gives it the SQL log on each real database (package
// sqllog imports this one, so this package's own tests cannot).
func EngineOnStore(t *testing.T, st Store) {
	t.Helper()
	g := &rig{tc: newFakeTC(t), store: st, clock: newFakeClock(), rec: newRecorder(), def: threeSteps(t, Forward)}
	g.restart(t)
	if _, err := g.eng.Run(t.Context(), "trip", map[string]any{"who": "bo"}); err != nil {
		t.Fatal(err)
	}
	g.rec.set("car.book", func(context.Context, *Request) (json.RawMessage, error) { return nil, NewError("NoCar", "") })
	if _, err := g.eng.Run(t.Context(), "trip", nil); !errors.Is(err, txc.ErrRolledBack) {
		t.Fatalf("Run: %v", err)
	}
	id := g.crashIn(t, "car.book", nil)
	g.restart(t) // the restarted process: its scan at start resumes the saga
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
