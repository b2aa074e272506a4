package saga

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// This file is the engine's decision logic. A machine holds one instance's
// position and data; it does no I/O, keeps no clock and calls nothing. The
// driver (run.go) asks it what to do next (Next), does it, and tells it the
// results (complete, fail). Replay rebuilds a machine from the execution
// log, which is how a crashed saga resumes: the definition is
// deterministic, so walking it again over the logged outputs lands on the
// same state with the same data and the same step numbers (and therefore
// the same idempotency keys).

// Call is one invocation the driver must make: a forward step or a
// compensation.
type Call struct {
	Seq          int
	State        string
	Service      string
	Compensation bool
	Input        json.RawMessage
	// Key is the stable idempotency key of this call:
	// "<instance>/<seq>" for a step, "<instance>/<seq>/c" for its
	// compensation. It is the same on every retry and after recovery.
	Key string
	// StepKey is the key of the step a compensation undoes (for a step,
	// equal to Key).
	StepKey string

	retry   []RetryRule
	timeout time.Duration
}

type decisionKind uint8

const (
	decRun     decisionKind = iota + 1 // make Calls (all at once), report each
	decEnd                             // persist the final (or parked) status
	decSuspend                         // a compensation keeps failing: persist and let the coordinator retry later
)

type decision struct {
	kind    decisionKind
	calls   []*Call
	status  Status
	output  json.RawMessage
	errName string
	errMsg  string
}

type scope struct {
	input any
	vars  map[string]any
	out   map[string]any
}

type flightCall struct {
	call   *Call
	t      *task
	in     any
	state  StepStatus // Running until reported
	out    any
	outRaw json.RawMessage
	errN   string
	errMsg string
}

type doneStep struct {
	seq   int
	t     *task
	scope string
	in    any
	out   any
}

type machine struct {
	def    *Definition
	id     string
	scopes map[string]*scope
	cur    *state
	seq    int
	flight []*flightCall

	done         []*doneStep // forward steps that completed or may have run, by seq
	compensating bool
	compDone     map[int]bool
	compFlight   *Call
	suspended    *decision
	end          *decision

	causeName, causeMsg string
}

func newMachine(def *Definition, id string, input json.RawMessage) (*machine, error) {
	var in any
	if len(input) > 0 {
		if err := json.Unmarshal(input, &in); err != nil {
			return nil, invalid("input of instance %s is not JSON: %v", id, err)
		}
	}
	m := &machine{def: def, id: id, compDone: map[int]bool{},
		scopes: map[string]*scope{"": {input: in, vars: map[string]any{}, out: map[string]any{}}}}
	m.cur = def.states[def.start]
	m.settle()
	return m, nil
}

func (m *machine) root(sc string) map[string]any {
	s := m.scopes[sc]
	return map[string]any{"input": s.input, "vars": s.vars, "out": s.out}
}

func shortName(full, scope string) string { return strings.TrimPrefix(full, scope) }

