package sqlstore

import (
	"bytes"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/txcio/txc"
	"github.com/txcio/txc/tc/store"
)

func openStore(t *testing.T, d Dialect, dsn, prefix string) *Store {
	t.Helper()
	s, err := Open(t.Context(), Options{Dialect: d, DSN: dsn, TablePrefix: prefix})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// snapshot describes the store's tables: which exist, their row counts
// and the recorded version.
func snapshot(t *testing.T, db *sql.DB, p string) string {
	t.Helper()
	tb := newTables(p)
	var out strings.Builder
	for _, name := range []string{tb.schema, tb.global, tb.branch, tb.sequence} {
		var n int
		if err := db.QueryRow("SELECT COUNT(*) FROM " + name).Scan(&n); err != nil {
			fmt.Fprintf(&out, "%s: missing; ", name)
			continue
		}
		fmt.Fprintf(&out, "%s: %d rows; ", name, n)
	}
	var v int
	_ = db.QueryRow("SELECT version FROM " + tb.schema + " WHERE id = 1").Scan(&v)
	fmt.Fprintf(&out, "version %d", v)
	return out.String()
}

func someBatch(x txc.XID) *store.Batch {
	now := time.UnixMilli(1_700_000_000_123)
	return &store.Batch{
		PutGlobals:  []store.Global{{XID: x, Name: "n", Status: txc.GlobalBegin, Begun: now, Deadline: now, Updated: now}},
		PutBranches: []store.Branch{{XID: x, ID: 2, Type: txc.BranchAT, ResourceID: "r", Status: txc.BranchRegistered}},
		NextID:      3,
	}
}

// TestSchemaCreatedOnDemand: a fresh prefix gets the tables and the
// current version; stores opened at once on missing tables all succeed;
// a creation interrupted before the version was recorded is finished by
// the next Open without losing data.
func TestSchemaCreatedOnDemand(t *testing.T) {
	forEachDialect(t, func(t *testing.T, d Dialect, dsn string, db *sql.DB) {
		p := freshPrefix(t, db)
		var wg sync.WaitGroup
		errs := make([]error, 4)
		for i := range errs {
			wg.Go(func() {
				s, err := Open(t.Context(), Options{Dialect: d, DSN: dsn, TablePrefix: p})
				if err == nil {
					s.Close()
				}
				errs[i] = err
			})
		}
		wg.Wait()
		for _, err := range errs {
			if err != nil {
				t.Fatalf("concurrent Open on missing tables: %v", err)
			}
		}
		want := fmt.Sprintf("%sschema: 1 rows; %sglobal: 0 rows; %sbranch: 0 rows; %ssequence: 1 rows; version %d", p, p, p, p, SchemaVersion)
		if got := snapshot(t, db, p); got != want {
			t.Fatalf("after Open:\n got %s\nwant %s", got, want)
		}
		s := openStore(t, d, dsn, p)
		if err := s.Apply(t.Context(), someBatch("c:1")); err != nil {
			t.Fatal(err)
		}
		s.Close()
		if _, err := db.Exec("DELETE FROM " + p + "schema"); err != nil {
			t.Fatal(err)
		}
		s = openStore(t, d, dsn, p)
		st, err := s.Load(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		if len(st.Globals) != 1 || len(st.Branches) != 1 || st.NextID != 3 {
			t.Fatalf("after finishing an interrupted creation Load = %+v", st)
		}
		want = strings.NewReplacer("global: 0", "global: 1", "branch: 0", "branch: 1").Replace(want)
		if got := snapshot(t, db, p); got != want {
			t.Fatalf("after reopening:\n got %s\nwant %s", got, want)
		}
	})
}

// TestUnknownSchemaVersionRefused: a store recording a version this build
// does not know is refused with a typed error naming both versions, and
// nothing in it changes.
func TestUnknownSchemaVersionRefused(t *testing.T) {
	forEachDialect(t, func(t *testing.T, d Dialect, dsn string, db *sql.DB) {
		p := freshPrefix(t, db)
		s := openStore(t, d, dsn, p)
		if err := s.Apply(t.Context(), someBatch("v:1")); err != nil {
			t.Fatal(err)
		}
		s.Close()
		for _, v := range []int{SchemaVersion + 1, 99, -1} {
			if _, err := db.Exec(fmt.Sprintf("UPDATE %sschema SET version = %d WHERE id = 1", p, v)); err != nil {
				t.Fatal(err)
			}
			before := snapshot(t, db, p)
			_, err := Open(t.Context(), Options{Dialect: d, DSN: dsn, TablePrefix: p})
			var ve *SchemaVersionError
			if !errors.As(err, &ve) || !errors.Is(err, ErrSchemaVersion) {
				t.Fatalf("Open of a version %d store = %v, want a *SchemaVersionError", v, err)
			}
			if ve.Found != v || ve.Known != SchemaVersion || ve.Table != p+"schema" {
				t.Fatalf("error = %+v", ve)
			}
			msg := err.Error()
			if !strings.Contains(msg, fmt.Sprint(v)) || !strings.Contains(msg, fmt.Sprint(SchemaVersion)) || !strings.HasPrefix(msg, "sqlstore: ") {
				t.Fatalf("message %q does not name both versions", msg)
			}
			if after := snapshot(t, db, p); after != before {
				t.Fatalf("the refused Open changed the store:\nbefore %s\nafter  %s", before, after)
			}
		}
	})
}

// TestBadTablePrefix: a prefix that is not a plain lower-case identifier
// is refused before connecting.
func TestBadTablePrefix(t *testing.T) {
	for _, p := range []string{"Txc_", "1x", "x;drop", "x-y", strings.Repeat("p", 41)} {
		_, err := Open(t.Context(), Options{Dialect: Postgres, DSN: "postgres://nowhere.invalid/db", TablePrefix: p})
		if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), "prefix") {
			t.Errorf("prefix %q: err = %v, want ErrInvalid naming the prefix", p, err)
		}
	}
}

// TestWarnsWhenNotDurable: a session whose commits are not durable is
// reported at Open; this machine's defaults are not.
func TestWarnsWhenNotDurable(t *testing.T) {
	forEachDialect(t, func(t *testing.T, d Dialect, dsn string, db *sql.DB) {
		var logs bytes.Buffer
		log := slog.New(slog.NewTextHandler(&logs, nil))
		s, err := Open(t.Context(), Options{Dialect: d, DSN: dsn, TablePrefix: freshPrefix(t, db), Logger: log})
		if err != nil {
			t.Fatal(err)
		}
		s.Close()
		if strings.Contains(logs.String(), "WARN") {
			t.Fatalf("warned with the defaults: %s", logs.String())
		}
		if d != Postgres {
			return // MySQL's settings are global: the test cannot change them
		}
		logs.Reset()
		s, err = Open(t.Context(), Options{Dialect: d, DSN: dsn + "&synchronous_commit=off", TablePrefix: freshPrefix(t, db), Logger: log})
		if err != nil {
			t.Fatal(err)
		}
		s.Close()
		if !strings.Contains(logs.String(), "level=WARN") || !strings.Contains(logs.String(), "synchronous_commit=off") {
			t.Fatalf("no warning with synchronous_commit=off: %s", logs.String())
		}
	})
}
