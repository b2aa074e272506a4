package client

import (
	"math/rand/v2"
	"time"
)

// Backoff computes capped exponential delays with jitter. The zero value is
// not useful; set Min and Max.
type Backoff struct {
	// Min is the base delay (the first retry waits about Min).
	Min time.Duration
	// Max caps every delay.
	Max time.Duration
	// Jitter returns a random duration in [0, n); nil uses math/rand/v2.
	// Inject a deterministic source in tests.
	Jitter func(n time.Duration) time.Duration
}

// Delay returns how long to wait before retry number attempt (0-based):
// d = min(Max, Min·2^attempt), then a random value in [d/2, d).
func (b Backoff) Delay(attempt int) time.Duration {
	d := b.Min
	if d <= 0 {
		d = time.Millisecond
	}
	for i := 0; i < attempt && d < b.Max; i++ {
		d *= 2
	}
	if b.Max > 0 && d > b.Max {
		d = b.Max
	}
	half := d / 2
	if half <= 0 {
		return d
	}
	j := b.Jitter
	if j == nil {
		j = defaultJitter
	}
	r := j(half)
	if r < 0 {
		r = 0
	}
	if r >= half {
		r = half - 1
	}
	return half + r
}

func defaultJitter(n time.Duration) time.Duration {
	if n <= 0 {
		return 0
	}
	return time.Duration(rand.Int64N(int64(n)))
}

// DelayWithin is Delay for a wait bounded by wait since start: the delay
// cut to what is left of the bound, so that the last attempt starts when
// it is reached, and false when nothing is left (no attempt after it).
// A wait of zero or less has no bound: Delay's, and true.
func (b Backoff) DelayWithin(attempt int, start time.Time, wait time.Duration) (time.Duration, bool) {
	d := b.Delay(attempt)
	if wait <= 0 {
		return d, true
	}
	left := wait - time.Since(start)
	if left <= 0 {
		return 0, false
	}
	return min(d, left), true
}
