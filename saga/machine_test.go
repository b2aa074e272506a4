package saga

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"
)

// fakeService answers one call: output or a named error.
type fakeService func(in map[string]any) (any, error)

// trace runs m to its end with services, logging like the driver does, and
// returns the calls made ("svc key") and the log. crashAfter (≥ 0) stops
// after that many calls were started, leaving the last one in flight.
func trace(t *testing.T, m *machine, services map[string]fakeService, crashAfter int) (calls []string, log []StepRecord, end *decision) {
	t.Helper()
	started := 0
	for range 1000 {
		d := m.Next()
		if d.kind != decRun {
			return calls, log, d
		}
		for _, c := range d.calls {
			log = append(log, StepRecord{Instance: m.id, Seq: c.Seq, State: c.State, Compensation: c.Compensation, Status: StepRunning, Input: c.Input})
		}
		for _, c := range d.calls {
			if crashAfter >= 0 && started == crashAfter {
				return calls, log, nil
			}
			started++
			calls = append(calls, c.Service+" "+c.Key)
			svc := services[c.Service]
			if svc == nil {
				t.Fatalf("no service %q", c.Service)
			}
			var in map[string]any
			json.Unmarshal(c.Input, &in)
			out, err := svc(in)
			rec := StepRecord{Instance: m.id, Seq: c.Seq, State: c.State, Compensation: c.Compensation}
			if err != nil {
				perm := IsPermanent(err)
				rec.Status, rec.ErrorName, rec.Error = StepFailed, ErrorName(err), err.Error()
				if e := m.fail(c.Seq, c.Compensation, ErrorName(err), err.Error(), perm); e != nil {
					t.Fatal(e)
				}
			} else {
				raw, _ := json.Marshal(out)
				rec.Status, rec.Output = StepSucceeded, raw
				if e := m.complete(c.Seq, c.Compensation, raw); e != nil {
					t.Fatal(e)
				}
			}
			log = append(log, rec)
		}
	}
	t.Fatal("machine did not end")
	return
}

func ok(out any) fakeService { return func(map[string]any) (any, error) { return out, nil } }

func echo(in map[string]any) (any, error) { return in, nil }

func failing(name string) fakeService {
	return func(map[string]any) (any, error) { return nil, NewError(name, "failed") }
}

