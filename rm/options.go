package rm

import (
	"log/slog"
	"time"

	"go.opentelemetry.io/otel/trace"

	"github.com/txcio/txc/internal/txctrace"
)

// Option configures New.
type Option func(*Manager)

// WithLogger sets the logger; the default discards.
func WithLogger(l *slog.Logger) Option {
	return func(m *Manager) {
		if l != nil {
			m.log = l
		}
	}
}

// WithLockRetry sets the backoff between registrations that hit a lock
// conflict: about min first, doubling up to max. Defaults 5ms and 200ms.
func WithLockRetry(min, max time.Duration) Option {
	return func(m *Manager) { m.backoff.Min, m.backoff.Max = min, max }
}

// WithLockWait bounds how long RegisterBranch retries a registration that
// meets rows another global transaction has locked: past d it returns the
// lock conflict (see RegisterBranch). The Manager's default, which a
// registration's own LockWait and its transaction's tm.Config.LockWait
// override. Non-positive d keeps the default (rm.New takes no error, so
// a negative d is not refused, unlike tm.Config.LockWait and
// datasource.WithLockWait): no bound, retries until the registration's
// ctx is done (the transaction's budget).
func WithLockWait(d time.Duration) Option {
	return func(m *Manager) {
		if d > 0 {
			m.lockWait = d
		}
	}
}

// WithJitter sets the random source of the lock-retry backoff: f returns a
// duration in [0, n). For deterministic tests.
func WithJitter(f func(n time.Duration) time.Duration) Option {
	return func(m *Manager) { m.backoff.Jitter = f }
}

// WithTracerProvider makes the Manager trace with tp (OpenTelemetry): a
// span for each RegisterBranch (txc.rm.register, the child of the caller's
// span and the parent of the coordinator's) and for each phase-2 command it
// handles (txc.rm.phase2, the child of the coordinator's phase-2 span, and
// the parent of the handler's own spans through its ctx), with the XID as
// txc.xid. Without it (or with nil) no span is made, at no cost.
func WithTracerProvider(tp trace.TracerProvider) Option {
	return func(m *Manager) { m.tracer = txctrace.Tracer(tp) }
}
