// Command txc-bench drives a running txc coordinator and reports throughput
// and latency. Its last line of output is one JSON object, for scripts.
//
//	txc-bench tc-2branch --addr 127.0.0.1:8091 --clients 64 --duration 10s
//
// tc-2branch: each client loops begin → register two branches (one locked
// row each, on two resources) → commit. A separate RM process (this binary,
// run as "txc-bench rm-agent") serves both resources and acknowledges every
// phase-2 command, so the coordinator does the whole two-phase commit.
package main

import (
	"fmt"
	"os"

	"github.com/spf13/cobra"
)

func main() {
	root := &cobra.Command{Use: "txc-bench", Short: "load generator for the txc coordinator", SilenceUsage: true}
	root.AddCommand(tc2BranchCommand(), rmAgentCommand(), tccCommand(), sagaCommand(), atMySQLCommand(), atPostgresCommand(), xaMySQLCommand(), xaPostgresCommand(), tcFloorServerCommand())
	if err := root.Execute(); err != nil {
		fmt.Fprintln(os.Stderr, "txc-bench:", err)
		os.Exit(1)
	}
}
