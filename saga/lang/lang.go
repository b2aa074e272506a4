// Package lang reads saga definitions written in txc's JSON state language
// and compiles them with saga.Compile, to the same representation as the Go
// builder.
//
// A document is one state machine:
//
//	{
//	  "Name": "order",
//	  "Comment": "free text",
//	  "StartAt": "Reserve",
//	  "RecoveryStrategy": "Backward",            // or "Forward"; default Backward
//	  "States": {
//	    "Reserve": {
//	      "Type": "ServiceTask",
//	      "Service": "stock.reserve",               // a name registered with the engine
//	      "Input": {"sku": "$.input.sku", "n": 1},  // "$…" strings are paths
//	      "Output": {"reservation": "$.output.id"}, // variables from the output
//	      "Retry": [{"ErrorEquals": ["Unavailable"], "IntervalSeconds": 0.2,
//	                 "BackoffRate": 2, "MaxIntervalSeconds": 5, "MaxAttempts": 4}],
//	      "Catch": [{"ErrorEquals": ["OutOfStock"], "Next": "SoldOut"}],
//	      "TimeoutSeconds": 10,
//	      "CompensateState": "Release",
//	      "Next": "Route"
//	    },
//	    "Release": {"Type": "ServiceTask", "IsForCompensation": true, "Service": "stock.release",
//	                "Input": {"reservation": "$.step.output.id"}},
//	    "Route": {"Type": "Choice",
//	              "Choices": [{"Variable": "$.input.total", "NumericGreaterThan": 1000, "Next": "Review"},
//	                          {"And": [{"Variable": "$.input.vip", "BooleanEquals": true},
//	                                   {"Not": {"Variable": "$.input.country", "StringEquals": "XX"}}],
//	                           "Next": "Pay"}],
//	              "Default": "Pay"},
//	    "Pay": {"Type": "SubStateMachine", "StateMachine": "payment",
//	            "Input": {"amount": "$.input.total"}, "Output": {"receipt": "$.output.receipt"}, "Next": "Done"},
//	    "Review": {"Type": "CompensationTrigger", "Error": "NeedsReview"},
//	    "SoldOut": {"Type": "Fail", "Error": "SoldOut", "Cause": "no stock"},
//	    "Done": {"Type": "Succeed"}
//	  }
//	}
//
// Paths: $.input (the machine's input), $.vars (variables set by Output),
// $.out.<State> (a completed step's output), $.output (in Output), and
// $.step.input / $.step.output (in a compensation state, the compensated
// step's). Comparisons: StringEquals, NumericEquals, NumericLessThan,
// NumericGreaterThan, NumericLessThanEquals, NumericGreaterThanEquals,
// BooleanEquals, IsPresent, IsNull; combined with And, Or, Not.
//
// A ServiceTask without Next ends the saga successfully. Error names in
// ErrorEquals match saga.ErrorName exactly; "*" matches any and "Prefix.*"
// any name with that prefix. A compensation state (IsForCompensation) is
// reachable only through CompensateState.
//
// A Parallel state runs its branches, named ServiceTasks listed in order,
// concurrently, and goes to its Next when all succeeded (a failure of any
// compensates); a branch may have a CompensateState like any ServiceTask:
//
//	"Notify": {"Type": "Parallel", "Next": "Done", "Branches": [
//	  {"Name": "Mail", "Service": "mail.send", "CompensateState": "Unmail"},
//	  {"Name": "Sms", "Service": "sms.send"}]}
//
// Every error names the definition, the state and the field; unknown
// fields are errors.
package lang

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"math"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/txcio/txc/saga"
)

type document struct {
	Name             string                     `json:"Name"`
	Comment          string                     `json:"Comment"`
	StartAt          string                     `json:"StartAt"`
	RecoveryStrategy string                     `json:"RecoveryStrategy"`
	States           map[string]json.RawMessage `json:"States"`
}

