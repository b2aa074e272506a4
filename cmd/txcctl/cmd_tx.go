package main

import (
	"fmt"
	"io"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/txcio/txc"
	"github.com/txcio/txc/tc"
)

func newTxCmd(g *globals) *cobra.Command {
	cmd := group("tx", "list, show, retry and resolve global transactions")
	cmd.AddCommand(newTxListCmd(g), newTxShowCmd(g), newTxActionCmd(g, "retry"), newTxActionCmd(g, "resolve"))
	return cmd
}

func newTxListCmd(g *globals) *cobra.Command {
	var status, name, resource string
	var older time.Duration
	var manual bool
	var limit, offset int
	cmd := &cobra.Command{
		Use:   "list",
		Short: "list live transactions, oldest first",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			a, err := g.api()
			if err != nil {
				return err
			}
			q := url.Values{"limit": {strconv.Itoa(limit)}, "offset": {strconv.Itoa(offset)}}
			setIf(q, "status", status)
			setIf(q, "name", name)
			setIf(q, "resource", resource)
			if older > 0 {
				q.Set("min_age", older.String())
			}
			if manual {
				q.Set("manual", "1")
			}
			var txs []tc.TxView
			raw, hdr, err := a.get(cmd.Context(), "/v1/transactions", q, &txs)
			if err != nil {
				return err
			}
			if g.json() {
				return printJSON(cmd.OutOrStdout(), raw)
			}
			now := time.Now()
			w := table(cmd.OutOrStdout())
			fmt.Fprintln(w, "XID\tNAME\tSTATUS\tAGE\tBRANCHES\tLAST ERROR")
			for _, t := range txs {
				fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%d\t%s\n", t.XID, clip(t.Name, 32), t.StatusS, age(now, t.Begun), len(t.Branches), clip(lastError(&t), 60))
			}
			w.Flush()
			fmt.Fprintf(cmd.OutOrStdout(), "%d of %s transactions\n", len(txs), hdr.Get("X-Total-Count"))
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&status, "status", "", "only these statuses, comma-separated (e.g. RollbackFailed,CommitFailed)")
	f.StringVar(&name, "name", "", "only names containing this")
	f.StringVar(&resource, "resource", "", "only transactions with a branch on this resource")
	f.DurationVar(&older, "older-than", 0, "only transactions begun at least this long ago")
	f.BoolVar(&manual, "manual", false, "only transactions needing manual action")
	f.IntVar(&limit, "limit", 100, "at most this many")
	f.IntVar(&offset, "offset", 0, "skip this many")
	return cmd
}

// lastError is the first failure text of t's branches (tx show says
// which branch: branch IDs are long enough to crowd the text out).
func lastError(t *tc.TxView) string {
	for _, b := range t.Branches {
		if b.LastError != "" {
			return b.LastError
		}
	}
	return ""
}

func newTxShowCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "show XID",
		Short: "show one transaction: branches, lock keys, failure reasons, history",
		Args:  exactArgs("XID"),
		RunE: func(cmd *cobra.Command, args []string) error {
			a, err := g.api()
			if err != nil {
				return err
			}
			xid, err := argXID(args[0])
			if err != nil {
				return err
			}
			var t tc.TxView
			raw, _, err := a.get(cmd.Context(), "/v1/transactions/"+url.PathEscape(string(xid)), nil, &t)
			if err != nil {
				return err
			}
			if g.json() {
				return printJSON(cmd.OutOrStdout(), raw)
			}
			return printTx(cmd.OutOrStdout(), &t)
		},
	}
}

