package rm

import (
	"log/slog"
	"time"
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

// WithJitter sets the random source of the lock-retry backoff: f returns a
// duration in [0, n). For deterministic tests.
func WithJitter(f func(n time.Duration) time.Duration) Option {
	return func(m *Manager) { m.backoff.Jitter = f }
}