// settle walks the states that need no call (Choice, Succeed, Fail,
// CompensationTrigger, sub machine entry and exit) until the machine stands
// on a task or parallel state (and prepares its calls) or has ended.
func (m *machine) settle() {
	for steps := 0; ; steps++ {
		if m.compensating || m.end != nil {
			return
		}
		if steps > len(m.def.states)+1 {
			m.startCompensation("States.Loop", "saga: states loop without calling any service")
			return
		}
		st := m.cur
		if st == nil {
			m.finish(StatusSucceeded, "", "")
			return
		}
		switch st.kind {
		case kindTask:
			m.prepare(st, []*task{st.task})
			return
		case kindParallel:
			m.prepare(st, st.branches)
			return
		case kindChoice:
			root := m.root(st.scope)
			next, matched := "", false
			for _, r := range st.choices {
				if r.cond.eval(root) {
					next, matched = r.next, true
					break
				}
			}
			if !matched {
				if st.noDefault {
					m.startCompensation("States.NoChoiceMatched", fmt.Sprintf("saga: no rule of choice %q matched", st.name))
					return
				}
				next = st.def
			}
			m.goTo(next)
		case kindSucceed:
			m.finish(StatusSucceeded, "", "")
			return
		case kindFail:
			if st.scope == "" {
				m.finish(StatusFailed, st.errName, st.cause)
			} else {
				m.startCompensation(st.errName, st.cause)
			}
			return
		case kindTrigger:
			m.startCompensation(st.errName, st.cause)
			return
		case kindSubEnter:
			in := any(nil)
			if st.input != nil {
				in = st.input.eval(m.root(st.scope))
			} else {
				in = m.scopes[st.scope].input
			}
			m.scopes[st.name+"/"] = &scope{input: normalize(in), vars: map[string]any{}, out: map[string]any{}}
			m.goTo(st.next)
		case kindSubExit:
			vars := m.scopes[st.name].vars
			parent := m.scopes[st.scope]
			subName := shortName(strings.TrimSuffix(st.name, "/"), st.scope)
			out := normalize(vars)
			parent.out[subName] = out
			m.applyOutput(st.scope, st.output, out)
			m.goTo(st.next)
		case kindGoto:
			m.goTo(st.next)
		default:
			panic("saga: machine on a state of kind " + strconv.Itoa(int(st.kind)))
		}
	}
}

func (m *machine) goTo(name string) {
	if name == "" {
		m.cur = nil
		return
	}
	m.cur = m.def.states[name]
}

// prepare numbers and builds the calls of a task or parallel state.
func (m *machine) prepare(st *state, tasks []*task) {
	root := m.root(st.scope)
	for _, t := range tasks {
		m.seq++
		var in any
		if t.input != nil {
			in = t.input.eval(root)
		} else {
			in = m.scopes[st.scope].input
		}
		raw, in := encode(in)
		key := m.id + "/" + strconv.Itoa(m.seq)
		m.flight = append(m.flight, &flightCall{t: t, in: in, state: StepRunning, call: &Call{
			Seq: m.seq, State: t.name, Service: t.service, Input: raw, Key: key, StepKey: key,
			retry: t.retry, timeout: t.timeout}})
	}
}

func (m *machine) applyOutput(sc string, maps []outputMapping, output any) {
	if len(maps) == 0 {
		return
	}
	root := m.root(sc)
	root["output"] = output
	for _, o := range maps {
		v, _ := o.path.get(root)
		m.scopes[sc].vars[o.name] = v
	}
}

func (m *machine) finish(s Status, name, msg string) {
	d := &decision{kind: decEnd, status: s, errName: name, errMsg: msg}
	if s == StatusSucceeded {
		d.output, _ = encode(m.scopes[""].vars)
	}
	m.end = d
	m.cur = nil
}

func (m *machine) startCompensation(name, msg string) {
	m.compensating = true
	m.causeName, m.causeMsg = name, msg
	m.cur = nil
}

// status is the instance status the log should show now.
func (m *machine) status() Status {
	switch {
	case m.end != nil:
		return m.end.status
	case m.compensating:
		return StatusCompensating
	}
	return StatusRunning
}

// Next says what to do. It changes nothing: asking twice gives the same
// answer until a result is reported.
func (m *machine) Next() *decision {
	if m.end != nil {
		return m.end
	}
	if m.suspended != nil {
		return m.suspended
	}
	if m.compensating {
		if m.compFlight == nil {
			m.compFlight = m.nextCompensation()
		}
		if m.compFlight == nil {
			m.finish(StatusCompensated, m.causeName, m.causeMsg)
			return m.end
		}
		return &decision{kind: decRun, calls: []*Call{m.compFlight}}
	}
	var calls []*Call
	for _, f := range m.flight {
		if f.state == StepRunning {
			calls = append(calls, f.call)
		}
	}
	return &decision{kind: decRun, calls: calls}
}

