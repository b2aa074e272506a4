package saga

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/txcio/txc"
	"github.com/txcio/txc/client"
	"github.com/txcio/txc/rm"
)

// Coordinator is what the engine needs of a txc coordinator. Coordinated
// adapts an rm.Manager; tests use a fake.
type Coordinator interface {
	Begin(ctx context.Context, name string, timeout time.Duration) (txc.XID, error)
	RegisterBranch(ctx context.Context, b client.Branch) (txc.BranchID, error)
	Commit(ctx context.Context, xid txc.XID) (txc.GlobalStatus, error)
	Rollback(ctx context.Context, xid txc.XID) (txc.GlobalStatus, error)
	// AddResource makes h serve phase 2 of branches of type t on resourceID.
	AddResource(resourceID string, t txc.BranchType, h rm.Handler) error
}

// Coordinated returns the Coordinator of a resource manager and its
// connection.
func Coordinated(m *rm.Manager) Coordinator { return managerCoordinator{m} }

type managerCoordinator struct{ m *rm.Manager }

func (c managerCoordinator) Begin(ctx context.Context, name string, timeout time.Duration) (txc.XID, error) {
	return c.m.Conn().Begin(ctx, name, timeout)
}
func (c managerCoordinator) RegisterBranch(ctx context.Context, b client.Branch) (txc.BranchID, error) {
	return c.m.RegisterBranch(ctx, b)
}
func (c managerCoordinator) Commit(ctx context.Context, xid txc.XID) (txc.GlobalStatus, error) {
	return c.m.Conn().Commit(ctx, xid)
}
func (c managerCoordinator) Rollback(ctx context.Context, xid txc.XID) (txc.GlobalStatus, error) {
	return c.m.Conn().Rollback(ctx, xid)
}
func (c managerCoordinator) AddResource(id string, t txc.BranchType, h rm.Handler) error {
	return c.m.AddResource(id, t, h)
}

// Config configures an Engine.
type Config struct {
	// Name identifies this engine: unique among the processes sharing a
	// coordinator, and the same after a restart, because the engine serves
	// the coordinator resource "saga:<Name>" and the coordinator resumes
	// this engine's sagas by sending their phase-2 command there (a
	// hostname or pod name of a stateful set fits). A-Z a-z 0-9 . _ -, at
	// most 64 bytes.
	Name        string
	Coordinator Coordinator
	Store       Store
	// Clock defaults to SystemClock.
	Clock Clock
	// Logger defaults to discarding.
	Logger *slog.Logger
	// StartTimeout bounds the time between beginning a saga's global
	// transaction and committing it (three coordinator round trips); the
	// coordinator rolls back a transaction still open after it, and the saga
	// never starts (StatusAborted). Default 30s. It does not bound the
	// saga's run.
	StartTimeout time.Duration
	// NewID makes instance IDs (at most 64 bytes); default 32 random hex
	// digits.
	NewID func() string
}

// Engine runs sagas. It is safe for concurrent use.
//
// # A saga at the coordinator
//
// Start begins a global transaction, registers one txc.BranchSaga branch on
// the resource "saga:<Name>" whose application data carries the instance
// ID, the definition's name and the input, and commits: once Start
// returns, the saga is durable and will run to an end even if this process
// crashes. The coordinator then sends the branch's phase-2 commit to this
// engine, and that handler runs the saga: it writes the execution log,
// calls the services, compensates on failure, and acknowledges the command
// only when the saga has ended. So the coordinator's retry of an
// unacknowledged command is the saga's recovery: after a crash the
// restarted engine (same Name) says Hello, the coordinator sends the command
// again, and the handler replays the log and resumes, forward or backward
// per the definition's recovery strategy. Recover does the same at start
// without waiting for the coordinator.
//
// The coordinator's transaction says whether the saga was accepted, not how
// it ended: Committed means it ended (succeeded, compensated or failed; the
// log says which). A compensation that keeps failing is retried by the
// coordinator (CommitRetrying); one that fails permanently parks the
// transaction (CommitFailed, listed by the coordinator as needing manual
// action) and an operator's retry there resumes the compensation. A
// transaction rolled back before its commit (StartTimeout passed, the
// process died between begin and commit) leaves the saga StatusAborted
// with no step run.
//
// # The log
//
// Before a step runs, its start (state, input) is durable; after it
// returns, its end (output or error) is written together with the start of
// the next step (or the saga's final status), so a two-step saga costs
// three saves; the SQL store shares one database transaction among the
// saves of all concurrent sagas.
type Engine struct {
	cfg      Config
	resource string
	log      *slog.Logger
	clock    Clock

	mu       sync.Mutex
	defs     map[string]*Definition
	services map[string]Service
	runs     map[string]*runState
}

