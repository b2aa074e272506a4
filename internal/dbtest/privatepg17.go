package dbtest

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// PrivatePostgres17 is PrivatePostgres on a server of version 17 or
// later (what PostgreSQL 15, the machine's shared server, lacks: MERGE …
// RETURNING). This machine's Debian has no such package, so the server
// is built from a Debian source package by scripts/postgres17.sh (which
// make databases runs) into a prefix kept between runs
// ($TXC_PG17_PREFIX, default /var/cache/txc/postgresql-17); when the
// prefix is missing the first test to need it runs the script, which
// takes minutes. Without it the test fails when CI=true and skips
// otherwise.
func PrivatePostgres17(t testing.TB, settings ...string) string {
	t.Helper()
	SkipShort(t, "private PostgreSQL 17 server")
	bin, err := postgres17()
	if err != nil {
		unreachable(t, "dbtest: a private PostgreSQL 17 needs the build of scripts/postgres17.sh: "+err.Error())
	}
	return privatePostgres(t, bin, settings)
}

var pg17 struct {
	once sync.Once
	bin  string
	err  error
}

// postgres17 returns the bin directory of the PostgreSQL 17 build,
// running scripts/postgres17.sh (once per process) to make it.
func postgres17() (string, error) {
	pg17.once.Do(func() {
		script, err := repoFile("scripts/postgres17.sh")
		if err != nil {
			pg17.err = err
			return
		}
		out, err := exec.Command(script).Output()
		if err != nil {
			pg17.err = err
			if ee, ok := err.(*exec.ExitError); ok {
				pg17.err = &scriptError{err: err, stderr: string(ee.Stderr)}
			}
			return
		}
		pg17.bin = filepath.Join(strings.TrimSpace(string(out)), "bin")
	})
	return pg17.bin, pg17.err
}

type scriptError struct {
	err    error
	stderr string
}

func (e *scriptError) Error() string { return e.err.Error() + ": " + strings.TrimSpace(e.stderr) }

// repoFile finds path, relative to the module's root, from the test's
// working directory (its package's directory) upwards.
func repoFile(path string) (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return filepath.Join(dir, path), nil
		}
		up := filepath.Dir(dir)
		if up == dir {
			return "", os.ErrNotExist
		}
		dir = up
	}
}