// nextCompensation returns the compensation of the newest step that needs
// one and has not been compensated, or nil.
func (m *machine) nextCompensation() *Call {
	for i := len(m.done) - 1; i >= 0; i-- {
		d := m.done[i]
		if d.t.comp == nil || m.compDone[d.seq] {
			continue
		}
		root := m.root(d.scope)
		root["step"] = map[string]any{"input": d.in, "output": d.out}
		var in any = d.in
		if d.t.comp.input != nil {
			in = d.t.comp.input.eval(root)
		}
		raw, _ := encode(in)
		stepKey := m.id + "/" + strconv.Itoa(d.seq)
		return &Call{Seq: d.seq, State: d.t.comp.name, Service: d.t.comp.service, Compensation: true,
			Input: raw, Key: stepKey + "/c", StepKey: stepKey, retry: compRetry(d.t.comp.retry), timeout: d.t.comp.timeout}
	}
	return nil
}

func compRetry(r []RetryRule) []RetryRule {
	if len(r) == 0 {
		return DefaultCompensationRetry
	}
	return r
}

// complete reports that the call numbered seq (a compensation when comp)
// succeeded with output.
func (m *machine) complete(seq int, comp bool, output json.RawMessage) error {
	if comp {
		if m.compFlight == nil || m.compFlight.Seq != seq {
			return fmt.Errorf("saga: compensation %d reported but not running", seq)
		}
		m.compDone[seq] = true
		m.compFlight = nil
		return nil
	}
	f := m.inFlight(seq)
	if f == nil {
		return fmt.Errorf("saga: step %d reported but not running", seq)
	}
	var out any
	if len(output) > 0 {
		if err := json.Unmarshal(output, &out); err != nil {
			return fmt.Errorf("saga: output of step %d is not JSON: %v", seq, err)
		}
	}
	f.state, f.out, f.outRaw = StepSucceeded, out, output
	m.groupDone()
	return nil
}

// fail reports that the call numbered seq failed after its retries, with
// an error named name; permanent matters to compensations only.
func (m *machine) fail(seq int, comp bool, name, msg string, permanent bool) error {
	if comp {
		if m.compFlight == nil || m.compFlight.Seq != seq {
			return fmt.Errorf("saga: compensation %d reported but not running", seq)
		}
		if permanent {
			m.end = &decision{kind: decEnd, status: StatusCompensationFailed, errName: name, errMsg: msg}
			return nil
		}
		m.suspended = &decision{kind: decSuspend, status: StatusCompensating, errName: name, errMsg: msg}
		return nil
	}
	f := m.inFlight(seq)
	if f == nil {
		return fmt.Errorf("saga: step %d reported but not running", seq)
	}
	f.state, f.errN, f.errMsg = StepFailed, name, msg
	m.groupDone()
	return nil
}

func (m *machine) inFlight(seq int) *flightCall {
	for _, f := range m.flight {
		if f.call.Seq == seq && f.state == StepRunning {
			return f
		}
	}
	return nil
}

// groupDone moves on once every call of the current group reported.
func (m *machine) groupDone() {
	for _, f := range m.flight {
		if f.state == StepRunning {
			return
		}
	}
	st := m.cur
	var failed *flightCall
	for _, f := range m.flight {
		sc := m.scopes[st.scope]
		switch {
		case f.state == StepSucceeded:
			sc.out[shortName(f.t.name, st.scope)] = f.out
			m.applyOutput(st.scope, f.t.output, f.out)
			m.done = append(m.done, &doneStep{seq: f.call.Seq, t: f.t, scope: st.scope, in: f.in, out: f.out})
		case mayHaveRun(f.errN):
			// A step that timed out or whose answer was lost may have run:
			// compensate it too.
			m.done = append(m.done, &doneStep{seq: f.call.Seq, t: f.t, scope: st.scope, in: f.in})
			fallthrough
		default:
			if failed == nil {
				failed = f
			}
		}
	}
	m.flight = m.flight[:0]
	if failed == nil {
		m.goTo(st.next)
		m.settle()
		return
	}
	if st.kind == kindTask {
		for _, c := range st.task.catch {
			if matchName(c.errors, failed.errN) {
				m.goTo(c.next)
				m.settle()
				return
			}
		}
	}
	m.startCompensation(failed.errN, failed.errMsg)
}

