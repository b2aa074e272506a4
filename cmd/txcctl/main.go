// Command txcctl operates a txc coordinator through its admin HTTP API:
//
//	txcctl status
//	txcctl tx list [--status S[,S…]] [--name N] [--resource R] [--older-than 5m] [--manual] [--limit N] [--offset N]
//	txcctl tx show XID
//	txcctl tx retry XID [--comment TEXT]
//	txcctl tx resolve XID --comment TEXT
//	txcctl locks [--resource R] [--table T] [--holder XID] [--limit N]
//	txcctl rms
//	txcctl undo show XID BRANCH (--mysql-dsn DSN | --postgres-dsn DSN) [--undo-table T] [--undo-schema S]
//
// The coordinator's admin address comes from --admin, else TXC_ADMIN, else
// http://127.0.0.1:7091. Output is human tables; -o json prints the API's
// JSON. undo show reads an AT undo-log row from the database directly (it
// never prints the DSN's password).
//
// A coordinator that requires a credential gets a bearer token from
// TXC_TOKEN (or --token, which other users may see in ps) or a client
// certificate (--cert, --key; env TXC_TLS_CERT, TXC_TLS_KEY); --ca (env
// TXC_TLS_CA) names the CA of its https certificate. A token is sent only
// over https, or over http to a loopback address.
//
// Exit codes, for scripts:
//
//	0  done
//	1  failed (an unexpected answer, a database error)
//	2  usage: bad command, flag or argument, or input the coordinator refused
//	3  not found: no such transaction or undo-log row
//	4  conflict: the transaction is not in a state for this action
//	5  unavailable: the coordinator or database cannot be reached, or is not ready
//	6  denied: no credential, or the credential's identity may not do this
package main

import (
	"fmt"
	"io"
	"os"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr, os.Getenv))
}

// run executes txcctl with args and returns its exit code.
func run(args []string, stdout, stderr io.Writer, getenv func(string) string) int {
	cmd := newRoot(getenv)
	cmd.SetArgs(args)
	cmd.SetOut(stdout)
	cmd.SetErr(stderr)
	err := cmd.Execute()
	if err == nil {
		return exitOK
	}
	fmt.Fprintln(stderr, "txcctl:", err)
	return exitCode(err)
}
