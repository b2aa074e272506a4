package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/txcio/txc"
	"github.com/txcio/txc/client"
)

func tc2BranchCommand() *cobra.Command {
	var (
		lf          loadFlags
		inProcessRM bool
		waitBegin   bool
	)
	cmd := &cobra.Command{
		Use:   "tc-2branch",
		Short: "begin → register 2 branches → commit, with an RM process acknowledging phase 2",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := lf.validate(); err != nil {
				return err
			}
			ctx := cmd.Context()
			resources := []string{"bench-a", "bench-b"}
			var stopRM func() (int64, error)
			var err error
			if inProcessRM {
				stopRM, err = startRMInProcess(ctx, lf.addr, resources)
			} else {
				stopRM, err = startRMProcess(ctx, lf.addr, resources)
			}
			if err != nil {
				return err
			}
			stopProfile, err := lf.startProfile()
			if err != nil {
				return err
			}
			defer stopProfile()
			r, lat, err := run2Branch(ctx, lf.addr, lf.clients, lf.conns, lf.warmup, lf.duration, resources, waitBegin)
			acked, rmErr := stopRM()
			if err != nil {
				return err
			}
			if rmErr != nil {
				return rmErr
			}
			fmt.Fprintf(cmd.OutOrStdout(), "phase 2    %d branch commits acknowledged by the RM\n", acked)
			return report(cmd.OutOrStdout(), r, lat)
		},
	}
	f := cmd.Flags()
	lf.register(f, "client connections the transactions share")
	f.BoolVar(&inProcessRM, "rm-in-process", false, "serve phase 2 from this process instead of a separate RM process")
	f.BoolVar(&waitBegin, "wait-begin", false, "wait for each Begin's reply before registering (as without pipelined begins)")
	return cmd
}

func run2Branch(ctx context.Context, addr string, clients, nconns int, warmup, duration time.Duration, resources []string, waitBegin bool) (result, latencies, error) {
	var conns []*client.Conn
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	for i := 0; i < nconns; i++ {
		dctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		c, err := client.Dial(dctx, addr, client.WithName(fmt.Sprintf("txc-bench-%d", i)))
		cancel()
		if err != nil {
			return result{}, nil, err
		}
		conns = append(conns, c)
	}
	l := runLoad(clients, warmup, duration, func(id, n int) error {
		return oneTx(ctx, conns[id%len(conns)], resources, id, n, waitBegin)
	})
	secs := duration.Seconds()
	r := result{Scenario: "tc-2branch", Clients: clients, Tx: int(l.measured), Errors: int(l.failed),
		Seconds: secs, TxPerSec: float64(l.measured) / secs}
	return r, l.lat, nil
}

// oneTx is one global transaction as tm.WithGlobalTx runs it: a pipelined
// Begin (or, with waitBegin, a Begin whose reply is awaited), the branches'
// registrations, the commit, and the Begin's outcome checked at the end.
func oneTx(ctx context.Context, c *client.Conn, resources []string, id, n int, waitBegin bool) error {
	var (
		xid  txc.XID
		wait func(context.Context) error
		err  error
	)
	if waitBegin {
		xid, err = c.Begin(ctx, "bench", 30*time.Second)
	} else {
		xid, wait, err = c.BeginPipelined(ctx, "bench", 30*time.Second)
	}
	if err != nil {
		return err
	}
	for _, res := range resources {
		_, err := c.Register(ctx, client.Branch{XID: xid, Type: txc.BranchGeneric, ResourceID: res,
			LockKeys: []txc.LockKey{{Table: "account", Rows: []string{fmt.Sprintf("%d-%d", id, n)}}}})
		if err != nil {
			c.Rollback(ctx, xid)
			return err
		}
	}
	if _, err = c.Commit(ctx, xid); err != nil {
		return err
	}
	if wait != nil {
		return wait(ctx) // answered before the commit was: does not block
	}
	return nil
}

// startRMProcess runs "txc-bench rm-agent" and waits until it serves.
// The returned stop function ends it and returns how many commands it
// acknowledged.
func startRMProcess(ctx context.Context, addr string, resources []string) (func() (int64, error), error) {
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	cmd := exec.CommandContext(ctx, self, "rm-agent", "--addr", addr, "--resources", strings.Join(resources, ","))
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	lines := bufio.NewScanner(stdout)
	if !lines.Scan() || lines.Text() != "ready" {
		cmd.Process.Kill()
		cmd.Wait()
		return nil, errors.New("rm-agent did not start")
	}
	return func() (int64, error) {
		stdin.Close() // tells the agent to drain and stop
		var acked int64
		if lines.Scan() {
			fmt.Sscan(lines.Text(), &acked)
		}
		return acked, cmd.Wait()
	}, nil
}
