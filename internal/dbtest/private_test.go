package dbtest_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/txcio/txc/internal/dbtest"
)

// A MariaDB server that starts deletes every #sql* file in its tmpdir:
// the live temporary tables of any other server sharing that directory
// (MariaDB crashes when one vanishes between its creation and its
// opening). A private server keeps a tmpdir of its own, so starting one
// leaves the files of the others alone.
func TestPrivateMariaDBKeepsOthersTemporaryFiles(t *testing.T) {
	first := dbtest.Open(t, "mysql", dbtest.PrivateMariaDB(t))
	var tmpdir string
	if err := first.QueryRow("SELECT @@tmpdir").Scan(&tmpdir); err != nil {
		t.Fatal(err)
	}
	if filepath.Clean(tmpdir) == filepath.Clean(os.TempDir()) {
		t.Errorf("the private server's tmpdir is the shared %s", tmpdir)
	}
	// A stand-in for a temporary table of the first server.
	canary := filepath.Join(tmpdir, "#sql-"+dbtest.Name("canary")+".MAI")
	if err := os.WriteFile(canary, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	defer os.Remove(canary)

	dbtest.Open(t, "mysql", dbtest.PrivateMariaDB(t))
	if _, err := os.Stat(canary); err != nil {
		t.Errorf("starting a second private server removed a file of the first one's tmpdir: %v", err)
	}
}

// A private PostgreSQL runs with the settings it was given: here the one
// the shared server has at 0, which XA mode needs.
func TestPrivatePostgresSettings(t *testing.T) {
	db := dbtest.Open(t, "pgx", dbtest.PrivatePostgres(t, "max_prepared_transactions=5"))
	var n string
	if err := db.QueryRow("SHOW max_prepared_transactions").Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != "5" {
		t.Fatalf("max_prepared_transactions = %s, want 5", n)
	}
}