type stateDoc struct {
	Name              string            `json:"Name"` // branches of a Parallel only
	Type              string            `json:"Type"`
	Comment           string            `json:"Comment"`
	Service           string            `json:"Service"`
	Input             any               `json:"Input"`
	Output            map[string]string `json:"Output"`
	Retry             []retryDoc        `json:"Retry"`
	Catch             []catchDoc        `json:"Catch"`
	TimeoutSeconds    *float64          `json:"TimeoutSeconds"`
	CompensateState   string            `json:"CompensateState"`
	IsForCompensation bool              `json:"IsForCompensation"`
	Next              string            `json:"Next"`
	Choices           []json.RawMessage `json:"Choices"`
	Default           string            `json:"Default"`
	Error             string            `json:"Error"`
	Cause             string            `json:"Cause"`
	StateMachine      string            `json:"StateMachine"`
	Branches          []json.RawMessage `json:"Branches"`
}

type retryDoc struct {
	ErrorEquals        []string `json:"ErrorEquals"`
	IntervalSeconds    float64  `json:"IntervalSeconds"`
	BackoffRate        float64  `json:"BackoffRate"`
	MaxIntervalSeconds float64  `json:"MaxIntervalSeconds"`
	MaxAttempts        int      `json:"MaxAttempts"`
}

type catchDoc struct {
	ErrorEquals []string `json:"ErrorEquals"`
	Next        string   `json:"Next"`
}

// Load reads and compiles the documents; a SubStateMachine may name any of
// them. It returns the definitions by name. Nothing is returned unless
// every document is valid.
func Load(docs ...[]byte) (map[string]*saga.Definition, error) {
	p := &parser{specs: map[string]*saga.Spec{}, shells: map[string]*saga.Spec{}}
	var names []string
	for i, d := range docs {
		s, err := p.parse(d)
		if err != nil {
			return nil, err
		}
		if _, dup := p.specs[s.Name]; dup {
			return nil, &saga.DefinitionError{Definition: s.Name, Field: "Name", Problem: fmt.Sprintf("document %d repeats the name of another document", i+1)}
		}
		p.specs[s.Name] = s
		names = append(names, s.Name)
	}
	for _, r := range p.refs {
		s, ok := p.specs[r.machine]
		if !ok {
			return nil, &saga.DefinitionError{Definition: r.def, State: r.state, Field: "StateMachine", Problem: fmt.Sprintf("no loaded state machine named %q", r.machine)}
		}
		*p.shells[r.machine] = *s
	}
	out := map[string]*saga.Definition{}
	for _, n := range names {
		d, err := saga.Compile(p.specs[n])
		if err != nil {
			return nil, err
		}
		out[n] = d
	}
	return out, nil
}

// LoadFiles is Load on the contents of files.
func LoadFiles(paths ...string) (map[string]*saga.Definition, error) {
	var docs [][]byte
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			return nil, fmt.Errorf("lang: %w", err)
		}
		docs = append(docs, b)
	}
	return Load(docs...)
}

// Parse reads one document into a Spec without compiling it. Its sub state
// machines are resolved by lookup (nil: none allowed).
func Parse(doc []byte, lookup func(name string) (*saga.Spec, bool)) (*saga.Spec, error) {
	p := &parser{specs: map[string]*saga.Spec{}, shells: map[string]*saga.Spec{}}
	s, err := p.parse(doc)
	if err != nil {
		return nil, err
	}
	for _, r := range p.refs {
		var sub *saga.Spec
		ok := false
		if lookup != nil {
			sub, ok = lookup(r.machine)
		}
		if !ok {
			return nil, &saga.DefinitionError{Definition: r.def, State: r.state, Field: "StateMachine", Problem: fmt.Sprintf("no state machine named %q", r.machine)}
		}
		*p.shells[r.machine] = *sub
	}
	return s, nil
}

type subRef struct{ def, state, machine string }

type parser struct {
	specs  map[string]*saga.Spec
	shells map[string]*saga.Spec // one per referenced machine, filled after all are parsed
	refs   []subRef
}

func (p *parser) shell(name string) *saga.Spec {
	if s, ok := p.shells[name]; ok {
		return s
	}
	s := &saga.Spec{Name: name}
	p.shells[name] = s
	return s
}

func strict(b []byte, v any) error {
	d := json.NewDecoder(bytes.NewReader(b))
	d.DisallowUnknownFields()
	if err := d.Decode(v); err != nil {
		return err
	}
	if d.More() {
		return errors.New("data after the JSON value")
	}
	return nil
}

