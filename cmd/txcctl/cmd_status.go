package main

import (
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/txcio/txc/tc/lock"
	"github.com/txcio/txc/tc/server"
)

func newStatusCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "status",
		Short: "is the coordinator ready, and what does it hold",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			a, err := g.api()
			if err != nil {
				return err
			}
			var st server.StatsView
			raw, _, err := a.get(cmd.Context(), "/v1/stats", nil, &st)
			if err != nil {
				return err
			}
			_, _, readyErr := a.do(cmd.Context(), "GET", "/readyz", nil, nil)
			if g.json() {
				if err := printJSON(cmd.OutOrStdout(), raw); err != nil {
					return err
				}
			} else {
				printStatus(cmd, &st, readyErr == nil)
			}
			if readyErr != nil {
				return withCode(exitUnavailable, fmt.Errorf("coordinator not ready: %w", readyErr))
			}
			return nil
		},
	}
}

func printStatus(cmd *cobra.Command, st *server.StatsView, ready bool) {
	w := table(cmd.OutOrStdout())
	fmt.Fprintf(w, "node\t%s\n", st.Node)
	fmt.Fprintf(w, "ready\t%v\n", ready)
	fmt.Fprintf(w, "live transactions\t%d\n", st.Active)
	fmt.Fprintf(w, "needing manual action\t%d\n", st.Manual)
	fmt.Fprintf(w, "locked rows\t%d\n", st.LockedRows)
	fmt.Fprintf(w, "RM streams\t%d\n", st.Conns)
	fmt.Fprintf(w, "phase-2 commands in flight\t%d\n", st.InFlight)
	fmt.Fprintf(w, "finished, remembered\t%d\n", st.Finished)
	t := st.Totals
	fmt.Fprintf(w, "since start\tbegun %d, committed %d, rolled back %d, timed out %d, parked %d, lock conflicts %d\n",
		t.Begun, t.Committed, t.Rollbacked, t.TimedOut, t.Parked, t.Conflicts)
	names := make([]string, 0, len(st.ByStatus))
	for n := range st.ByStatus {
		names = append(names, n)
	}
	slices.Sort(names)
	for _, n := range names {
		fmt.Fprintf(w, "  %s\t%d\n", n, st.ByStatus[n])
	}
	w.Flush()
}

func newLocksCmd(g *globals) *cobra.Command {
	var resource, tbl, holder string
	var limit int
	cmd := &cobra.Command{
		Use:   "locks",
		Short: "list locked rows and the transactions holding them",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			a, err := g.api()
			if err != nil {
				return err
			}
			q := url.Values{"limit": {strconv.Itoa(limit)}}
			setIf(q, "resource", resource)
			setIf(q, "table", tbl)
			setIf(q, "holder", holder)
			var rows []lock.Row
			raw, hdr, err := a.get(cmd.Context(), "/v1/locks", q, &rows)
			if err != nil {
				return err
			}
			if g.json() {
				return printJSON(cmd.OutOrStdout(), raw)
			}
			w := table(cmd.OutOrStdout())
			fmt.Fprintln(w, "RESOURCE\tTABLE\tROW\tHOLDER\tBRANCHES")
			for _, r := range rows {
				fmt.Fprintf(w, "%s\t%s\t%q\t%s\t%v\n", r.Resource, r.Table, r.Key, r.Holder, r.Branches)
			}
			w.Flush()
			fmt.Fprintf(cmd.OutOrStdout(), "%d of %s locked rows\n", len(rows), hdr.Get("X-Total-Count"))
			return nil
		},
	}
	cmd.Flags().StringVar(&resource, "resource", "", "only rows of this resource")
	cmd.Flags().StringVar(&tbl, "table", "", "only rows of this table")
	cmd.Flags().StringVar(&holder, "holder", "", "only rows held by this XID")
	cmd.Flags().IntVar(&limit, "limit", 1000, "at most this many rows")
	return cmd
}

func newRMsCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "rms",
		Short: "list connected RM streams and the resources they serve",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			a, err := g.api()
			if err != nil {
				return err
			}
			var v server.RMsView
			raw, _, err := a.get(cmd.Context(), "/v1/rms", nil, &v)
			if err != nil {
				return err
			}
			if g.json() {
				return printJSON(cmd.OutOrStdout(), raw)
			}
			w := table(cmd.OutOrStdout())
			fmt.Fprintln(w, "STREAM\tCLIENT\tRESOURCES")
			for _, s := range v.Streams {
				fmt.Fprintf(w, "%d\t%s\t%s\n", s.Conn, s.Name, strings.Join(s.Resources, ","))
			}
			fmt.Fprintln(w, "\nRESOURCE\tSTREAMS\tWAITING FOR AN RM")
			for _, r := range v.Resources {
				fmt.Fprintf(w, "%s\t%d\t%d\n", r.Resource, len(r.Conns), r.Waiting)
			}
			return w.Flush()
		},
	}
}

// noArgs refuses positional arguments as a usage error.
func noArgs(_ *cobra.Command, args []string) error {
	if len(args) > 0 {
		return withCode(exitUsage, fmt.Errorf("unexpected argument %q", args[0]))
	}
	return nil
}

// exactArgs wants n positional arguments, named in the error.
func exactArgs(names ...string) cobra.PositionalArgs {
	return func(_ *cobra.Command, args []string) error {
		if len(args) != len(names) {
			return withCode(exitUsage, fmt.Errorf("want %d argument(s): %s", len(names), strings.Join(names, " ")))
		}
		return nil
	}
}

func setIf(q url.Values, k, v string) {
	if v != "" {
		q.Set(k, v)
	}
}

// group is a command that only holds subcommands: run without one, or
// with an unknown one, it is a usage error.
func group(use, short string) *cobra.Command {
	return &cobra.Command{Use: use, Short: short, Args: cobra.ArbitraryArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) > 0 {
				return withCode(exitUsage, fmt.Errorf("unknown command %q for %q; see %s --help", args[0], cmd.CommandPath(), cmd.CommandPath()))
			}
			return withCode(exitUsage, fmt.Errorf("%s needs a subcommand; see %s --help", cmd.CommandPath(), cmd.CommandPath()))
		}}
}
