package dbtest

import (
	"context"
	"database/sql"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"testing"
	"time"
)

// PrivateMariaDB starts a MariaDB server of the test's own, with extra
// server options (settings fixed at start, such as
// --lower-case-table-names=1, that the shared server cannot change), in a
// temporary directory (also its tmpdir) on a free loopback port, and
// returns the DSN of its empty database test (root, no password). The
// server stops when the test ends. It needs this machine's
// mariadb-install-db and mariadbd (installed with the shared server by
// scripts/databases.sh); without them the test fails when CI=true and
// skips otherwise.
func PrivateMariaDB(t testing.TB, options ...string) string {
	t.Helper()
	return PrivateMariaDBEnv(t, nil, options...)
}

// PrivateMariaDBEnv is PrivateMariaDB with extra environment variables
// for the server process (TZ=America/New_York makes its SYSTEM time zone
// one with daylight saving time).
func PrivateMariaDBEnv(t testing.TB, env []string, options ...string) string {
	t.Helper()
	SkipShort(t, "private MariaDB server")
	install, err1 := exec.LookPath("mariadb-install-db")
	server, err2 := lookSbin("mariadbd")
	if err1 != nil || err2 != nil {
		unreachable(t, fmt.Sprintf("dbtest: a private MariaDB needs mariadb-install-db and mariadbd: %v %v", err1, err2))
	}
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	// Its own tmpdir: a MariaDB server that starts (mariadb-install-db's
	// bootstrap too) deletes every #sql* file in its tmpdir. In the shared
	// default (/tmp) those are the live temporary tables of every other
	// server, the shared one included, and MariaDB 10.11 crashes (signal
	// 11) when one vanishes between its creation and its opening.
	tmp := filepath.Join(dir, "tmp")
	if err := os.Mkdir(tmp, 0o700); err != nil {
		t.Fatal(err)
	}
	var as []string
	if os.Geteuid() == 0 {
		// mariadbd refuses to run as root unless told to.
		u, err := user.Current()
		if err != nil {
			t.Fatal(err)
		}
		as = []string{"--user=" + u.Username}
	}
	args := append([]string{"--no-defaults", "--datadir=" + data, "--tmpdir=" + tmp, "--auth-root-authentication-method=normal", "--skip-test-db"}, as...)
	args = append(args, options...)
	if out, err := exec.Command(install, args...).CombinedOutput(); err != nil {
		t.Fatalf("dbtest: mariadb-install-db: %v\n%s", err, out)
	}
	port := freePort(t)
	args = append([]string{"--no-defaults", "--datadir=" + data, "--tmpdir=" + tmp, fmt.Sprintf("--port=%d", port), "--bind-address=127.0.0.1",
		"--socket=" + filepath.Join(dir, "sock"), "--skip-log-bin", "--innodb-buffer-pool-size=16M"}, as...)
	args = append(args, options...)
	cmd := exec.Command(server, args...)
	cmd.Env = append(os.Environ(), env...)
	logf, err := os.Create(filepath.Join(dir, "server.log"))
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		t.Fatalf("dbtest: %s: %v", server, err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
		logf.Close()
	})
	root := fmt.Sprintf("root@tcp(127.0.0.1:%d)/", port)
	db, err := sql.Open("mysql", root)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	execWhenUp(t, db, "CREATE DATABASE IF NOT EXISTS test", dir, "MariaDB")
	return root + "test"
}

// execWhenUp runs stmt on db as soon as the private server (of kind what,
// logging to dir/server.log) answers, failing the test with its log if it
// does not within 30 s.
func execWhenUp(t testing.TB, db *sql.DB, stmt, dir, what string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		_, err := db.ExecContext(ctx, stmt)
		cancel()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			log, _ := os.ReadFile(filepath.Join(dir, "server.log"))
			t.Fatalf("dbtest: the private %s did not start: %v\n%s", what, err, log)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// lookSbin finds a server binary on PATH or in /usr/sbin (not on every
// user's PATH).
func lookSbin(name string) (string, error) {
	if p, err := exec.LookPath(name); err == nil {
		return p, nil
	}
	return exec.LookPath(filepath.Join("/usr/sbin", name))
}

// freePort returns a loopback TCP port that was free a moment ago.
func freePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}
