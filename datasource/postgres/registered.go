package postgres

import (
	"context"
	"database/sql/driver"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
)

// registeredPrefix starts the names stdlib.RegisterConnConfig hands out
// for sql.Open in place of a DSN.
const registeredPrefix = "registeredConnConfig"

// registeredConnectTimeout bounds the connection registeredConfig opens.
const registeredConnectTimeout = 10 * time.Second

// registeredConfig reads the configuration pgx registered under name
// (stdlib.RegisterConnConfig) by opening one connection with it: pgx
// keeps the configuration private, and the resource ID (host, port,
// database) must be known when the database is opened. So
// sql.Open("txc-postgres", stdlib.RegisterConnConfig(cfg)) connects once,
// and fails when the server cannot be reached; postgres.OpenDB(cfg) opens
// without connecting.
func registeredConfig(name string) (*pgx.ConnConfig, error) {
	c, err := stdlib.GetDefaultDriver().(driver.DriverContext).OpenConnector(name)
	if err != nil {
		return nil, err
	}
	// sql.Open gives the driver no context: the wait is bounded here.
	ctx, cancel := context.WithTimeout(context.Background(), registeredConnectTimeout)
	defer cancel()
	dc, err := c.Connect(ctx)
	if err != nil {
		return nil, fmt.Errorf("connecting once to read the configuration registered as %q: %w", name, err)
	}
	defer dc.Close()
	sc, ok := dc.(*stdlib.Conn)
	if !ok {
		return nil, fmt.Errorf("configuration registered as %q: pgx returned a %T", name, dc)
	}
	return sc.Conn().Config(), nil
}
