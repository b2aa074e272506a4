package tm

import (
	"log/slog"
	"time"

	"go.opentelemetry.io/otel/trace"

	"github.com/txcio/txc/internal/txctrace"
)

// Defaults of the Manager options.
const (
	DefaultMinBackoff      = 100 * time.Millisecond
	DefaultMaxBackoff      = 5 * time.Second
	DefaultRollbackTimeout = 30 * time.Second
)

// Option configures a Manager.
type Option func(*Manager)

// WithLogger sets the logger. The default discards everything. tm logs
// retries (Warn), failures it cannot return to anyone, such as a failed
// rollback after a panic (Error), and begin/commit/rollback (Debug).
func WithLogger(l *slog.Logger) Option {
	return func(m *Manager) {
		if l != nil {
			m.log = l
		}
	}
}

// WithRetryBackoff bounds the backoff between retries of Commit and Rollback
// while the coordinator is unavailable: the first wait is about min, each
// next one doubles, capped at max. Each wait is jittered down to half its
// nominal value so that many clients do not retry in step. Non-positive
// values keep the defaults; max below min is raised to min.
func WithRetryBackoff(min, max time.Duration) Option {
	return func(m *Manager) {
		if min > 0 {
			m.minBackoff = min
		}
		if max > 0 {
			m.maxBackoff = max
		}
		if m.maxBackoff < m.minBackoff {
			m.maxBackoff = m.minBackoff
		}
	}
}

// WithRollbackTimeout bounds the rollback WithGlobalTx sends after fn fails
// or panics. That rollback runs on a context detached from the caller's
// cancellation (context.WithoutCancel), because fn often fails precisely
// because ctx was cancelled, and telling the coordinator at once releases
// the transaction's locks sooner than waiting for its deadline. Non-positive
// keeps the default.
func WithRollbackTimeout(d time.Duration) Option {
	return func(m *Manager) {
		if d > 0 {
			m.rollbackTimeout = d
		}
	}
}

// WithPipelinedBegin turns pipelined begins on (the default) or off. On,
// and when the Coordinator is a Pipeliner, Begin returns without waiting for
// the coordinator: work on the transaction starts at once, the XID travels
// to other processes (gRPC interceptors, RoundTripper) only after the Begin
// is durable, and Commit reports a Begin that failed. Turn it off if the
// XID leaves the process by a path of your own that cannot call WaitBegun.
func WithPipelinedBegin(on bool) Option {
	return func(m *Manager) { m.noPipeline = !on }
}

// WithTracerProvider makes the Manager trace with tp (OpenTelemetry): a
// span for each Begin, Commit and Rollback (txc.begin, txc.commit,
// txc.rollback, with the XID as txc.xid), the child of the caller's span,
// and the parent of the coordinator's span for the request (the trace
// context travels in the session protocol). Without it (or with nil) the
// Manager makes no span and tracing costs nothing. The gRPC interceptors
// and the HTTP middleware and RoundTripper carry the caller's W3C trace
// context next to the XID whatever this option says.
func WithTracerProvider(tp trace.TracerProvider) Option {
	return func(m *Manager) { m.tracer = txctrace.Tracer(tp) }
}
