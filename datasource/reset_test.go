package datasource

import (
	"database/sql"
	"testing"
)

// keepingDialect is the fake dialect as a SessionKeeper: it vouches for
// no statement, but its connection values survive a session reset.
type keepingDialect struct{ fakeDialect }

func (keepingDialect) KeepsSession(string) bool { return false }

// TestResetSession: when database/sql hands a pooled connection out again
// it calls ResetSession; the proxy then forgets the connection's local
// transaction and (unless the dialect keeps them across resets) its
// values, and forwards the reset to a wrapped connection that has one.
func TestResetSession(t *testing.T) {
	for _, c := range []struct {
		name      string
		full      bool
		dialect   Dialect
		keepsVals bool
	}{
		{"full", true, fakeDialect{}, false},
		{"legacy", false, fakeDialect{}, false},
		{"session keeper", true, keepingDialect{}, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			db := &fakeDB{full: c.full}
			sdb := sql.OpenDB(openFake(t, db, WithDialect(c.dialect)))
			sdb.SetMaxOpenConns(1)
			first := rawConn(t, sdb, func(pc *conn) {
				pc.vals = map[any]any{"k": 1}
				pc.tx = &txState{xid: "fake:3"} // left over, as after a driver-level misuse
			})
			db.take()
			var again *conn
			rawConn(t, sdb, func(pc *conn) {
				again = pc
				if pc.tx != nil {
					t.Errorf("local transaction state survived the reset: %+v", pc.tx)
				}
				if kept := pc.vals["k"] == 1; kept != c.keepsVals {
					t.Errorf("connection values kept: %v, want %v", kept, c.keepsVals)
				}
			})
			if again != first {
				t.Fatal("database/sql did not reuse the pooled connection")
			}
			want := 0
			if c.full {
				want = 1
			}
			if n := db.count("reset"); n != want {
				t.Fatalf("wrapped ResetSession called %d times, want %d", n, want)
			}
		})
	}
}

// rawConn takes a connection of sdb, runs f on the proxy's connection
// under it, returns it to the pool and returns the proxy's connection.
func rawConn(t *testing.T, sdb *sql.DB, f func(pc *conn)) *conn {
	t.Helper()
	sc, err := sdb.Conn(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	defer sc.Close()
	var got *conn
	if err := sc.Raw(func(dc any) error {
		got = dc.(*conn)
		f(got)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return got
}
