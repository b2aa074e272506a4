package saga

import (
	"fmt"
	"regexp"
	"slices"
	"time"
)

// Spec is the declarative form of a saga definition. The Go builder
// (Builder) and the JSON state language (package saga/lang) both produce a
// Spec, and Compile turns it into the one Definition the engine runs.
// Validation happens in Compile: every error names the state and field.
type Spec struct {
	Name string
	// Recovery says how an interrupted run resumes after a crash. Zero
	// means Backward.
	Recovery Recovery
	StartAt  string
	States   []StateSpec
}

// StateType is the type of a state.
type StateType string

// State types.
const (
	// ServiceTask calls a service; its output is kept under the state's
	// name and mapped into variables by Output. It may name a compensation.
	ServiceTask StateType = "ServiceTask"
	// Parallel runs its Branches (service tasks) concurrently; the state
	// completes when all did, and fails when any failed.
	Parallel StateType = "Parallel"
	// Choice goes to the Next of the first rule that matches, else Default.
	Choice StateType = "Choice"
	// Succeed ends the saga successfully; its output is the variables.
	Succeed StateType = "Succeed"
	// Fail ends the saga as failed, without compensation.
	Fail StateType = "Fail"
	// CompensationTrigger compensates every completed step, newest first,
	// and ends the saga as compensated.
	CompensationTrigger StateType = "CompensationTrigger"
	// SubStateMachine runs another definition inline: its steps are logged
	// and compensated with this saga's, its input comes from Input, and its
	// variables (its output) are mapped by Output. A Fail inside it fails
	// this state.
	SubStateMachine StateType = "SubStateMachine"
)

// StateSpec is one state of a Spec. Which fields apply depends on Type.
type StateSpec struct {
	Name string
	Type StateType

	// ServiceTask (and each branch of a Parallel).
	Service string
	// Input is a template of the step's input: JSON values (maps, slices,
	// strings, numbers, bools, nil) in which a string starting with "$" is a
	// path ("$.input.sku", "$.vars.total", "$.out.Reserve.id") replaced by
	// the value it names (null when absent). Nil means the saga's input.
	Input any
	// Output maps variable names to paths over "$.output" (the step's
	// output) and the other roots; applied when the step succeeds.
	Output  map[string]string
	Retry   []RetryRule
	Catch   []CatchRule
	Timeout time.Duration
	// Compensation undoes the step. Nil: the step needs no compensation.
	Compensation *CompensationSpec

	// Next is the following state (ServiceTask, Parallel,
	// SubStateMachine). Empty ends the saga successfully.
	Next string

	// Parallel.
	Branches []StateSpec

	// Choice.
	Choices []ChoiceRule
	Default string

	// Fail and CompensationTrigger.
	Error string
	Cause string

	// SubStateMachine: the definition to run inline (Input and Output as
	// above, Next).
	Machine *Spec
}

// CompensationSpec is the service call that compensates a step. Its Input
// template may use "$.step.input" and "$.step.output", the compensated
// step's input and output. Retry rules apply in the process; a
// compensation still failing after them is retried later by the
// coordinator, until it succeeds or fails permanently.
type CompensationSpec struct {
	Name    string // for logs and validation messages; default "<step>.compensation"
	Service string
	Input   any
	Retry   []RetryRule
	Timeout time.Duration
}

// CatchRule routes a failed ServiceTask to Next when its error name is in
// Errors (ErrNameAll matches any) instead of compensating.
type CatchRule struct {
	Errors []string
	Next   string
}

// ChoiceRule is one branch of a Choice: Next when Cond holds.
type ChoiceRule struct {
	Cond Cond
	Next string
}

// Recovery is how an interrupted saga resumes after its process crashed.
type Recovery uint8

// Recovery strategies.
const (
	// Backward compensates every step that completed or may have run.
	Backward Recovery = iota + 1
	// Forward runs the interrupted steps again (with the same idempotency
	// keys) and goes on.
	Forward
)

func (r Recovery) String() string {
	switch r {
	case Backward:
		return "Backward"
	case Forward:
		return "Forward"
	}
	return fmt.Sprintf("Recovery(%d)", uint8(r))
}

var namePattern = regexp.MustCompile(`^[^\s/$][^/$]{0,127}$`)

