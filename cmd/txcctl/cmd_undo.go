package main

import (
	"context"
	"database/sql"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/go-sql-driver/mysql"
	"github.com/jackc/pgx/v5"
	_ "github.com/jackc/pgx/v5/stdlib" // "pgx"
	"github.com/spf13/cobra"

	"github.com/txcio/txc"
	"github.com/txcio/txc/datasource/undo"
)

func newUndoCmd(g *globals) *cobra.Command {
	cmd := group("undo", "read AT undo logs in a database")
	cmd.AddCommand(newUndoShowCmd(g))
	return cmd
}

// undoFlags say which database and table hold the undo log.
type undoFlags struct {
	mysqlDSN, postgresDSN string
	table, schema         string
}

func newUndoShowCmd(g *globals) *cobra.Command {
	var f undoFlags
	cmd := &cobra.Command{
		Use:   "show XID BRANCH",
		Short: "decode one AT branch's undo log: the before and after images a rollback restores",
		Long: `undo show reads the undo-log row of branch BRANCH of XID from the database
(--mysql-dsn for MySQL/MariaDB, --postgres-dsn for PostgreSQL; or the env
TXC_MYSQL_DSN / TXC_POSTGRES_DSN) and prints each record: the table, the
statement kind, and per row the before and after image of every column. A
rollback undoes the records last first: it writes the before images back
(deletes inserted rows, inserts deleted ones).

It reads the row with SELECT … FOR UPDATE in a transaction it rolls back at
once, so it waits while the branch's phase 1 holds the row uncommitted. It
never prints the DSN's password.`,
		Args: exactArgs("XID", "BRANCH"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if g.output != "table" && g.output != "json" {
				return withCode(exitUsage, fmt.Errorf("-o must be table or json, not %q", g.output))
			}
			xid, err := argXID(args[0])
			if err != nil {
				return err
			}
			branch, err := strconv.ParseUint(args[1], 10, 64)
			if err != nil || branch == 0 {
				return withCode(exitUsage, fmt.Errorf("BRANCH must be a branch ID (a positive integer), not %q", args[1]))
			}
			if f.mysqlDSN == "" && f.postgresDSN == "" {
				f.mysqlDSN, f.postgresDSN = g.getenv("TXC_MYSQL_DSN"), g.getenv("TXC_POSTGRES_DSN")
			}
			db, err := openUndoDB(f)
			if err != nil {
				return err
			}
			defer db.close()
			ctx, cancel := context.WithTimeout(cmd.Context(), g.timeout)
			defer cancel()
			e, err := db.read(ctx, f, xid, txc.BranchID(branch))
			if err != nil {
				return err
			}
			if g.json() {
				return encodeJSON(cmd.OutOrStdout(), undoJSON(db, e, xid, txc.BranchID(branch)))
			}
			printUndo(cmd.OutOrStdout(), db, e, xid, txc.BranchID(branch))
			return nil
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.mysqlDSN, "mysql-dsn", "", "MySQL/MariaDB DSN of the branch's database, as go-sql-driver/mysql takes it (env TXC_MYSQL_DSN)")
	fl.StringVar(&f.postgresDSN, "postgres-dsn", "", "PostgreSQL DSN of the branch's database, URL or key=value (env TXC_POSTGRES_DSN)")
	fl.StringVar(&f.table, "undo-table", undo.DefaultTable, "name of the undo-log table")
	fl.StringVar(&f.schema, "undo-schema", "", "schema (PostgreSQL) or database (MySQL) of the undo-log table, when not the connection's")
	return cmd
}

// undoDB is an open database whose password txcctl must not print.
type undoDB struct {
	db       *sql.DB
	dialect  undo.Dialect
	display  string // the DSN without password
	password string
}

func (u *undoDB) close() { u.db.Close() }

// hide removes the password from an error text.
func (u *undoDB) hide(err error) error {
	if u.password == "" || !strings.Contains(err.Error(), u.password) {
		return err
	}
	return fmt.Errorf("%s", strings.ReplaceAll(err.Error(), u.password, "****"))
}

func openUndoDB(f undoFlags) (*undoDB, error) {
	u := &undoDB{}
	var driver, dsn string
	switch {
	case f.mysqlDSN != "" && f.postgresDSN != "":
		return nil, withCode(exitUsage, fmt.Errorf("give --mysql-dsn or --postgres-dsn, not both"))
	case f.mysqlDSN != "":
		cfg, err := mysql.ParseDSN(f.mysqlDSN)
		if err != nil {
			return nil, withCode(exitUsage, fmt.Errorf("--mysql-dsn is not a MySQL DSN (user:password@tcp(host:port)/db)"))
		}
		u.password, cfg.Passwd = cfg.Passwd, ""
		u.dialect, driver, dsn, u.display = undo.MySQL, "mysql", f.mysqlDSN, cfg.FormatDSN()
	case f.postgresDSN != "":
		cfg, err := pgx.ParseConfig(f.postgresDSN)
		if err != nil {
			return nil, withCode(exitUsage, fmt.Errorf("--postgres-dsn is not a PostgreSQL DSN (postgres://user:password@host:port/db)"))
		}
		u.password = cfg.Password
		u.dialect, driver, dsn = undo.Postgres, "pgx", f.postgresDSN
		u.display = fmt.Sprintf("postgres://%s@%s:%d/%s", cfg.User, cfg.Host, cfg.Port, cfg.Database)
	default:
		return nil, withCode(exitUsage, fmt.Errorf("undo show needs --mysql-dsn or --postgres-dsn (or TXC_MYSQL_DSN / TXC_POSTGRES_DSN)"))
	}
	db, err := sql.Open(driver, dsn)
	if err != nil {
		return nil, withCode(exitUsage, u.hide(err))
	}
	u.db = db
	return u, nil
}

// read fetches and decodes the undo-log row of (xid, branch).
func (u *undoDB) read(ctx context.Context, f undoFlags, xid txc.XID, branch txc.BranchID) (*undo.Entry, error) {
	t, err := undo.NewTableIn(u.dialect, f.schema, f.table, undo.Codec{})
	if err != nil {
		return nil, withCode(exitUsage, err)
	}
	tx, err := u.db.BeginTx(ctx, nil)
	if err != nil {
		return nil, withCode(exitUnavailable, fmt.Errorf("database %s: %w", u.display, u.hide(err)))
	}
	defer tx.Rollback()
	e, err := t.SelectForUpdate(ctx, tx, xid, branch)
	if err != nil {
		return nil, withCode(exitFailed, fmt.Errorf("database %s: %w", u.display, u.hide(err)))
	}
	if e == nil {
		return nil, withCode(exitNotFound, fmt.Errorf("no undo-log row for branch %d of %s in %s (table %s): the branch committed, was rolled back, or never wrote here", branch, xid, u.display, t.Ref()))
	}
	return e, nil
}

// what a rollback does to each kind of record.
var undoes = map[undo.RecordKind]string{
	undo.Insert: "rollback deletes these rows",
	undo.Update: "rollback writes the before images back",
	undo.Delete: "rollback inserts these rows again",
}

func printUndo(out io.Writer, u *undoDB, e *undo.Entry, xid txc.XID, branch txc.BranchID) {
	fmt.Fprintf(out, "undo log of branch %d of %s in %s\n", branch, xid, u.display)
	if e.State == undo.StateFinished {
		fmt.Fprintln(out, "finished marker: a rollback found no undo log for this branch; there is nothing to restore")
		return
	}
	if e.Log.TimeZone != "" {
		fmt.Fprintf(out, "session time zone of the images: %s\n", e.Log.TimeZone)
	}
	fmt.Fprintf(out, "%d record(s), in execution order; a rollback undoes them last first\n", len(e.Log.Records))
	for i, r := range e.Log.Records {
		fmt.Fprintf(out, "\nrecord %d: %s on %s (primary key %s): %s\n", i+1, r.Kind, r.Table, strings.Join(r.PK, ", "), undoes[r.Kind])
		for j := 0; j < max(len(r.Before), len(r.After)); j++ {
			fmt.Fprintf(out, "  row %d\n", j+1)
			w := table(out)
			fmt.Fprintln(w, "    COLUMN\tBEFORE\tAFTER\t")
			for _, name := range columnNames(r, j) {
				before, after := cell(r.Before, j, name), cell(r.After, j, name)
				mark := ""
				if before != after && j < len(r.Before) && j < len(r.After) {
					mark = "changed"
				}
				fmt.Fprintf(w, "    %s\t%s\t%s\t%s\n", name, before, after, mark)
			}
			w.Flush()
		}
	}
}

// columnNames lists the columns of row j of r's images, before first.
func columnNames(r undo.Record, j int) []string {
	var names []string
	seen := map[string]bool{}
	for _, rows := range [][]undo.Row{r.Before, r.After} {
		if j >= len(rows) {
			continue
		}
		for _, c := range rows[j] {
			if !seen[c.Name] {
				seen[c.Name] = true
				names = append(names, c.Name)
			}
		}
	}
	return names
}

// cell is the value of column name in row j of rows, or "-" when the
// image has no such row or column.
func cell(rows []undo.Row, j int, name string) string {
	if j >= len(rows) {
		return "-"
	}
	v, ok := rows[j].Get(name)
	if !ok {
		return "-"
	}
	return v.String()
}

// undoLogJSON is undo show's -o json output.
type undoLogJSON struct {
	Database string           `json:"database"`
	XID      txc.XID          `json:"xid"`
	BranchID txc.BranchID     `json:"branch_id"`
	Finished bool             `json:"finished_marker"`
	TimeZone string           `json:"time_zone,omitempty"`
	Records  []undoRecordJSON `json:"records"`
}

type undoRecordJSON struct {
	Table  string         `json:"table"`
	Kind   string         `json:"kind"`
	PK     []string       `json:"primary_key"`
	Before [][]columnJSON `json:"before"`
	After  [][]columnJSON `json:"after"`
}

// columnJSON is one column value of an image: its display form, kind and
// database type.
type columnJSON struct {
	Name  string `json:"name"`
	Value string `json:"value"`
	Kind  string `json:"kind"`
	Type  string `json:"type,omitempty"`
}

func undoJSON(u *undoDB, e *undo.Entry, xid txc.XID, branch txc.BranchID) undoLogJSON {
	out := undoLogJSON{Database: u.display, XID: xid, BranchID: branch, Finished: e.State == undo.StateFinished, Records: []undoRecordJSON{}}
	if e.Log == nil {
		return out
	}
	out.TimeZone = e.Log.TimeZone
	for _, r := range e.Log.Records {
		out.Records = append(out.Records, undoRecordJSON{Table: r.Table, Kind: r.Kind.String(), PK: r.PK,
			Before: rowsJSON(r.Before), After: rowsJSON(r.After)})
	}
	return out
}

func rowsJSON(rows []undo.Row) [][]columnJSON {
	out := make([][]columnJSON, 0, len(rows))
	for _, row := range rows {
		m := make([]columnJSON, 0, len(row))
		for _, c := range row {
			v := c.Value
			s := v.String()
			if v.Type() != "" {
				s = strings.TrimSuffix(s, "::"+v.Type())
			}
			m = append(m, columnJSON{Name: c.Name, Value: s, Kind: v.Kind().String(), Type: v.Type()})
		}
		out = append(out, m)
	}
	return out
}
