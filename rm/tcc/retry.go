package tcc

import (
	"context"
	"math/rand/v2"
	"time"

	"github.com/txcio/txc/internal/sqltable"
)

// maxConflictRetries bounds how often a fence transaction aborted by a
// deadlock or serialization failure is run again before the error is
// returned (and the coordinator retries the command later).
const maxConflictRetries = 4

func retryConflicts(ctx context.Context, run func() error) error {
	for attempt := 0; ; attempt++ {
		err := run()
		if err == nil || attempt >= maxConflictRetries || !sqltable.IsConflict(err) {
			return err
		}
		d := time.Duration(1+rand.IntN(5<<attempt)) * time.Millisecond
		t := time.NewTimer(d)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return err
		}
	}
}
