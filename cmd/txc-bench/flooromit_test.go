package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/spf13/cobra"

	"github.com/txcio/txc/internal/dbtest"
	"github.com/txcio/txc/tc/server/servertest"
)

// TestFloorOmit runs each AT scenario's floor alone without each of its
// steps in turn: every replay commits transfers without an error and the
// money adds up (the scenario checks it).
func TestFloorOmit(t *testing.T) {
	for _, tc := range atScenarios {
		t.Run(tc.name, func(t *testing.T) {
			tc.db(t)
			addr := servertest.Addr(t, "bench")
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			for _, step := range tc.steps {
				r := runScenario(t, ctx, tc.cmd(), "--addr", addr, "--clients", "2", "--duration", "300ms", "--warmup", "100ms",
					"--only", "floor", "--floor-omit", step)
				if r.Errors != 0 || r.FloorTxSec <= 0 {
					t.Fatalf("without %s: result %+v", step, r)
				}
			}
		})
	}
}

// TestFloorOmitRefused: a step the scenario's floor does not have, or
// --floor-omit without the floor, is refused before anything runs.
func TestFloorOmitRefused(t *testing.T) {
	dbtest.MySQL(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for _, tc := range []struct {
		cmd  func() *cobra.Command
		args []string
		want string
	}{
		{atMySQLCommand, []string{"--floor", "--floor-omit", omitProbe}, "has no step"},
		{atMySQLCommand, []string{"--floor-omit", omitAfter}, "needs --floor"},
		{xaMySQLCommand, []string{"--floor", "--floor-omit", omitInsert}, "needs --floor"},
	} {
		cmd := tc.cmd()
		var out bytes.Buffer
		cmd.SetOut(&out)
		cmd.SetErr(&out)
		cmd.SetArgs(append([]string{"--addr", "127.0.0.1:1", "--clients", "1"}, tc.args...))
		err := cmd.ExecuteContext(ctx)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s %v: err %v, want one saying %q", cmd.Name(), tc.args, err, tc.want)
		}
	}
}
