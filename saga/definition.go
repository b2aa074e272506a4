package saga

import (
	"slices"
	"time"
)

// Definition is a compiled, validated saga: the one representation the
// engine runs, whether it came from the Go builder or the JSON state
// language. It is immutable and safe to share.
type Definition struct {
	name     string
	recovery Recovery
	start    string
	states   map[string]*state
	services map[string]bool // every service a task or compensation calls
	funcs    map[string]Service
}

// Name returns the definition's name.
func (d *Definition) Name() string { return d.name }

// Recovery returns the definition's recovery strategy.
func (d *Definition) Recovery() Recovery { return d.recovery }

// Services returns the names of the services the definition calls, sorted.
func (d *Definition) Services() []string {
	out := make([]string, 0, len(d.services))
	for s := range d.services {
		out = append(out, s)
	}
	slices.Sort(out)
	return out
}

type kind uint8

const (
	kindTask kind = iota + 1
	kindParallel
	kindBranch // a branch of a Parallel: only a name in the state table
	kindChoice
	kindSucceed
	kindFail
	kindTrigger
	kindSubEnter
	kindSubExit
	kindGoto // a Succeed inside a sub state machine
)

type state struct {
	name  string
	kind  kind
	scope string // "" at top level, "<sub state>/" inside a sub machine
	sub   *state // the SubStateMachine state this one is inlined for
	next  string // "" = end of the saga (success)

	task     *task
	branches []*task

	choices   []choiceRule
	def       string
	noDefault bool

	errName, cause string

	input  *template       // kindSubEnter
	output []outputMapping // kindSubExit
}

type task struct {
	name    string
	service string
	input   *template
	output  []outputMapping
	retry   []RetryRule
	timeout time.Duration
	catch   []catchRule
	comp    *task
}

type catchRule struct {
	errors []string
	next   string
}

type choiceRule struct {
	cond *cond
	next string
}
