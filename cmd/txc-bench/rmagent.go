package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"
	"sync/atomic"
	"time"

	"github.com/spf13/cobra"

	"github.com/txcio/txc"
	"github.com/txcio/txc/client"
)

// rmAgentCommand is the RM process of the benchmarks: it serves resources,
// acknowledges every phase-2 command at once, prints "ready" when serving,
// and when its stdin closes waits for phase 2 to go quiet, prints how many
// commands it acknowledged, and exits.
func rmAgentCommand() *cobra.Command {
	var addr, resources string
	cmd := &cobra.Command{
		Use:    "rm-agent",
		Short:  "acknowledge phase 2 for benchmark resources (started by the benchmarks)",
		Hidden: true,
		Args:   cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			stop, err := startRMInProcess(cmd.Context(), addr, strings.Split(resources, ","))
			if err != nil {
				return err
			}
			fmt.Println("ready")
			io.Copy(io.Discard, os.Stdin)
			n, err := stop()
			fmt.Println(n)
			return err
		},
	}
	cmd.Flags().StringVar(&addr, "addr", "127.0.0.1:8091", "coordinator gRPC address")
	cmd.Flags().StringVar(&resources, "resources", "bench-a,bench-b", "resources to serve, comma-separated")
	return cmd
}

func startRMInProcess(ctx context.Context, addr string, resources []string) (func() (int64, error), error) {
	dctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	c, err := client.Dial(dctx, addr, client.WithName("txc-bench-rm"))
	if err != nil {
		return nil, err
	}
	var acked atomic.Int64
	err = c.Serve(resources, func(_ context.Context, cmd client.Command) (txc.BranchStatus, string) {
		acked.Add(1)
		if cmd.Action == client.ActionCommit {
			return txc.BranchCommitted, ""
		}
		return txc.BranchRollbacked, ""
	})
	if err != nil {
		c.Close()
		return nil, err
	}
	// Serve does not wait for the coordinator; a round trip after it does.
	if err := roundTrip(dctx, c); err != nil && txc.CodeOf(err) == txc.CodeUnavailable {
		c.Close()
		return nil, err
	}
	return func() (int64, error) {
		// Let in-flight phase 2 finish: stop when the count stays still.
		for last := int64(-1); last != acked.Load(); {
			last = acked.Load()
			time.Sleep(300 * time.Millisecond)
		}
		return acked.Load(), c.Close()
	}, nil
}
