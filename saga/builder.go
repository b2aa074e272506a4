package saga

import "time"

// Builder defines a saga in Go: a sequence of steps and parallel groups,
// each step with an action and an optional compensation, run in order.
// Build compiles it to the same Definition as the JSON state language.
//
//	def, err := saga.Define("order").
//		Step(saga.Step("reserve").Func(reserve).CompensateFunc(release).
//			Input(map[string]any{"sku": saga.FromInput("sku")})).
//		Parallel("notify", saga.Step("mail").Call("mail.send"), saga.Step("sms").Call("sms.send")).
//		Build()
//
// A builder is not safe for concurrent use; errors are reported by Build.
type Builder struct {
	spec  Spec
	funcs map[string]Service
	err   error
}

// Define starts a definition named name. Its recovery strategy is
// Backward unless Recovery says otherwise.
func Define(name string) *Builder {
	return &Builder{spec: Spec{Name: name}, funcs: map[string]Service{}}
}

// Recovery sets how an interrupted run resumes after a crash.
func (b *Builder) Recovery(r Recovery) *Builder { b.spec.Recovery = r; return b }

// Step appends a step.
func (b *Builder) Step(s *StepBuilder) *Builder {
	b.add(b.stepSpec(s))
	return b
}

// Parallel appends a group of steps that run concurrently; the saga goes on
// when all succeeded and compensates when any failed. name names the group
// (it must differ from every step name).
func (b *Builder) Parallel(name string, steps ...*StepBuilder) *Builder {
	st := StateSpec{Name: name, Type: Parallel}
	for _, s := range steps {
		st.Branches = append(st.Branches, b.stepSpec(s))
	}
	b.add(st)
	return b
}

func (b *Builder) add(st StateSpec) {
	if n := len(b.spec.States); n > 0 {
		b.spec.States[n-1].Next = st.Name
	} else {
		b.spec.StartAt = st.Name
	}
	b.spec.States = append(b.spec.States, st)
}

func (b *Builder) stepSpec(s *StepBuilder) StateSpec {
	if s == nil {
		b.setErr(invalid("definition %q: nil step", b.spec.Name))
		return StateSpec{}
	}
	st := s.spec
	st.Type = ServiceTask
	if s.fn != nil {
		st.Service = b.spec.Name + "." + st.Name
		b.fn(st.Service, s.fn)
	}
	if s.comp != nil {
		c := *s.comp
		if s.compFn != nil {
			c.Service = b.spec.Name + "." + st.Name + ".compensation"
			b.fn(c.Service, s.compFn)
		}
		st.Compensation = &c
	}
	return st
}

func (b *Builder) fn(name string, f Service) {
	if _, dup := b.funcs[name]; dup {
		b.setErr(&DefinitionError{Definition: b.spec.Name, State: name, Field: "Name", Problem: "two steps have this name"})
	}
	b.funcs[name] = f
}

func (b *Builder) setErr(err error) {
	if b.err == nil {
		b.err = err
	}
}

// Spec returns the specification built so far.
func (b *Builder) Spec() *Spec { s := b.spec; return &s }

// Build validates the definition and compiles it.
func (b *Builder) Build() (*Definition, error) {
	if b.err != nil {
		return nil, b.err
	}
	if len(b.spec.States) == 0 {
		return nil, &DefinitionError{Definition: b.spec.Name, Field: "Steps", Problem: "no steps"}
	}
	d, err := Compile(&b.spec)
	if err != nil {
		return nil, err
	}
	d.funcs = b.funcs
	return d, nil
}

// StepBuilder describes one step of a Builder.
type StepBuilder struct {
	spec   StateSpec
	fn     Service
	comp   *CompensationSpec
	compFn Service
}

// Step starts a step named name (unique in the saga).
func Step(name string) *StepBuilder { return &StepBuilder{spec: StateSpec{Name: name}} }

// Call makes the step call the service registered with the engine as name.
func (s *StepBuilder) Call(service string) *StepBuilder { s.spec.Service = service; return s }

// Func makes the step call f (registered with the definition under
// "<saga>.<step>").
func (s *StepBuilder) Func(f Service) *StepBuilder { s.fn = f; return s }

// Input sets the step's input template (see StateSpec.Input); values of
// type Ref (FromInput, FromOutput, FromVar) and strings starting with "$"
// are paths. Without it the step gets the saga's input.
func (s *StepBuilder) Input(tmpl any) *StepBuilder { s.spec.Input = tmpl; return s }

// Output sets variables from the step's output: name → path such as
// "$.output.id".
func (s *StepBuilder) Output(m map[string]string) *StepBuilder { s.spec.Output = m; return s }

// Retry sets the step's retry rules.
func (s *StepBuilder) Retry(rules ...RetryRule) *StepBuilder { s.spec.Retry = rules; return s }

// Timeout bounds each attempt of the step (0: no bound).
func (s *StepBuilder) Timeout(d time.Duration) *StepBuilder { s.spec.Timeout = d; return s }

func (s *StepBuilder) compensation() *CompensationSpec {
	if s.comp == nil {
		s.comp = &CompensationSpec{}
	}
	return s.comp
}

// Compensate makes the step's compensation call the registered service.
func (s *StepBuilder) Compensate(service string) *StepBuilder {
	s.compensation().Service = service
	return s
}

// CompensateFunc makes the step's compensation call f.
func (s *StepBuilder) CompensateFunc(f Service) *StepBuilder {
	s.compensation()
	s.compFn = f
	return s
}

// CompensateInput sets the compensation's input template; "$.step.input"
// and "$.step.output" are the step's own. Default: the step's input.
func (s *StepBuilder) CompensateInput(tmpl any) *StepBuilder {
	s.compensation().Input = tmpl
	return s
}

// CompensateRetry sets the compensation's in-process retry rules (default
// DefaultCompensationRetry).
func (s *StepBuilder) CompensateRetry(rules ...RetryRule) *StepBuilder {
	s.compensation().Retry = rules
	return s
}

// CompensateTimeout bounds each attempt of the compensation.
func (s *StepBuilder) CompensateTimeout(d time.Duration) *StepBuilder {
	s.compensation().Timeout = d
	return s
}
