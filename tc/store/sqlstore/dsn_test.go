package sqlstore

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"github.com/txcio/txc/internal/dbtest"
)

const testPassword = "s3cr3t-Pw9"

// TestPasswordNeverShown: whatever goes wrong (a malformed DSN, an
// unreachable or refusing server), errors name neither the password nor
// the DSN; a store that opens logs no password; Redact hides it.
func TestPasswordNeverShown(t *testing.T) {
	dbtest.MySQL(t)
	dbtest.Postgres(t)
	cases := []struct {
		name string
		d    Dialect
		dsn  string
	}{
		{"mysql malformed", MySQL, "root:" + testPassword + "@tcp(127.0.0.1:3306/test"},
		{"mysql bad param", MySQL, "root:" + testPassword + "@tcp(127.0.0.1:3306)/test?parseTime=" + testPassword},
		{"mysql unreachable", MySQL, "root:" + testPassword + "@tcp(127.0.0.1:1)/test?timeout=2s"},
		{"mysql wrong password", MySQL, "root:" + testPassword + "@tcp(127.0.0.1:3306)/test"},
		{"postgres malformed url", Postgres, "postgres://postgres:" + testPassword + "@127.0.0.1:notaport/test"},
		{"postgres malformed keywords", Postgres, "host=127.0.0.1 password=" + testPassword + " port=x"},
		{"postgres unreachable", Postgres, "postgres://postgres:" + testPassword + "@127.0.0.1:1/test?connect_timeout=2"},
		{"postgres unknown database", Postgres, "postgres://postgres:" + testPassword + "@127.0.0.1:5432/no_such_db_" + testPassword[:3] + "?sslmode=disable"},
	}
	for _, c := range cases {
		var logs bytes.Buffer
		_, err := Open(t.Context(), Options{Dialect: c.d, DSN: c.dsn, Logger: slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))})
		if err == nil {
			t.Errorf("%s: Open succeeded", c.name)
			continue
		}
		if msg := err.Error() + logs.String(); strings.Contains(msg, testPassword) {
			t.Errorf("%s: the password shows: %s", c.name, msg)
		}
		t.Logf("%s: %v", c.name, err)
	}
	// PostgreSQL here trusts loopback, so a password is accepted: the store
	// opens, and neither its log nor its errors show it.
	var logs bytes.Buffer
	dsn := "postgres://postgres:" + testPassword + "@127.0.0.1:5432/test?sslmode=disable"
	db := dbtest.Postgres(t)
	s, err := Open(t.Context(), Options{Dialect: Postgres, DSN: dsn, TablePrefix: freshPrefix(t, db),
		Logger: slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))})
	if err != nil {
		t.Fatalf("Open with a password: %v", err)
	}
	s.Close()
	if strings.Contains(logs.String(), testPassword) || !strings.Contains(logs.String(), "schema created") {
		t.Fatalf("log: %s", logs.String())
	}
}

// TestScrub: a driver error that quotes the password is shown without it
// and still unwraps to the original.
func TestScrub(t *testing.T) {
	s := &Store{secret: testPassword}
	orig := fmt.Errorf("driver: login %q refused", testPassword)
	err := s.scrub(fmt.Errorf("%s: open: %w", pkg, orig))
	if strings.Contains(err.Error(), testPassword) || !strings.Contains(err.Error(), redacted) || !errors.Is(err, orig) {
		t.Fatalf("scrubbed = %v", err)
	}
}

func TestRedact(t *testing.T) {
	cases := []struct {
		d         Dialect
		dsn, want string
	}{
		{MySQL, "root:" + testPassword + "@tcp(db:3306)/txc", "root:xxxxx@tcp(db:3306)/txc"},
		{MySQL, "root@tcp(db:3306)/txc", "root@tcp(db:3306)/txc"},
		{Postgres, "postgres://u:" + testPassword + "@db:5432/txc?sslmode=disable", "postgres://u:xxxxx@db:5432/txc?sslmode=disable"},
		{Postgres, "host=db user=u password='" + testPassword + "' dbname=txc", "host=db user=u password=xxxxx dbname=txc"},
		{Postgres, "host=db user=u password=" + testPassword + " dbname=txc", "host=db user=u password=xxxxx dbname=txc"},
		{MySQL, "root:" + testPassword + "@tcp(db", "(malformed DSN, not shown)"},
	}
	for _, c := range cases {
		if got := Redact(c.d, c.dsn); got != c.want {
			t.Errorf("Redact(%v, …) = %q, want %q", c.d, got, c.want)
		}
	}
}