// fieldError turns a decoding error into a DefinitionError.
func fieldError(def, state string, err error) error {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		return &saga.DefinitionError{Definition: def, State: state, Field: te.Field, Problem: fmt.Sprintf("want %v, got JSON %s", te.Type, te.Value)}
	}
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return &saga.DefinitionError{Definition: def, State: state, Problem: fmt.Sprintf("JSON syntax error at byte %d: %v", se.Offset, err)}
	}
	msg := strings.TrimPrefix(err.Error(), "json: ")
	if f, ok := strings.CutPrefix(msg, "unknown field "); ok {
		return &saga.DefinitionError{Definition: def, State: state, Field: strings.Trim(f, `"`), Problem: "unknown field"}
	}
	if errors.Is(err, io.ErrUnexpectedEOF) {
		msg = "the JSON document ends too early"
	}
	return &saga.DefinitionError{Definition: def, State: state, Problem: msg}
}

func (p *parser) parse(b []byte) (*saga.Spec, error) {
	var doc document
	if err := strict(b, &doc); err != nil {
		var probe struct{ Name string }
		_ = json.Unmarshal(b, &probe)
		return nil, fieldError(probe.Name, "", err)
	}
	s, err := header(&doc)
	if err != nil {
		return nil, err
	}
	states, err := decodeStates(&doc)
	if err != nil {
		return nil, err
	}
	usedComp := map[string]string{}
	for _, name := range slices.Sorted(maps.Keys(states)) {
		sd := states[name]
		if sd.IsForCompensation {
			if err := compensationState(doc.Name, name, sd); err != nil {
				return nil, err
			}
			continue
		}
		st, err := p.topState(doc.Name, name, sd, states, usedComp)
		if err != nil {
			return nil, err
		}
		s.States = append(s.States, st)
	}
	for comp := range states {
		if states[comp].IsForCompensation {
			if _, ok := usedComp[comp]; !ok {
				return nil, &saga.DefinitionError{Definition: doc.Name, State: comp, Field: "IsForCompensation", Problem: "no state names it as its CompensateState"}
			}
		}
	}
	return s, nil
}

// header is the Spec of doc without its states: name, start, recovery.
func header(doc *document) (*saga.Spec, error) {
	s := &saga.Spec{Name: doc.Name, StartAt: doc.StartAt}
	switch doc.RecoveryStrategy {
	case "", "Backward":
		s.Recovery = saga.Backward
	case "Forward":
		s.Recovery = saga.Forward
	default:
		return nil, &saga.DefinitionError{Definition: doc.Name, Field: "RecoveryStrategy", Problem: fmt.Sprintf("%q is not Forward or Backward", doc.RecoveryStrategy)}
	}
	if len(doc.States) == 0 {
		return nil, &saga.DefinitionError{Definition: doc.Name, Field: "States", Problem: "missing or empty"}
	}
	return s, nil
}

// decodeStates decodes each state of doc, strictly.
func decodeStates(doc *document) (map[string]stateDoc, error) {
	states := map[string]stateDoc{}
	for _, name := range slices.Sorted(maps.Keys(doc.States)) {
		var sd stateDoc
		if err := strict(doc.States[name], &sd); err != nil {
			return nil, fieldError(doc.Name, name, err)
		}
		states[name] = sd
	}
	return states, nil
}

// stateFail is the error of field of state name in definition def.
func stateFail(def, name, field, format string, args ...any) error {
	return &saga.DefinitionError{Definition: def, State: name, Field: field, Problem: fmt.Sprintf(format, args...)}
}

// compensationState checks a state marked IsForCompensation: a
// ServiceTask that only a CompensateState names.
func compensationState(def, name string, sd stateDoc) error {
	if sd.Type != string(saga.ServiceTask) {
		return stateFail(def, name, "IsForCompensation", "only a ServiceTask can be a compensation state")
	}
	if sd.Next != "" || len(sd.Catch) > 0 || sd.CompensateState != "" || sd.Output != nil {
		return stateFail(def, name, "IsForCompensation", "a compensation state has no Next, Catch, Output or CompensateState")
	}
	return nil
}