func mustMachine(t *testing.T, def *Definition, input string) *machine {
	t.Helper()
	m, err := newMachine(def, "i1", json.RawMessage(input))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func threeSteps(t *testing.T, r Recovery) *Definition {
	t.Helper()
	d, err := Define("trip").Recovery(r).
		Step(Step("flight").Call("flight.book").Compensate("flight.cancel").
			Input(map[string]any{"who": FromInput("who"), "const": 7}).Output(map[string]string{"fid": "$.output.id"})).
		Step(Step("hotel").Call("hotel.book").Compensate("hotel.cancel").
			Input(map[string]any{"flight": FromVar("fid"), "whole": FromOutput("flight", "")})).
		Step(Step("car").Call("car.book").Compensate("car.cancel").CompensateInput(map[string]any{"undo": "$.step.input.hotel"}).
			Input(map[string]any{"hotel": FromOutput("hotel", "id")})).
		Build()
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func services(over map[string]fakeService) map[string]fakeService {
	s := map[string]fakeService{
		"flight.book": ok(map[string]any{"id": "F1"}), "hotel.book": ok(map[string]any{"id": "H1"}), "car.book": echo,
		"flight.cancel": echo, "hotel.cancel": echo, "car.cancel": echo,
	}
	for k, v := range over {
		s[k] = v
	}
	return s
}

func TestSequenceDataFlow(t *testing.T) {
	m := mustMachine(t, threeSteps(t, Backward), `{"who":"ann"}`)
	var inputs []string
	svcs := services(nil)
	for _, n := range []string{"flight.book", "hotel.book", "car.book"} {
		f := svcs[n]
		svcs[n] = func(in map[string]any) (any, error) {
			b, _ := json.Marshal(in)
			inputs = append(inputs, string(b))
			return f(in)
		}
	}
	calls, _, end := trace(t, m, svcs, -1)
	if end.status != StatusSucceeded || string(end.output) != `{"fid":"F1"}` {
		t.Fatalf("end %v %s", end.status, end.output)
	}
	want := []string{"flight.book i1/1", "hotel.book i1/2", "car.book i1/3"}
	if !slices.Equal(calls, want) {
		t.Fatalf("calls %v, want %v", calls, want)
	}
	wantIn := []string{`{"const":7,"who":"ann"}`, `{"flight":"F1","whole":{"id":"F1"}}`, `{"hotel":"H1"}`}
	if !slices.Equal(inputs, wantIn) {
		t.Fatalf("inputs %v, want %v", inputs, wantIn)
	}
}

func TestLastStepFailsCompensatesInReverse(t *testing.T) {
	m := mustMachine(t, threeSteps(t, Backward), `{"who":"ann"}`)
	var compIn string
	calls, _, end := trace(t, m, services(map[string]fakeService{
		"car.book": failing("NoCar"),
		"car.cancel": func(in map[string]any) (any, error) {
			t.Fatal("the failed step was compensated")
			return nil, nil
		},
		"hotel.cancel": func(in map[string]any) (any, error) { b, _ := json.Marshal(in); compIn = string(b); return nil, nil },
	}), -1)
	if end.status != StatusCompensated || end.errName != "NoCar" {
		t.Fatalf("end %v %s", end.status, end.errName)
	}
	want := []string{"flight.book i1/1", "hotel.book i1/2", "car.book i1/3", "hotel.cancel i1/2/c", "flight.cancel i1/1/c"}
	if !slices.Equal(calls, want) {
		t.Fatalf("calls %v, want %v", calls, want)
	}
	if compIn != `{"flight":"F1","whole":{"id":"F1"}}` {
		t.Fatalf("compensation input defaults to the step's input; got %s", compIn)
	}
}

func TestTimedOutStepIsCompensated(t *testing.T) {
	m := mustMachine(t, threeSteps(t, Backward), `{}`)
	calls, _, end := trace(t, m, services(map[string]fakeService{
		"car.book": func(map[string]any) (any, error) { return nil, fmt.Errorf("slow: %w", errStepTimeout) },
	}), -1)
	want := []string{"flight.book i1/1", "hotel.book i1/2", "car.book i1/3", "car.cancel i1/3/c", "hotel.cancel i1/2/c", "flight.cancel i1/1/c"}
	if end.status != StatusCompensated || end.errName != ErrNameTimeout || !slices.Equal(calls, want) {
		t.Fatalf("end %v %s, calls %v", end.status, end.errName, calls)
	}
}

func TestCompensationFailures(t *testing.T) {
	perm := func(map[string]any) (any, error) { return nil, &ServiceError{Name: "Gone", Permanent: true} }
	m := mustMachine(t, threeSteps(t, Backward), `{}`)
	_, _, end := trace(t, m, services(map[string]fakeService{"car.book": failing("X"), "hotel.cancel": perm}), -1)
	if end.status != StatusCompensationFailed || end.errName != "Gone" {
		t.Fatalf("permanent compensation failure: %v %s", end.status, end.errName)
	}
	m = mustMachine(t, threeSteps(t, Backward), `{}`)
	_, _, end = trace(t, m, services(map[string]fakeService{"car.book": failing("X"), "hotel.cancel": failing("Busy")}), -1)
	if end.kind != decSuspend || end.errName != "Busy" {
		t.Fatalf("retryable compensation failure: %+v", end)
	}
}

func TestParallelGroup(t *testing.T) {
	def, err := Define("p").
		Step(Step("a").Call("a").Compensate("a.c")).
		Parallel("both", Step("b").Call("b").Compensate("b.c"), Step("c").Call("c").Compensate("c.c"), Step("d").Call("d")).
		Step(Step("e").Call("e").Compensate("e.c").Input(map[string]any{"b": FromOutput("b", "v"), "c": FromOutput("c", "v")})).
		Build()
	if err != nil {
		t.Fatal(err)
	}
	svcs := map[string]fakeService{"a": ok(1), "b": ok(map[string]any{"v": "B"}), "c": ok(map[string]any{"v": "C"}), "d": ok(nil), "e": echo,
		"a.c": ok(nil), "b.c": ok(nil), "c.c": ok(nil), "e.c": ok(nil)}
	m := mustMachine(t, def, `{}`)
	var batches [][]string
	for {
		d := m.Next()
		if d.kind != decRun {
			if d.status != StatusSucceeded {
				t.Fatalf("end %v", d.status)
			}
			break
		}
		var b []string
		for _, c := range d.calls {
			b = append(b, c.Key)
		}
		batches = append(batches, b)
		for i := len(d.calls) - 1; i >= 0; i-- { // report out of order
			c := d.calls[i]
			var in map[string]any
			json.Unmarshal(c.Input, &in)
			out, _ := svcs[c.Service](in)
			raw, _ := json.Marshal(out)
			if c.Service == "e" && string(raw) != `{"b":"B","c":"C"}` {
				t.Fatalf("e got %s", raw)
			}
			m.complete(c.Seq, false, raw)
		}
	}
	if fmt.Sprint(batches) != "[[p1/1] [p1/2 p1/3 p1/4] [p1/5]]" && fmt.Sprint(batches) != "[[i1/1] [i1/2 i1/3 i1/4] [i1/5]]" {
		t.Fatalf("batches %v", batches)
	}
	// One branch fails: the others and the earlier step are compensated,
	// newest first; d has no compensation.
	m = mustMachine(t, def, `{}`)
	svcs["c"] = failing("NoC")
	calls, _, end := trace(t, m, svcs, -1)
	want := []string{"a i1/1", "b i1/2", "c i1/3", "d i1/4", "b.c i1/2/c", "a.c i1/1/c"}
	if end.status != StatusCompensated || !slices.Equal(calls, want) {
		t.Fatalf("end %v calls %v", end.status, calls)
	}
}

// languageSpec exercises every state type through a Spec.
func languageSpec() *Spec {
	pay := &Spec{Name: "pay", StartAt: "Charge", States: []StateSpec{
		{Name: "Charge", Type: ServiceTask, Service: "charge", Input: map[string]any{"amount": "$.input.amount"},
			Output: map[string]string{"receipt": "$.output.r"}, Compensation: &CompensationSpec{Service: "refund"}, Next: "Big"},
		{Name: "Big", Type: Choice, Choices: []ChoiceRule{{Cond: Cond{Variable: "$.input.amount", Op: NumericGreaterThan, Value: 1000}, Next: "Refuse"}}, Default: "Ok"},
		{Name: "Refuse", Type: Fail, Error: "TooBig", Cause: "over the limit"},
		{Name: "Ok", Type: Succeed},
	}}
	return &Spec{Name: "order", StartAt: "Reserve", States: []StateSpec{
		{Name: "Reserve", Type: ServiceTask, Service: "reserve", Output: map[string]string{"stock": "$.output.left"},
			Compensation: &CompensationSpec{Name: "Release", Service: "release"},
			Retry:        []RetryRule{{Errors: []string{"Busy"}, MaxAttempts: 3}},
			Catch:        []CatchRule{{Errors: []string{"OutOfStock"}, Next: "Sorry"}}, Next: "Check"},
		{Name: "Check", Type: Choice, Choices: []ChoiceRule{
			{Cond: Cond{And: []Cond{{Variable: "$.vars.stock", Op: IsPresent, Value: true}, {Variable: "$.vars.stock", Op: NumericLessThan, Value: 0}}}, Next: "Undo"},
			{Cond: Cond{Variable: "$.input.vip", Op: BooleanEquals, Value: true}, Next: "Pay"},
			{Cond: Cond{Not: &Cond{Variable: "$.input.kind", Op: StringEquals, Value: "normal"}}, Next: "Sorry"},
		}, Default: "Pay"},
		{Name: "Pay", Type: SubStateMachine, Machine: pay, Input: map[string]any{"amount": "$.input.amount"},
			Output: map[string]string{"receipt": "$.output.receipt"}, Next: "Done"},
		{Name: "Undo", Type: CompensationTrigger, Error: "Negative"},
		{Name: "Sorry", Type: Fail, Error: "Sorry"},
		{Name: "Done", Type: Succeed},
	}}
}

func TestEveryStateType(t *testing.T) {
	def, err := Compile(languageSpec())
	if err != nil {
		t.Fatal(err)
	}
	base := map[string]fakeService{"reserve": ok(map[string]any{"left": 5}), "release": ok(nil),
		"charge": ok(map[string]any{"r": "R9"}), "refund": ok(nil)}
	with := func(k string, f fakeService) map[string]fakeService {
		m := map[string]fakeService{}
		for a, b := range base {
			m[a] = b
		}
		if k != "" {
			m[k] = f
		}
		return m
	}
	for _, tc := range []struct {
		name, input string
		svcs        map[string]fakeService
		status      Status
		errName     string
		calls       string
		output      string
	}{
		{"vip pays in sub machine", `{"vip":true,"amount":10,"kind":"x"}`, base, StatusSucceeded, "",
			"reserve i1/1,charge i1/2", `{"receipt":"R9","stock":5}`},
		{"not normal: fail state, no compensation", `{"amount":10,"kind":"x"}`, base, StatusFailed, "Sorry", "reserve i1/1", ""},
		{"normal: default branch", `{"amount":10,"kind":"normal"}`, base, StatusSucceeded, "", "reserve i1/1,charge i1/2", `{"receipt":"R9","stock":5}`},
		{"fail inside sub machine compensates", `{"amount":5000,"kind":"normal"}`, base, StatusCompensated, "TooBig",
			"reserve i1/1,charge i1/2,refund i1/2/c,release i1/1/c", ""},
		{"compensation trigger", `{"amount":1}`, with("reserve", ok(map[string]any{"left": -1})), StatusCompensated, "Negative",
			"reserve i1/1,release i1/1/c", ""},
		{"catch routes to fail", `{}`, with("reserve", failing("OutOfStock")), StatusFailed, "Sorry", "reserve i1/1", ""},
		{"uncaught error compensates (nothing done)", `{}`, with("reserve", failing("Other")), StatusCompensated, "Other", "reserve i1/1", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			calls, _, end := trace(t, mustMachine(t, def, tc.input), tc.svcs, -1)
			if end.status != tc.status || end.errName != tc.errName || strings.Join(calls, ",") != tc.calls {
				t.Fatalf("got %v %q %v", end.status, end.errName, calls)
			}
			if tc.output != "" && string(end.output) != tc.output {
				t.Fatalf("output %s, want %s", end.output, tc.output)
			}
		})
	}
}

// TestReplayAtEveryPoint crashes the run with the call number k in flight,
// for every k, replays the log and finishes: forward recovery runs the
// interrupted call again with the same key, backward recovery compensates
// it and every completed step, newest first.
func TestReplayAtEveryPoint(t *testing.T) {
	for _, r := range []Recovery{Forward, Backward} {
		for k := 0; k < 3; k++ {
			t.Run(fmt.Sprintf("%v/crash-in-step-%d", r, k+1), func(t *testing.T) {
				def := threeSteps(t, r)
				before, log, end := trace(t, mustMachine(t, def, `{"who":"ann"}`), services(nil), k)
				if end != nil {
					t.Fatal("did not crash")
				}
				inst := Instance{ID: "i1", Input: json.RawMessage(`{"who":"ann"}`), Status: StatusRunning}
				m, err := replay(def, inst, collapse(log))
				if err != nil {
					t.Fatal(err)
				}
				if r == Backward {
					m.abandon()
				}
				after, _, end := trace(t, m, services(nil), -1)
				all := append(before, after...)
				var want []string
				books := []string{"flight.book", "hotel.book", "car.book"}
				cancels := []string{"flight.cancel", "hotel.cancel", "car.cancel"}
				for i := 0; i < k; i++ {
					want = append(want, fmt.Sprintf("%s i1/%d", books[i], i+1))
				}
				if r == Forward {
					for i := k; i < 3; i++ {
						want = append(want, fmt.Sprintf("%s i1/%d", books[i], i+1))
					}
					if end.status != StatusSucceeded {
						t.Fatalf("end %v", end.status)
					}
				} else {
					for i := k; i >= 0; i-- {
						want = append(want, fmt.Sprintf("%s i1/%d/c", cancels[i], i+1))
					}
					if end.status != StatusCompensated || end.errName != "Interrupted" {
						t.Fatalf("end %v %s", end.status, end.errName)
					}
				}
				if !slices.Equal(all, want) {
					t.Fatalf("calls %v, want %v", all, want)
				}
			})
		}
	}
}

// collapse keeps the last record per (seq, compensation), as the store does.
func collapse(log []StepRecord) []StepRecord {
	var out []StepRecord
	idx := map[[2]int]int{}
	for _, r := range log {
		k := [2]int{r.Seq, 0}
		if r.Compensation {
			k[1] = 1
		}
		if i, ok := idx[k]; ok {
			in := out[i].Input
			out[i] = r
			out[i].Input = in
			continue
		}
		idx[k] = len(out)
		out = append(out, r)
	}
	slices.SortFunc(out, func(a, b StepRecord) int {
		if a.Seq != b.Seq {
			return a.Seq - b.Seq
		}
		if a.Compensation {
			return 1
		}
		return -1
	})
	return out
}

func TestReplayMidCompensation(t *testing.T) {
	def := threeSteps(t, Backward)
	calls, log, end := trace(t, mustMachine(t, def, `{}`), services(map[string]fakeService{"car.book": failing("X"), "hotel.cancel": failing("Busy")}), -1)
	if end.kind != decSuspend {
		t.Fatalf("%+v %v", end, calls)
	}
	m, err := replay(def, Instance{ID: "i1", Input: json.RawMessage(`{}`), Status: StatusCompensating}, collapse(log))
	if err != nil {
		t.Fatal(err)
	}
	after, _, end := trace(t, m, services(nil), -1)
	if end.status != StatusCompensated || strings.Join(after, ",") != "hotel.cancel i1/2/c,flight.cancel i1/1/c" {
		t.Fatalf("%v %v", end.status, after)
	}
}

func TestReplayRefusesAChangedDefinition(t *testing.T) {
	_, log, _ := trace(t, mustMachine(t, threeSteps(t, Forward), `{}`), services(nil), 2)
	other, err := Define("trip").Step(Step("flight").Call("flight.book")).Step(Step("train").Call("t")).Build()
	if err != nil {
		t.Fatal(err)
	}
	_, err = replay(other, Instance{ID: "i1", Input: json.RawMessage(`{}`)}, collapse(log))
	if err == nil || !strings.Contains(err.Error(), "does not fit") {
		t.Fatalf("replay on another definition: %v", err)
	}
}

func TestRetryDelay(t *testing.T) {
	rules, err := compileRetry([]RetryRule{
		{Errors: []string{"HTTP.*"}, Interval: 100 * time.Millisecond, Backoff: 3, MaxInterval: time.Second, MaxAttempts: 5},
		{Errors: []string{"Busy"}, Interval: time.Second, MaxAttempts: 2},
	})
	if err != nil {
		t.Fatal(err)
	}
	var got []time.Duration
	for a := 1; ; a++ {
		d, ok := retryDelay(rules, "HTTP.503", false, a)
		if !ok {
			break
		}
		got = append(got, d)
	}
	if fmt.Sprint(got) != "[100ms 300ms 900ms 1s]" {
		t.Fatalf("delays %v", got)
	}
	if d, ok := retryDelay(rules, "Busy", false, 1); !ok || d != time.Second {
		t.Fatal("Busy: default backoff 2, first delay = interval")
	}
	if _, ok := retryDelay(rules, "Busy", true, 1); ok {
		t.Fatal("a permanent error was retried")
	}
	if _, ok := retryDelay(rules, "Other", false, 1); ok {
		t.Fatal("an unmatched error was retried")
	}
	for _, bad := range [][]RetryRule{{{MaxAttempts: 1}}, {{Errors: []string{"*"}}}, {{Errors: []string{"*"}, MaxAttempts: 1, Backoff: 0.5}}} {
		if _, err := compileRetry(bad); err == nil {
			t.Fatalf("accepted %+v", bad)
		}
	}
}

func TestValidationNamesStateAndField(t *testing.T) {
	good := func() *Spec { return languageSpec() }
	for _, tc := range []struct {
		mutate func(s *Spec)
		want   string
	}{
		{func(s *Spec) { s.StartAt = "Nope" }, `field StartAt: no state named "Nope"`},
		{func(s *Spec) { s.States[0].Next = "Nowhere" }, `state "Reserve": field Next: no state named "Nowhere"`},
		{func(s *Spec) { s.States[0].Service = "" }, `state "Reserve": field Service: empty`},
		{func(s *Spec) { s.States[0].Retry[0].MaxAttempts = 0 }, `state "Reserve": field Retry: [0].MaxAttempts`},
		{func(s *Spec) { s.States[0].Catch[0].Next = "" }, `state "Reserve": field Catch[0].Next: empty`},
		{func(s *Spec) { s.States[0].Input = map[string]any{"x": "$.bogus"} }, `state "Reserve": field Input: x: path "$.bogus": unknown root`},
		{func(s *Spec) { s.States[1].Choices[1].Cond.Op = "Like" }, `state "Check": field Choices[1]: unknown comparison "Like"`},
		{func(s *Spec) { s.States[1].Choices[0].Cond.And[1].Value = "x" }, `state "Check": field Choices[0]: And[1]: NumericLessThan needs a number`},
		{func(s *Spec) { s.States[2].Machine.States[0].Next = "Zip" }, `state "Pay/Charge": field Next: no state named "Zip"`},
		{func(s *Spec) { s.States[2].Machine = s }, `state "Pay/": field Machine: sub state machine "order" includes itself`},
		{func(s *Spec) { s.States[3].Type = "Wait" }, `state "Undo": field Type: unknown type "Wait"`},
		{func(s *Spec) { s.States[4].Name = "Done" }, `state "Done": field Name: two states have this name`},
		{func(s *Spec) { s.States[5].Next = "Pay" }, `state "Done": field Next: a Succeed state has no Next`},
		{func(s *Spec) { s.States[0].Compensation.Name = "Check" }, `field Compensation.Name: "Check" is also the name`},
		{func(s *Spec) { s.Name = "a/b" }, `definition "a/b": field Name`},
	} {
		s := good()
		tc.mutate(s)
		_, err := Compile(s)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("got %v\nwant …%s…", err, tc.want)
			continue
		}
		var de *DefinitionError
		if !errors.As(err, &de) {
			t.Errorf("%v is not a *DefinitionError", err)
		}
	}
}

