package datasource

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"io"
)

var (
	_ driver.Connector = (*Connector)(nil)
	_ io.Closer        = (*Connector)(nil)
)

// Connector is a driver.Connector whose connections run AT mode: give it
// to sql.OpenDB. Closing the *sql.DB closes it (and the wrapped connector
// if that is an io.Closer).
type Connector struct {
	wrapped     driver.Connector
	res         *Resource
	interpolate bool
	drv         driver.Driver
}

// NewConnector wraps connector (of dialect d's driver) as resource
// cfg's ID: it announces the resource to the resource manager (so phase-2
// commands for its branches reach this process) and starts the undo-log
// cleanup. Most callers use OpenDB or a dialect package's opener.
func NewConnector(connector driver.Connector, d Dialect, opts ...Option) (*Connector, error) {
	if connector == nil || d == nil {
		return nil, invalid("NewConnector needs a connector and a dialect")
	}
	cfg := newConfig(opts)
	if cfg.dialect != nil {
		d = cfg.dialect // WithDialect: the dialect configured for this connector
	}
	res, err := newResource(cfg.resourceID, d, connector, cfg)
	if err != nil {
		return nil, err
	}
	if err := res.announce(); err != nil {
		res.close()
		return nil, err
	}
	if cfg.mode == XA {
		if err := res.xaOpen(connector); err != nil {
			res.close()
			return nil, err
		}
	}
	c := &Connector{wrapped: connector, res: res, interpolate: cfg.interpolate}
	c.drv = &Driver{wrapped: connector.Driver(), dialect: d}
	return c, nil
}

// OpenDB returns a *sql.DB whose statements run in AT mode inside global
// transactions (see the package documentation). The dialect is detected
// from connector.Driver() among the registered dialects (import
// datasource/mysql), or set with WithDialect. A resource ID is needed
// (WithResourceID) unless a dialect package built the connector.
func OpenDB(connector driver.Connector, opts ...Option) (*sql.DB, error) {
	if connector == nil {
		return nil, invalid("OpenDB needs a connector")
	}
	cfg := newConfig(opts)
	d := cfg.dialect
	if d == nil {
		d = dialectFor(connector.Driver())
	}
	if d == nil {
		return nil, invalid("no dialect for driver %T: import its dialect package (datasource/mysql) or pass WithDialect", connector.Driver())
	}
	if cfg.resourceID == "" {
		return nil, invalid("OpenDB needs WithResourceID: the connector's configuration cannot be read (or open with the dialect package's OpenDB)")
	}
	c, err := NewConnector(connector, d, opts...)
	if err != nil {
		return nil, err
	}
	return sql.OpenDB(c), nil
}

// Resource returns the AT resource of the connector.
func (c *Connector) Resource() *Resource { return c.res }

// Connect opens a connection of the wrapped connector and wraps it. The
// first connection creates the undo-log table (WithCreateUndoTable) or
// checks that it exists: a missing table fails the connection, so the
// first use of the database (db.PingContext right after opening shows it
// at once) with an *undo.MissingTableError that names its DDL.
func (c *Connector) Connect(ctx context.Context) (driver.Conn, error) {
	if c.res.cfg.mode == XA {
		return c.connectXA(ctx)
	}
	dc, err := c.wrapped.Connect(ctx)
	if err != nil {
		return nil, err
	}
	if err := c.res.ensureUndoTable(ctx, dc); err != nil {
		dc.Close()
		return nil, err
	}
	return &conn{c: dc, res: c.res, interpolate: c.interpolate}, nil
}

// Driver returns the proxy driver of the wrapped driver.
func (c *Connector) Driver() driver.Driver { return c.drv }

// Close stops the resource's background work and its phase-2 pool, and
// closes the wrapped connector if it can be closed. Idempotent.
func (c *Connector) Close() error {
	err := c.res.close()
	if cl, ok := c.wrapped.(io.Closer); ok {
		if cerr := cl.Close(); err == nil {
			err = cerr
		}
	}
	return err
}
