package sqltable_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/txcio/txc/internal/sqltable"
)

// TestCleanupRun: a failed round is logged and the next one still runs;
// deleted rows are logged; Run returns ctx's error once ctx is done.
func TestCleanupRun(t *testing.T) {
	var buf bytes.Buffer
	ctx, cancel := context.WithCancel(t.Context())
	rounds := 0
	c := sqltable.Cleanup{Log: slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug})),
		What: "pkg: cleanup", Table: "t1",
		Round: func(context.Context) (int64, error) {
			rounds++
			if rounds == 1 {
				return 0, errors.New("boom")
			}
			cancel()
			return 7, nil
		}}
	if err := c.Run(ctx, time.Millisecond); !errors.Is(err, context.Canceled) {
		t.Fatalf("Run returned %v", err)
	}
	out := buf.String()
	if rounds != 2 || !strings.Contains(out, `msg="pkg: cleanup failed; retrying at the next interval" table=t1 err=boom`) ||
		!strings.Contains(out, `msg="pkg: cleanup" table=t1 deleted=7`) {
		t.Fatalf("%d rounds, log:\n%s", rounds, out)
	}
}