// Compile validates s and returns the definition the engine runs. Sub
// state machines are inlined; their states are named "<state>/<sub state>".
func Compile(s *Spec) (*Definition, error) {
	if s == nil {
		return nil, invalid("nil spec")
	}
	c := &compiler{def: &Definition{name: s.Name, recovery: s.Recovery, states: map[string]*state{}, services: map[string]bool{}}}
	if c.def.recovery == 0 {
		c.def.recovery = Backward
	}
	if !namePattern.MatchString(s.Name) {
		return nil, &DefinitionError{Definition: s.Name, Field: "Name", Problem: "must be 1-128 characters, not starting with a space, without '/' or '$'"}
	}
	if s.Recovery > Forward {
		return nil, &DefinitionError{Definition: s.Name, Field: "Recovery", Problem: fmt.Sprintf("unknown strategy %d", s.Recovery)}
	}
	start, err := c.machine(s, "", "", nil)
	if err != nil {
		return nil, err
	}
	c.def.start = start
	return c.def, nil
}

type compiler struct {
	def   *Definition
	stack []string // names of sub machines being inlined, to refuse recursion
}

func (c *compiler) fail(state, field, format string, args ...any) error {
	return &DefinitionError{Definition: c.def.name, State: state, Field: field, Problem: fmt.Sprintf(format, args...)}
}

// machine compiles the states of s into c.def under prefix (scope), and
// returns the full name of its start state. exit is the full name of the
// sub-machine exit state its Succeed and ends go to ("" at top level).
func (c *compiler) machine(s *Spec, prefix, exit string, sub *state) (string, error) {
	if slices.Contains(c.stack, s.Name) {
		return "", c.fail(prefix, "Machine", "sub state machine %q includes itself", s.Name)
	}
	c.stack = append(c.stack, s.Name)
	defer func() { c.stack = c.stack[:len(c.stack)-1] }()
	if len(s.States) == 0 {
		return "", c.fail(prefix, "States", "no states")
	}
	sc := &machineScope{s: s, prefix: prefix, exit: exit, sub: sub, names: map[string]bool{}}
	if err := c.declare(sc); err != nil {
		return "", err
	}
	if s.StartAt == "" {
		return "", c.fail(prefix, "StartAt", "empty")
	}
	if !sc.names[s.StartAt] || isBranch(s, s.StartAt) {
		return "", c.fail(prefix, "StartAt", "no state named %q", s.StartAt)
	}
	for _, st := range s.States {
		n, err := c.state(sc, st)
		if err != nil {
			return "", err
		}
		if err := c.add(sc, n); err != nil {
			return "", err
		}
	}
	return sc.full(s.StartAt), nil
}

// machineScope is one (sub) state machine being compiled: its spec, the prefix
// of its states' full names, the exit state its ends go to ("" at top
// level), the SubStateMachine state it is inlined for (nil at top level),
// and the names of its states and parallel branches.
type machineScope struct {
	s      *Spec
	prefix string
	exit   string
	sub    *state
	names  map[string]bool
}

func (sc *machineScope) full(name string) string { return sc.prefix + name }

// declare checks the names of sc's states, parallel branches and
// compensations, and records the first two in sc.names.
func (c *compiler) declare(sc *machineScope) error {
	for _, st := range sc.s.States {
		if !namePattern.MatchString(st.Name) {
			return c.fail(sc.full(st.Name), "Name", "must be 1-128 characters, not starting with a space, without '/' or '$'")
		}
		if sc.names[st.Name] {
			return c.fail(sc.full(st.Name), "Name", "two states have this name")
		}
		sc.names[st.Name] = true
		for _, b := range st.Branches {
			if sc.names[b.Name] {
				return c.fail(sc.full(b.Name), "Name", "two states have this name")
			}
			sc.names[b.Name] = true
		}
	}
	compNames := map[string]bool{}
	for _, st := range sc.s.States {
		for _, cs := range compensations(st) {
			if cs.Name != "" {
				if sc.names[cs.Name] || compNames[cs.Name] {
					return c.fail(sc.full(st.Name), "Compensation.Name", "%q is also the name of another state", cs.Name)
				}
				compNames[cs.Name] = true
			}
		}
	}
	return nil
}

