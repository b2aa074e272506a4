package saga

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"
)

// RetryRule retries a failed step whose error name (ErrorName) is in
// Errors: at most MaxAttempts attempts in all (the first included), waiting
// Interval before the first retry and multiplying the wait by Backoff (≥ 1;
// 0 means 2) before each further one, never more than MaxInterval (0: no
// cap). The first rule that matches the error decides. Errors wrapped by
// txc.Permanent or a permanent *ServiceError are never retried.
//
// A name in Errors matches exactly, "*" matches every name and "Prefix.*"
// every name starting with "Prefix.".
type RetryRule struct {
	Errors      []string
	Interval    time.Duration
	Backoff     float64
	MaxInterval time.Duration
	MaxAttempts int
}

// DefaultCompensationRetry is used for a compensation without retry rules:
// five attempts in the process, 100ms apart doubling up to 2s. After them
// the coordinator's phase-2 retries take over.
var DefaultCompensationRetry = []RetryRule{{Errors: []string{ErrNameAll}, Interval: 100 * time.Millisecond, Backoff: 2, MaxInterval: 2 * time.Second, MaxAttempts: 5}}

func compileRetry(rules []RetryRule) ([]RetryRule, error) {
	out := slices.Clone(rules)
	for i := range out {
		r := &out[i]
		switch {
		case len(r.Errors) == 0:
			return nil, fmt.Errorf("[%d].ErrorEquals: empty", i)
		case r.MaxAttempts < 1:
			return nil, fmt.Errorf("[%d].MaxAttempts: %d, want at least 1", i, r.MaxAttempts)
		case r.Interval < 0 || r.MaxInterval < 0:
			return nil, fmt.Errorf("[%d]: negative interval", i)
		case r.Backoff != 0 && (r.Backoff < 1 || math.IsNaN(r.Backoff) || math.IsInf(r.Backoff, 0)):
			return nil, fmt.Errorf("[%d].BackoffRate: %v, want at least 1", i, r.Backoff)
		}
		if r.Backoff == 0 {
			r.Backoff = 2
		}
		for _, e := range r.Errors {
			if e == "" {
				return nil, errors.New("empty error name")
			}
		}
	}
	return out, nil
}

// matchName reports whether an ErrorEquals list matches name.
func matchName(list []string, name string) bool {
	for _, e := range list {
		if e == ErrNameAll || e == name || (strings.HasSuffix(e, ".*") && strings.HasPrefix(name, e[:len(e)-1])) {
			return true
		}
	}
	return false
}

// retryDelay decides, after attempt attempts (≥ 1) of which the last failed
// with an error named name, whether to try again and after how long.
func retryDelay(rules []RetryRule, name string, permanent bool, attempt int) (time.Duration, bool) {
	if permanent {
		return 0, false
	}
	for _, r := range rules {
		if !matchName(r.Errors, name) {
			continue
		}
		if attempt >= r.MaxAttempts {
			return 0, false
		}
		d := float64(r.Interval) * math.Pow(r.Backoff, float64(attempt-1))
		if r.MaxInterval > 0 && d > float64(r.MaxInterval) {
			d = float64(r.MaxInterval)
		}
		if d > float64(math.MaxInt64/2) {
			d = float64(math.MaxInt64 / 2)
		}
		return time.Duration(d), true
	}
	return 0, false
}