// mayHaveRun reports whether a step that failed with the error named name
// may nevertheless have done its work: it timed out, or the service was
// "Unavailable", which the HTTP and gRPC adapters also answer when the
// request went out and its answer was lost (a 504 from a proxy, a
// connection cut mid-call). Such a step is compensated with the completed
// ones; a compensation must succeed doing nothing when its step never
// reached the service, so compensating one too many is safe, one too few
// is not.
func mayHaveRun(name string) bool { return name == ErrNameTimeout || name == ErrNameUnavailable }

// abandon gives up the calls in flight after a crash (backward recovery):
// they may have run, so they are compensated with the completed ones
// (including members of the interrupted group that had completed).
func (m *machine) abandon() {
	if m.compensating || m.end != nil {
		return
	}
	for _, f := range m.flight {
		switch {
		case f.state == StepSucceeded:
			m.done = append(m.done, &doneStep{seq: f.call.Seq, t: f.t, scope: m.cur.scope, in: f.in, out: f.out})
		case f.state == StepRunning, mayHaveRun(f.errN):
			m.done = append(m.done, &doneStep{seq: f.call.Seq, t: f.t, scope: m.cur.scope, in: f.in})
		}
	}
	m.flight = nil
	m.startCompensation("Interrupted", "saga: the process running the saga stopped; recovered backward")
}

// inFlightCount is the number of forward calls started and not reported.
func (m *machine) inFlightCount() int {
	n := 0
	for _, f := range m.flight {
		if f.state == StepRunning {
			n++
		}
	}
	return n
}

// replay rebuilds the machine of an instance from its log. It fails
// (txc.ErrInvalidArgument) when the log does not fit the definition, for
// example because the definition changed in a way that moves steps.
func replay(def *Definition, inst Instance, steps []StepRecord) (*machine, error) {
	m, err := newMachine(def, inst.ID, inst.Input)
	if err != nil {
		return nil, err
	}
	var fwd, comp []StepRecord
	for _, s := range steps {
		if s.Compensation {
			comp = append(comp, s)
		} else {
			fwd = append(fwd, s)
		}
	}
	mismatch := func(s StepRecord, why string) error {
		return invalid("log of instance %s does not fit definition %q at step %d (%s): %s", inst.ID, def.name, s.Seq, s.State, why)
	}
	for i := 0; i < len(fwd); {
		if m.end != nil || m.compensating {
			return nil, mismatch(fwd[i], "the saga had already ended or begun compensating")
		}
		group := append([]*flightCall(nil), m.flight...)
		if len(group) == 0 {
			return nil, mismatch(fwd[i], "no step expected here")
		}
		for _, f := range group {
			if i >= len(fwd) {
				break
			}
			s := fwd[i]
			if s.Seq != f.call.Seq || s.State != f.call.State {
				return nil, mismatch(s, fmt.Sprintf("expected step %d (%s)", f.call.Seq, f.call.State))
			}
			i++
			switch s.Status {
			case StepSucceeded:
				err = m.complete(s.Seq, false, s.Output)
			case StepFailed:
				err = m.fail(s.Seq, false, s.ErrorName, s.Error, false)
			}
			if err != nil {
				return nil, mismatch(s, err.Error())
			}
		}
		unfinished := false
		for _, f := range group {
			unfinished = unfinished || f.state == StepRunning
		}
		if unfinished && i < len(fwd) {
			return nil, mismatch(fwd[i], "a step logged after one that never finished")
		}
	}
	if (inst.Status == StatusCompensating || inst.Status == StatusCompensationFailed) && !m.compensating {
		m.abandon()
	}
	for _, s := range comp {
		if s.Status == StepSucceeded {
			m.compDone[s.Seq] = true
		}
	}
	return m, nil
}

// normalize passes v through JSON so that live runs and replays see the
// same Go values (float64 numbers, map[string]any objects).
func normalize(v any) any {
	_, out := encode(v)
	return out
}

func encode(v any) (json.RawMessage, any) {
	b, err := json.Marshal(v)
	if err != nil {
		return json.RawMessage("null"), nil
	}
	var out any
	_ = json.Unmarshal(b, &out)
	return b, out
}