func TestTemplateLiterals(t *testing.T) {
	type point struct{ X, Y int }
	def, err := Define("lit").Step(Step("a").Call("a").Input(map[string]any{
		"p": point{1, 2}, "list": []int{3, 4}, "ref": FromInput("k"), "path": "$.input.k", "n": 5})).Build()
	if err != nil {
		t.Fatal(err)
	}
	var got string
	trace(t, mustMachine(t, def, `{"k":"v"}`), map[string]fakeService{"a": func(in map[string]any) (any, error) {
		b, _ := json.Marshal(in)
		got = string(b)
		return nil, nil
	}}, -1)
	if got != `{"list":[3,4],"n":5,"p":{"X":1,"Y":2},"path":"v","ref":"v"}` {
		t.Fatalf("input %s", got)
	}
}

func TestReplayInsideParallelGroup(t *testing.T) {
	for _, r := range []Recovery{Forward, Backward} {
		def, err := Define("p").Recovery(r).
			Step(Step("a").Call("a").Compensate("a.c")).
			Parallel("g", Step("b").Call("b").Compensate("b.c"), Step("c").Call("c").Compensate("c.c")).
			Build()
		if err != nil {
			t.Fatal(err)
		}
		svcs := map[string]fakeService{"a": ok(1), "b": ok(2), "c": ok(3), "a.c": ok(nil), "b.c": ok(nil), "c.c": ok(nil)}
		// b finished, c in flight when the process died.
		_, log, end := trace(t, mustMachine(t, def, `{}`), svcs, 2)
		if end != nil {
			t.Fatal("did not crash")
		}
		m, err := replay(def, Instance{ID: "i1", Input: json.RawMessage(`{}`)}, collapse(log))
		if err != nil {
			t.Fatal(err)
		}
		if r == Backward {
			m.abandon()
		}
		after, _, end := trace(t, m, svcs, -1)
		want := "c i1/3"
		status := StatusSucceeded
		if r == Backward {
			want, status = "c.c i1/3/c,b.c i1/2/c,a.c i1/1/c", StatusCompensated
		}
		if end.status != status || strings.Join(after, ",") != want {
			t.Fatalf("%v: %v %v", r, end.status, after)
		}
	}
}
