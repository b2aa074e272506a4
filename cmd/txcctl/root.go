package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/user"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
)

// defaultAdmin is the admin address when neither --admin nor TXC_ADMIN
// says one.
const defaultAdmin = "http://127.0.0.1:7091"

// globals are the flags every command shares.
type globals struct {
	admin   string
	output  string
	timeout time.Duration
	getenv  func(string) string
	cred    credentials
}

// api returns the admin API client the flags name.
func (g *globals) api() (*api, error) {
	if g.output != "table" && g.output != "json" {
		return nil, withCode(exitUsage, fmt.Errorf("-o must be table or json, not %q", g.output))
	}
	return newAPI(g.admin, g.timeout, g.cred)
}

func (g *globals) json() bool { return g.output == "json" }

func newRoot(getenv func(string) string) *cobra.Command {
	g := &globals{getenv: getenv}
	root := &cobra.Command{
		Use:   "txcctl",
		Short: "operate a txc coordinator: transactions, locks, RMs, undo logs",
		Long: `txcctl talks to a txc coordinator's admin HTTP API (--admin, TXC_ADMIN,
default ` + defaultAdmin + `).

A coordinator that requires a credential takes a bearer token (TXC_TOKEN,
or --token) or a client certificate (--cert and --key); --ca names the CA
of its https certificate.

Exit codes: 0 done, 1 failed, 2 usage or refused input, 3 not found,
4 conflict (not in a state for this action), 5 unavailable, 6 no
credential or not allowed.`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	admin := getenv("TXC_ADMIN")
	if admin == "" {
		admin = defaultAdmin
	}
	root.PersistentFlags().StringVar(&g.admin, "admin", admin, "coordinator admin URL (env TXC_ADMIN)")
	root.PersistentFlags().StringVarP(&g.output, "output", "o", "table", "output format: table or json")
	root.PersistentFlags().DurationVar(&g.timeout, "timeout", 10*time.Second, "how long to wait for an answer")
	g.cred.flags(root, getenv)
	root.AddCommand(newStatusCmd(g), newTxCmd(g), newLocksCmd(g), newRMsCmd(g), newUndoCmd(g))
	return root
}

// printJSON writes raw JSON from the API, indented.
func printJSON(w io.Writer, raw []byte) error {
	var buf bytes.Buffer
	if err := json.Indent(&buf, raw, "", "  "); err != nil {
		return withCode(exitFailed, err)
	}
	buf.WriteByte('\n')
	_, err := w.Write(buf.Bytes())
	return err
}

// encodeJSON writes v as indented JSON.
func encodeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// table writes aligned columns; call flush when done.
func table(w io.Writer) *tabwriter.Writer { return tabwriter.NewWriter(w, 0, 4, 2, ' ', 0) }

// operatorName is who txcctl says acts: --operator, else user@host.
func operatorName(flag string) string {
	if flag != "" {
		return flag
	}
	name := "unknown"
	if u, err := user.Current(); err == nil {
		name = u.Username
	}
	host, _ := os.Hostname()
	return "txcctl:" + name + "@" + host
}

// age formats how long ago t was, for tables.
func age(now, t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	d := now.Sub(t)
	switch {
	case d < time.Minute:
		return d.Round(time.Second).String()
	case d < time.Hour:
		return d.Round(time.Second).String()
	case d < 48*time.Hour:
		return d.Round(time.Minute).String()
	}
	return fmt.Sprintf("%dd", int(d.Hours()/24))
}

// clip shortens s to n runes for a table cell.
func clip(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}