// topState is the StateSpec of state name of definition def, with its
// parallel branches and the sub state machine it names.
func (p *parser) topState(def, name string, sd stateDoc, states map[string]stateDoc, usedComp map[string]string) (saga.StateSpec, error) {
	if sd.Name != "" {
		return saga.StateSpec{}, stateFail(def, name, "Name", "a state is named by its key in States")
	}
	st, err := p.state(def, name, sd, states, usedComp)
	if err != nil {
		return saga.StateSpec{}, err
	}
	if len(sd.Branches) > 0 && st.Type != saga.Parallel {
		return saga.StateSpec{}, stateFail(def, name, "Branches", "only a Parallel state has branches")
	}
	for i, raw := range sd.Branches {
		var bd stateDoc
		if err := strict(raw, &bd); err != nil {
			return saga.StateSpec{}, fieldError(def, name, fmt.Errorf("Branches[%d]: %w", i, err))
		}
		if bd.Type == "" {
			bd.Type = string(saga.ServiceTask)
		}
		if bd.Type != string(saga.ServiceTask) || bd.Name == "" || bd.IsForCompensation || len(bd.Branches) > 0 {
			return saga.StateSpec{}, stateFail(def, name, fmt.Sprintf("Branches[%d]", i), "a branch is a named ServiceTask")
		}
		if _, clash := states[bd.Name]; clash {
			return saga.StateSpec{}, stateFail(def, name, fmt.Sprintf("Branches[%d].Name", i), "%q is also a state", bd.Name)
		}
		b, err := p.state(def, bd.Name, bd, states, usedComp)
		if err != nil {
			return saga.StateSpec{}, err
		}
		st.Branches = append(st.Branches, b)
	}
	if sd.StateMachine != "" {
		if st.Type != saga.SubStateMachine {
			return saga.StateSpec{}, stateFail(def, name, "StateMachine", "only a SubStateMachine state names a state machine")
		}
		st.Machine = p.shell(sd.StateMachine)
		p.refs = append(p.refs, subRef{def, name, sd.StateMachine})
	} else if st.Type == saga.SubStateMachine {
		return saga.StateSpec{}, stateFail(def, name, "StateMachine", "missing")
	}
	return st, nil
}

func seconds(f float64) (time.Duration, error) {
	if math.IsNaN(f) || f < 0 || f > 1e9 {
		return 0, fmt.Errorf("%v is not a number of seconds", f)
	}
	return time.Duration(f * float64(time.Second)), nil
}

func retries(docs []retryDoc) ([]saga.RetryRule, error) {
	var out []saga.RetryRule
	for i, r := range docs {
		iv, err := seconds(r.IntervalSeconds)
		if err != nil {
			return nil, fmt.Errorf("[%d].IntervalSeconds: %v", i, err)
		}
		mx, err := seconds(r.MaxIntervalSeconds)
		if err != nil {
			return nil, fmt.Errorf("[%d].MaxIntervalSeconds: %v", i, err)
		}
		out = append(out, saga.RetryRule{Errors: r.ErrorEquals, Interval: iv, Backoff: r.BackoffRate, MaxInterval: mx, MaxAttempts: r.MaxAttempts})
	}
	return out, nil
}

var comparisons = []saga.CondOp{saga.StringEquals, saga.NumericEquals, saga.NumericLessThan, saga.NumericGreaterThan,
	saga.NumericLessThanEquals, saga.NumericGreaterThanEquals, saga.BooleanEquals, saga.IsPresent, saga.IsNull}

func choice(raw json.RawMessage) (saga.ChoiceRule, error) {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil {
		return saga.ChoiceRule{}, fmt.Errorf("not an object: %v", err)
	}
	var next string
	if n, ok := m["Next"]; ok {
		if err := json.Unmarshal(n, &next); err != nil {
			return saga.ChoiceRule{}, fmt.Errorf("Next: %v", err)
		}
		delete(m, "Next")
	}
	c, err := condition(m)
	return saga.ChoiceRule{Cond: c, Next: next}, err
}

