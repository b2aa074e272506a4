package datasource

import (
	"context"
	"database/sql"

	"github.com/txcio/txc"
)

// Raw runs f with the wrapped driver's own connection under c: what
// sql.Conn.Raw gives through the plain driver (pgx's *stdlib.Conn, for
// CopyFrom, LISTEN/NOTIFY or the backend PID; go-sql-driver's
// connection). sql.Conn.Raw itself hands f the proxy's connection. On a
// connection of another driver, f gets what sql.Conn.Raw gives.
//
// What f does through the wrapped connection is not seen by the proxy:
// no image, no undo log, no global lock. So Raw refuses, without calling
// f, with an error matching txc.ErrUnsupported, when ctx carries a global
// transaction (an XID) or a global lock, or when c's open local
// transaction was begun in one. After f the proxy forgets what it had
// checked of the connection's session (f may change it).
func Raw(ctx context.Context, c *sql.Conn, f func(driverConn any) error) error {
	return c.Raw(func(dc any) error {
		pc, ok := dc.(*conn)
		if !ok {
			return f(dc)
		}
		m, err := pc.mode(ctx)
		if err != nil {
			return err
		}
		if m.on() {
			return txc.Errorf(txc.CodeUnsupported, "datasource: Raw inside a global transaction or global lock: writes through the wrapped connection would have no undo images")
		}
		pc.vals = nil
		return f(pc.c)
	})
}
