package dbtest

import (
	"database/sql"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
)

// pgBin is where Debian installs the PostgreSQL 15 server programs.
const pgBin = "/usr/lib/postgresql/15/bin"

// PrivatePostgres starts a PostgreSQL server of the test's own, with
// extra settings ("max_prepared_transactions=10": settings fixed at start
// that the shared server must keep), in a temporary directory on a free
// loopback port, and returns the DSN of its empty database test (user
// postgres, trust). Run as root, the server runs as the OS user postgres
// (initdb and postgres refuse root). The server stops when the test ends.
// Without the programs the test fails when CI=true and skips otherwise.
func PrivatePostgres(t testing.TB, settings ...string) string {
	t.Helper()
	SkipShort(t, "private PostgreSQL server")
	return privatePostgres(t, pgBin, settings)
}

// privatePostgres is PrivatePostgres with the server programs of bin.
func privatePostgres(t testing.TB, bin string, settings []string) string {
	t.Helper()
	initdb, server := filepath.Join(bin, "initdb"), filepath.Join(bin, "postgres")
	for _, p := range []string{initdb, server} {
		if _, err := os.Stat(p); err != nil {
			unreachable(t, fmt.Sprintf("dbtest: a private PostgreSQL needs %s: %v", p, err))
		}
	}
	dir, err := os.MkdirTemp("", "txc-pg-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	cred := pgCredential(t, dir)
	data := filepath.Join(dir, "data")
	init := exec.Command(initdb, "-D", data, "-A", "trust", "-U", "postgres", "--no-sync", "-E", "UTF8", "--locale=C")
	init.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
	if out, err := init.CombinedOutput(); err != nil {
		t.Fatalf("dbtest: initdb: %v\n%s", err, out)
	}
	port := freePort(t)
	args := []string{"-D", data, "-p", strconv.Itoa(port), "-k", dir, "-c", "listen_addresses=127.0.0.1", "-c", "fsync=off"}
	for _, s := range settings {
		args = append(args, "-c", s)
	}
	cmd := exec.Command(server, args...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
	logf, err := os.Create(filepath.Join(dir, "server.log"))
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		t.Fatalf("dbtest: %s: %v", server, err)
	}
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGQUIT) // immediate shutdown, children included
		cmd.Wait()
		logf.Close()
	})
	base := fmt.Sprintf("postgres://postgres@127.0.0.1:%d/", port)
	db, err := sql.Open("pgx", base+"postgres?sslmode=disable")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	execWhenUp(t, db, "CREATE DATABASE test", dir, "PostgreSQL")
	return base + "test?sslmode=disable"
}

// pgCredential returns the OS user the server runs as: the postgres user
// (owning dir) when the test runs as root, else the test's own (nil).
func pgCredential(t testing.TB, dir string) *syscall.Credential {
	t.Helper()
	if os.Geteuid() != 0 {
		return nil
	}
	u, err := user.Lookup("postgres")
	if err != nil {
		unreachable(t, "dbtest: a private PostgreSQL run as root needs the OS user postgres: "+err.Error())
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	if err := os.Chown(dir, uid, gid); err != nil {
		t.Fatal(err)
	}
	return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
}