// target returns the full name of the state that field of state st names
// (next); an empty next is an end (the sub machine's exit) where allowEnd.
func (c *compiler) target(sc *machineScope, st, field, next string, allowEnd bool) (string, error) {
	if next == "" {
		if !allowEnd {
			return "", c.fail(sc.full(st), field, "empty")
		}
		return sc.exit, nil
	}
	if !sc.names[next] || isBranch(sc.s, next) {
		return "", c.fail(sc.full(st), field, "no state named %q", next)
	}
	return sc.full(next), nil
}

// state compiles one state of sc.
func (c *compiler) state(sc *machineScope, st StateSpec) (*state, error) {
	n := &state{name: sc.full(st.Name), scope: sc.prefix, sub: sc.sub}
	var err error
	switch st.Type {
	case ServiceTask:
		err = c.taskState(sc, st, n)
	case Parallel:
		err = c.parallelState(sc, st, n)
	case Choice:
		err = c.choiceState(sc, st, n)
	case Succeed:
		n.kind = kindSucceed
		if sc.exit != "" {
			n.kind, n.next = kindGoto, sc.exit
		}
	case Fail:
		n.kind = kindFail
		n.errName, n.cause = st.Error, st.Cause
		if n.errName == "" {
			n.errName = "Fail"
		}
	case CompensationTrigger:
		n.kind = kindTrigger
		n.errName, n.cause = st.Error, st.Cause
		if n.errName == "" {
			n.errName = "CompensationTrigger"
		}
	case SubStateMachine:
		err = c.subState(sc, st, n)
	case "":
		return nil, c.fail(n.name, "Type", "missing")
	default:
		return nil, c.fail(n.name, "Type", "unknown type %q", st.Type)
	}
	if err != nil {
		return nil, err
	}
	if st.Type != ServiceTask && st.Type != Parallel && st.Type != SubStateMachine && st.Next != "" {
		return nil, c.fail(n.name, "Next", "a %s state has no Next", st.Type)
	}
	return n, nil
}

// add records n, and the states of its parallel branches, in c.def.
func (c *compiler) add(sc *machineScope, n *state) error {
	if _, dup := c.def.states[n.name]; dup {
		return c.fail(n.name, "Name", "clashes with another state")
	}
	c.def.states[n.name] = n
	for _, b := range n.branches {
		c.def.states[b.name] = &state{name: b.name, kind: kindBranch, scope: sc.prefix, sub: sc.sub}
	}
	return nil
}

// taskState compiles a ServiceTask into n: its task, Next and Catch rules.
func (c *compiler) taskState(sc *machineScope, st StateSpec, n *state) error {
	n.kind = kindTask
	var err error
	if n.task, err = c.task(sc.prefix, st); err != nil {
		return err
	}
	if n.next, err = c.target(sc, st.Name, "Next", st.Next, true); err != nil {
		return err
	}
	for i, r := range st.Catch {
		field := fmt.Sprintf("Catch[%d]", i)
		if len(r.Errors) == 0 {
			return c.fail(n.name, field+".ErrorEquals", "empty")
		}
		nx, err := c.target(sc, st.Name, field+".Next", r.Next, false)
		if err != nil {
			return err
		}
		n.task.catch = append(n.task.catch, catchRule{errors: r.Errors, next: nx})
	}
	return nil
}

// parallelState compiles a Parallel state into n: its branches' tasks and
// Next.
func (c *compiler) parallelState(sc *machineScope, st StateSpec, n *state) error {
	n.kind = kindParallel
	if len(st.Branches) < 1 {
		return c.fail(n.name, "Branches", "empty")
	}
	if len(st.Catch) > 0 {
		return c.fail(n.name, "Catch", "not supported on a Parallel state")
	}
	for i, b := range st.Branches {
		if b.Type != ServiceTask && b.Type != "" {
			return c.fail(sc.full(b.Name), fmt.Sprintf("Branches[%d].Type", i), "must be %s", ServiceTask)
		}
		if b.Next != "" || len(b.Catch) > 0 {
			return c.fail(sc.full(b.Name), fmt.Sprintf("Branches[%d]", i), "a parallel branch has no Next or Catch")
		}
		t, err := c.task(sc.prefix, b)
		if err != nil {
			return err
		}
		n.branches = append(n.branches, t)
	}
	var err error
	n.next, err = c.target(sc, st.Name, "Next", st.Next, true)
	return err
}