func condition(m map[string]json.RawMessage) (saga.Cond, error) {
	var c saga.Cond
	for _, k := range slices.Sorted(maps.Keys(m)) {
		v := m[k]
		switch {
		case k == "Variable":
			if err := json.Unmarshal(v, &c.Variable); err != nil {
				return c, fmt.Errorf("Variable: %v", err)
			}
		case k == "And" || k == "Or":
			var list []map[string]json.RawMessage
			if err := json.Unmarshal(v, &list); err != nil {
				return c, fmt.Errorf("%s: want a list of conditions: %v", k, err)
			}
			conds := []saga.Cond{}
			for i, e := range list {
				x, err := condition(e)
				if err != nil {
					return c, fmt.Errorf("%s[%d]: %v", k, i, err)
				}
				conds = append(conds, x)
			}
			if k == "And" {
				c.And = conds
			} else {
				c.Or = conds
			}
		case k == "Not":
			var e map[string]json.RawMessage
			if err := json.Unmarshal(v, &e); err != nil {
				return c, fmt.Errorf("Not: want a condition: %v", err)
			}
			x, err := condition(e)
			if err != nil {
				return c, fmt.Errorf("Not: %v", err)
			}
			c.Not = &x
		case slices.Contains(comparisons, saga.CondOp(k)):
			if c.Op != "" {
				return c, fmt.Errorf("two comparisons, %s and %s", c.Op, k)
			}
			c.Op = saga.CondOp(k)
			if err := json.Unmarshal(v, &c.Value); err != nil {
				return c, fmt.Errorf("%s: %v", k, err)
			}
		default:
			return c, fmt.Errorf("unknown field %q", k)
		}
	}
	return c, nil
}

// state builds the spec of a state (or of a parallel branch) other than a
// compensation state, attaching its compensation.
func (p *parser) state(def, name string, sd stateDoc, states map[string]stateDoc, usedComp map[string]string) (saga.StateSpec, error) {
	fail := func(field, format string, args ...any) error {
		return &saga.DefinitionError{Definition: def, State: name, Field: field, Problem: fmt.Sprintf(format, args...)}
	}
	st := saga.StateSpec{Name: name, Type: saga.StateType(sd.Type), Service: sd.Service, Input: sd.Input, Output: sd.Output,
		Next: sd.Next, Default: sd.Default, Error: sd.Error, Cause: sd.Cause}
	if sd.TimeoutSeconds != nil {
		d, err := seconds(*sd.TimeoutSeconds)
		if err != nil || d <= 0 {
			return saga.StateSpec{}, fail("TimeoutSeconds", "%v is not a positive number of seconds", *sd.TimeoutSeconds)
		}
		st.Timeout = d
	}
	var err error
	if st.Retry, err = retries(sd.Retry); err != nil {
		return saga.StateSpec{}, fail("Retry", "%v", err)
	}
	for _, c := range sd.Catch {
		st.Catch = append(st.Catch, saga.CatchRule{Errors: c.ErrorEquals, Next: c.Next})
	}
	for i, raw := range sd.Choices {
		rule, err := choice(raw)
		if err != nil {
			return saga.StateSpec{}, fail(fmt.Sprintf("Choices[%d]", i), "%v", err)
		}
		st.Choices = append(st.Choices, rule)
	}
	if sd.CompensateState != "" {
		cd, ok := states[sd.CompensateState]
		if !ok || !cd.IsForCompensation {
			return saga.StateSpec{}, fail("CompensateState", "no compensation state (IsForCompensation) named %q", sd.CompensateState)
		}
		if other, dup := usedComp[sd.CompensateState]; dup {
			return saga.StateSpec{}, fail("CompensateState", "%q already compensates %q", sd.CompensateState, other)
		}
		usedComp[sd.CompensateState] = name
		c := &saga.CompensationSpec{Name: sd.CompensateState, Service: cd.Service, Input: cd.Input}
		if cd.TimeoutSeconds != nil {
			d, err := seconds(*cd.TimeoutSeconds)
			if err != nil || d <= 0 {
				return saga.StateSpec{}, &saga.DefinitionError{Definition: def, State: sd.CompensateState, Field: "TimeoutSeconds", Problem: fmt.Sprintf("%v is not a positive number of seconds", *cd.TimeoutSeconds)}
			}
			c.Timeout = d
		}
		if c.Retry, err = retries(cd.Retry); err != nil {
			return saga.StateSpec{}, &saga.DefinitionError{Definition: def, State: sd.CompensateState, Field: "Retry", Problem: err.Error()}
		}
		st.Compensation = c
	}
	return st, nil
}