func printTx(out io.Writer, t *tc.TxView) error {
	w := table(out)
	fmt.Fprintf(w, "xid\t%s\n", t.XID)
	if t.Name != "" {
		fmt.Fprintf(w, "name\t%s\n", t.Name)
	}
	fmt.Fprintf(w, "status\t%s\n", t.StatusS)
	if t.Manual {
		fmt.Fprintf(w, "\tNEEDS MANUAL ACTION: txcctl tx retry %s, or txcctl tx resolve %s --comment '…'\n", t.XID, t.XID)
	}
	if t.Finished {
		fmt.Fprintf(w, "finished\tyes\n")
	}
	if !t.Begun.IsZero() {
		fmt.Fprintf(w, "begun\t%s\n", t.Begun.Format(time.RFC3339Nano))
		fmt.Fprintf(w, "deadline\t%s\n", t.Deadline.Format(time.RFC3339Nano))
		fmt.Fprintf(w, "updated\t%s\n", t.Updated.Format(time.RFC3339Nano))
	}
	w.Flush()
	if len(t.Branches) > 0 {
		fmt.Fprintln(out, "\nBRANCHES")
		w = table(out)
		fmt.Fprintln(w, "ID\tTYPE\tRESOURCE\tSTATUS\tATTEMPTS\tLOCKED ROWS\tLAST ERROR")
		for _, b := range t.Branches {
			fmt.Fprintf(w, "%d\t%s\t%s\t%s\t%d\t%d\t%s\n", b.ID, b.Type, b.ResourceID, b.Status, b.Attempts, b.LockedRows, b.LastError)
		}
		w.Flush()
		for _, b := range t.Branches {
			for _, k := range b.LockKeys {
				fmt.Fprintf(out, "  branch %d locks %s: %s\n", b.ID, k.Table, strings.Join(k.Rows, ", "))
			}
		}
	}
	if len(t.History) > 0 {
		fmt.Fprintln(out, "\nHISTORY")
		w = table(out)
		fmt.Fprintln(w, "AT\tSTATUS\tACTION\tWHO\tNOTE")
		for _, h := range t.History {
			fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\n", h.At.Format(time.RFC3339Nano), h.Status, h.Action, h.Who, h.Note)
		}
		w.Flush()
	}
	return nil
}

func newTxActionCmd(g *globals, action string) *cobra.Command {
	var comment, who string
	short := "send phase 2 again to the failed branches of a parked transaction"
	if action == "resolve" {
		short = "record that the failed branches of a parked transaction were settled by hand (comment required)"
	}
	cmd := &cobra.Command{
		Use:   action + " XID",
		Short: short,
		Args:  exactArgs("XID"),
		RunE: func(cmd *cobra.Command, args []string) error {
			a, err := g.api()
			if err != nil {
				return err
			}
			xid, err := argXID(args[0])
			if err != nil {
				return err
			}
			if action == "resolve" && strings.TrimSpace(comment) == "" {
				return withCode(exitUsage, fmt.Errorf("resolve needs --comment saying what was done by hand"))
			}
			body := map[string]string{"operator": operatorName(who), "comment": comment}
			raw, _, err := a.do(cmd.Context(), "POST", "/v1/transactions/"+url.PathEscape(string(xid))+"/"+action, nil, body)
			if err != nil {
				return err
			}
			if g.json() {
				return printJSON(cmd.OutOrStdout(), raw)
			}
			var res struct {
				Result      string    `json:"result"`
				Transaction tc.TxView `json:"transaction"`
			}
			if err := decodeInto(raw, &res); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s: %s; now %s\n", xid, res.Result, res.Transaction.StatusS)
			return nil
		},
	}
	cmd.Flags().StringVar(&comment, "comment", "", "what was done, recorded in the transaction's history"+
		map[bool]string{true: " (required)", false: ""}[action == "resolve"])
	cmd.Flags().StringVar(&who, "operator", "", "who acts (default txcctl:user@host)")
	return cmd
}

// argXID checks an XID argument.
func argXID(s string) (txc.XID, error) {
	xid := txc.XID(s)
	if _, _, err := xid.Parse(); err != nil {
		return "", withCode(exitUsage, err)
	}
	return xid, nil
}