// choiceState compiles a Choice into n: its conditions, their Next and
// the Default.
func (c *compiler) choiceState(sc *machineScope, st StateSpec, n *state) error {
	n.kind = kindChoice
	if len(st.Choices) == 0 {
		return c.fail(n.name, "Choices", "empty")
	}
	for i, r := range st.Choices {
		field := fmt.Sprintf("Choices[%d]", i)
		cond, err := compileCond(r.Cond)
		if err != nil {
			return c.fail(n.name, field, "%v", err)
		}
		nx, err := c.target(sc, st.Name, field+".Next", r.Next, false)
		if err != nil {
			return err
		}
		n.choices = append(n.choices, choiceRule{cond: cond, next: nx})
	}
	if st.Default == "" {
		n.noDefault = true
		return nil
	}
	var err error
	n.def, err = c.target(sc, st.Name, "Default", st.Default, false)
	return err
}

// subState compiles a SubStateMachine into n, which enters the inlined
// machine, and its exit state, which leaves it for n's Next.
func (c *compiler) subState(sc *machineScope, st StateSpec, n *state) error {
	if st.Machine == nil {
		return c.fail(n.name, "Machine", "missing")
	}
	var err error
	if n.next, err = c.target(sc, st.Name, "Next", st.Next, true); err != nil {
		return err
	}
	in, err := compileTemplate(st.Input)
	if err != nil {
		return c.fail(n.name, "Input", "%v", err)
	}
	out, err := compileOutput(st.Output)
	if err != nil {
		return c.fail(n.name, "Output", "%v", err)
	}
	n.kind = kindSubEnter
	exitSt := &state{name: n.name + "/", kind: kindSubExit, scope: sc.prefix, sub: sc.sub, next: n.next, output: out}
	if _, dup := c.def.states[exitSt.name]; dup {
		return c.fail(n.name, "Name", "clashes with another state")
	}
	c.def.states[exitSt.name] = exitSt
	subStart, err := c.machine(st.Machine, n.name+"/", exitSt.name, n)
	if err != nil {
		return err
	}
	n.input, n.next = in, subStart
	return nil
}

func compensations(st StateSpec) []*CompensationSpec {
	var out []*CompensationSpec
	if st.Compensation != nil {
		out = append(out, st.Compensation)
	}
	for _, b := range st.Branches {
		if b.Compensation != nil {
			out = append(out, b.Compensation)
		}
	}
	return out
}

func isBranch(s *Spec, name string) bool {
	for _, st := range s.States {
		for _, b := range st.Branches {
			if b.Name == name {
				return true
			}
		}
	}
	return false
}

func (c *compiler) task(prefix string, st StateSpec) (*task, error) {
	name := prefix + st.Name
	if st.Service == "" {
		return nil, c.fail(name, "Service", "empty")
	}
	t := &task{name: name, service: st.Service, timeout: st.Timeout}
	c.def.services[st.Service] = true
	var err error
	if t.input, err = compileTemplate(st.Input); err != nil {
		return nil, c.fail(name, "Input", "%v", err)
	}
	if t.output, err = compileOutput(st.Output); err != nil {
		return nil, c.fail(name, "Output", "%v", err)
	}
	if st.Timeout < 0 {
		return nil, c.fail(name, "Timeout", "negative")
	}
	if t.retry, err = compileRetry(st.Retry); err != nil {
		return nil, c.fail(name, "Retry", "%v", err)
	}
	if cs := st.Compensation; cs != nil {
		cn := cs.Name
		if cn == "" {
			cn = st.Name + ".compensation"
		}
		cn = prefix + cn
		if cs.Service == "" {
			return nil, c.fail(cn, "Service", "empty (compensation of %q)", name)
		}
		if cs.Timeout < 0 {
			return nil, c.fail(cn, "Timeout", "negative")
		}
		comp := &task{name: cn, service: cs.Service, timeout: cs.Timeout}
		c.def.services[cs.Service] = true
		if comp.input, err = compileTemplate(cs.Input); err != nil {
			return nil, c.fail(cn, "Input", "%v", err)
		}
		if comp.retry, err = compileRetry(cs.Retry); err != nil {
			return nil, c.fail(cn, "Retry", "%v", err)
		}
		t.comp = comp
	}
	return t, nil
}