// runState is an instance this process started or is running.
type runState struct {
	done    chan struct{} // closed when the saga ended (or parked)
	result  *Result
	running bool
	attempt chan struct{} // closed when the current run attempt stops
	// fresh is the instance as Start made it, until its first run.
	fresh *Instance
}

// envelope is a saga branch's application data.
type envelope struct {
	V     int             `json:"v"`
	ID    string          `json:"id"`
	Def   string          `json:"def"`
	Input json.RawMessage `json:"in"`
}

// NewEngine returns an engine and adds its phase-2 handler to the
// coordinator.
func NewEngine(cfg Config) (*Engine, error) {
	if !engineName.MatchString(cfg.Name) {
		return nil, invalid("engine name %q: want 1-64 of A-Z a-z 0-9 . _ -", cfg.Name)
	}
	if cfg.Coordinator == nil || cfg.Store == nil {
		return nil, invalid("engine %q: Coordinator and Store are required", cfg.Name)
	}
	if cfg.Clock == nil {
		cfg.Clock = SystemClock{}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.StartTimeout <= 0 {
		cfg.StartTimeout = 30 * time.Second
	}
	if cfg.NewID == nil {
		cfg.NewID = randomID
	}
	e := &Engine{cfg: cfg, resource: "saga:" + cfg.Name, log: cfg.Logger, clock: cfg.Clock,
		defs: map[string]*Definition{}, services: map[string]Service{}, runs: map[string]*runState{}}
	if err := cfg.Coordinator.AddResource(e.resource, txc.BranchSaga, handler{e}); err != nil {
		return nil, fmt.Errorf("saga: engine %q: %w", cfg.Name, err)
	}
	return e, nil
}

func randomID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// Resource returns the coordinator resource the engine serves.
func (e *Engine) Resource() string { return e.resource }

// RegisterService makes name callable by definitions. Registering a name
// again replaces its service.
func (e *Engine) RegisterService(name string, s Service) error {
	if name == "" || s == nil {
		return invalid("register service %q: empty name or nil service", name)
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	e.services[name] = s
	return nil
}

// Register makes def runnable by name. Every service it calls must be
// registered (or be a function of a Go-built definition); otherwise the
// error names the first missing one and def is not registered.
// Registering a definition of the same name replaces the previous one for
// new runs and recoveries (their logs must still fit it).
func (e *Engine) Register(def *Definition) error {
	if def == nil {
		return invalid("register: nil definition")
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, s := range def.Services() {
		if _, ok := def.funcs[s]; ok {
			continue
		}
		if _, ok := e.services[s]; !ok {
			for _, st := range def.states {
				for _, t := range append([]*task{st.task}, st.branches...) {
					if t == nil {
						continue
					}
					if t.service == s {
						return &DefinitionError{Definition: def.name, State: t.name, Field: "Service", Problem: fmt.Sprintf("service %q is not registered with engine %q", s, e.cfg.Name)}
					}
					if t.comp != nil && t.comp.service == s {
						return &DefinitionError{Definition: def.name, State: t.comp.name, Field: "Service", Problem: fmt.Sprintf("service %q is not registered with engine %q", s, e.cfg.Name)}
					}
				}
			}
		}
	}
	e.defs[def.name] = def
	return nil
}

func (e *Engine) service(def *Definition, name string) Service {
	if s, ok := def.funcs[name]; ok {
		return s
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.services[name]
}

func (e *Engine) definition(name string) (*Definition, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	d := e.defs[name]
	if d == nil {
		return nil, invalid("engine %q has no definition %q", e.cfg.Name, name)
	}
	return d, nil
}

// Result is how a saga ended.
type Result struct {
	ID        string
	Status    Status
	Output    json.RawMessage
	ErrorName string
	Error     string
}

// Err returns nil for a saga that succeeded, else a *Failure.
func (r *Result) Err() error {
	if r.Status == StatusSucceeded {
		return nil
	}
	return &Failure{ID: r.ID, Status: r.Status, Name: r.ErrorName, Message: r.Error}
}

// Start starts a run of the definition named def with input (any value
// encoding/json encodes; json.RawMessage is taken as is) and returns the
// instance ID once the saga is durable at the coordinator. The saga then
// runs in this process, asynchronously; Wait or Status follow it.
//
// The input travels to the coordinator with the saga's branch and stays
// there until the saga ends: it must not contain secrets, and its JSON
// envelope is limited to txc.MaxApplicationLen.
//
// On an error nothing will run, except after an error wrapping
// txc.ErrUnavailable from the final commit, which leaves the outcome
// unknown (Status of the returned ID, when not empty, will tell).
func (e *Engine) Start(ctx context.Context, def string, input any) (string, error) {
	id, _, err := e.start(ctx, def, input)
	return id, err
}

// Run starts a run and waits for its end. The error is nil when the saga
// succeeded, a *Failure (see its matching rules) when it ended otherwise,
// or the error of Start or of ctx.
func (e *Engine) Run(ctx context.Context, def string, input any) (*Result, error) {
	id, rs, err := e.start(ctx, def, input)
	if err != nil {
		return nil, err
	}
	select {
	case <-rs.done:
		return rs.result, rs.result.Err()
	case <-ctx.Done():
		return nil, fmt.Errorf("saga: waiting for instance %s: %w", id, context.Cause(ctx))
	}
}

func (e *Engine) start(ctx context.Context, name string, input any) (string, *runState, error) {
	def, err := e.definition(name)
	if err != nil {
		return "", nil, err
	}
	raw, ok := input.(json.RawMessage)
	if !ok {
		if raw, err = json.Marshal(input); err != nil {
			return "", nil, invalid("input of %q: %v", name, err)
		}
	} else if !json.Valid(raw) {
		return "", nil, invalid("input of %q is not valid JSON", name)
	}
	id := e.cfg.NewID()
	data, _ := json.Marshal(envelope{V: 1, ID: id, Def: name, Input: raw})
	if len(data) > txc.MaxApplicationLen {
		return "", nil, invalid("input of %q: %d bytes, more than the coordinator keeps with a branch", name, len(raw))
	}
	xid, err := e.cfg.Coordinator.Begin(ctx, "saga:"+name, e.cfg.StartTimeout)
	if err != nil {
		return "", nil, fmt.Errorf("saga: start %q: begin: %w", name, err)
	}
	bid, err := e.cfg.Coordinator.RegisterBranch(ctx, client.Branch{XID: xid, Type: txc.BranchSaga, ResourceID: e.resource, ApplicationData: data})
	if err != nil {
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		_, _ = e.cfg.Coordinator.Rollback(rctx, xid)
		cancel()
		return "", nil, fmt.Errorf("saga: start %q: register: %w", name, err)
	}
	rs := &runState{done: make(chan struct{}), fresh: &Instance{ID: id, Definition: def.name, XID: xid, BranchID: bid,
		Engine: e.cfg.Name, Status: StatusRunning, Input: raw}}
	e.mu.Lock()
	e.runs[id] = rs
	e.mu.Unlock()
	for attempt := 0; ; attempt++ {
		_, err = e.cfg.Coordinator.Commit(ctx, xid)
		if err == nil || !errors.Is(err, txc.ErrUnavailable) || ctx.Err() != nil || attempt == 5 {
			break
		}
		sleep(ctx, e.clock, time.Duration(attempt+1)*50*time.Millisecond)
	}
	if err != nil {
		if !errors.Is(err, txc.ErrUnavailable) {
			e.mu.Lock()
			if e.runs[id] == rs && rs.fresh != nil {
				delete(e.runs, id)
			}
			e.mu.Unlock()
			return "", nil, fmt.Errorf("saga: start %q: commit: %w", name, err)
		}
		return id, nil, fmt.Errorf("saga: start %q (instance %s): commit outcome unknown: %w", name, id, err)
	}
	return id, rs, nil
}

// Wait waits until instance id has ended (or is parked) and returns its
// result, with the error Run would return.
func (e *Engine) Wait(ctx context.Context, id string) (*Result, error) {
	e.mu.Lock()
	rs := e.runs[id]
	e.mu.Unlock()
	if rs != nil {
		select {
		case <-rs.done:
			return rs.result, rs.result.Err()
		case <-ctx.Done():
			return nil, fmt.Errorf("saga: waiting for instance %s: %w", id, context.Cause(ctx))
		}
	}
	for {
		inst, _, err := e.cfg.Store.Load(ctx, id)
		if err != nil {
			return nil, err
		}
		if inst.Status.IsFinal() || inst.Status == StatusCompensationFailed {
			r := resultOf(inst)
			return r, r.Err()
		}
		if !sleep(ctx, e.clock, 20*time.Millisecond) {
			return nil, fmt.Errorf("saga: waiting for instance %s: %w", id, context.Cause(ctx))
		}
	}
}

func resultOf(in Instance) *Result {
	return &Result{ID: in.ID, Status: in.Status, Output: in.Output, ErrorName: in.ErrorName, Error: in.Error}
}

// Status returns the log of instance id: its record and its steps. An
// instance started but not yet picked up by its handler shows as Running
// with no steps; an unknown ID gives an error matching
// txc.ErrUnknownTransaction.
func (e *Engine) Status(ctx context.Context, id string) (Instance, []StepRecord, error) {
	inst, steps, err := e.cfg.Store.Load(ctx, id)
	if errors.Is(err, txc.ErrUnknownTransaction) {
		e.mu.Lock()
		rs := e.runs[id]
		e.mu.Unlock()
		if rs != nil && rs.fresh != nil {
			return *rs.fresh, nil, nil
		}
	}
	return inst, steps, err
}

// Recover resumes this engine's unfinished instances found in the log
// (Running or Compensating; parked ones wait for an operator's retry at the
// coordinator), each per its definition's recovery strategy, and returns
// when they have ended or ctx is done. The coordinator resumes the same
// instances by itself (see Engine); Recover only does it sooner, and the
// two never run one instance twice at once in a process.
func (e *Engine) Recover(ctx context.Context) error {
	list, err := e.cfg.Store.Unfinished(ctx, e.cfg.Name, 10000)
	if err != nil {
		return err
	}
	var wg sync.WaitGroup
	for _, in := range list {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := e.execute(ctx, envelope{V: 1, ID: in.ID, Def: in.Definition, Input: in.Input}, in.XID, in.BranchID); err != nil {
				e.log.Warn("saga: recovery did not finish the instance; the coordinator will retry", "instance", in.ID, "xid", in.XID, "err", err)
			}
		}()
	}
	wg.Wait()
	return nil
}

// handler serves the phase-2 commands of the engine's saga branches.
type handler struct{ e *Engine }

// Commit runs (or resumes, or merely confirms) the saga of b. See Engine.
func (h handler) Commit(ctx context.Context, b rm.Branch) error {
	env, err := decodeEnvelope(b.ApplicationData)
	if err != nil {
		return txc.Permanent(err)
	}
	return h.e.execute(ctx, env, b.XID, b.ID)
}

// Rollback records that the saga never started: the coordinator rolls a
// saga's transaction back only before its commit, so no step ran.
func (h handler) Rollback(ctx context.Context, b rm.Branch) error {
	env, err := decodeEnvelope(b.ApplicationData)
	if err != nil {
		return txc.Permanent(err)
	}
	e := h.e
	_, _, err = e.cfg.Store.Load(ctx, env.ID)
	switch {
	case errors.Is(err, txc.ErrUnknownTransaction):
		in := Instance{ID: env.ID, Definition: env.Def, XID: b.XID, BranchID: b.ID, Engine: e.cfg.Name, Status: StatusAborted,
			Input: env.Input, ErrorName: "Aborted", Error: "saga: the coordinator rolled the saga's transaction back before it started"}
		if err := e.cfg.Store.Save(ctx, Batch{Instances: []Instance{in}}); err != nil {
			return err
		}
		e.finished(env.ID, resultOf(in))
		return nil
	case err != nil:
		return err
	}
	e.log.Error("saga: rollback of a saga that has a log; left as it is", "instance", env.ID, "xid", b.XID)
	return nil
}

func decodeEnvelope(data []byte) (envelope, error) {
	var env envelope
	if err := json.Unmarshal(data, &env); err != nil || env.ID == "" || env.Def == "" {
		return env, invalid("saga branch data is not a saga envelope: %q", truncate(data, 200))
	}
	if env.V != 1 {
		return env, invalid("saga branch data version %d is unknown", env.V)
	}
	return env, nil
}

func truncate(b []byte, n int) string {
	if len(b) > n {
		return string(b[:n]) + "…"
	}
	return string(b)
}

// finished records the end of a run for its waiters.
func (e *Engine) finished(id string, r *Result) {
	e.mu.Lock()
	rs := e.runs[id]
	delete(e.runs, id)
	e.mu.Unlock()
	if rs != nil {
		rs.result = r
		close(rs.done)
	}
}
