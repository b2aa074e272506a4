package datasource

import (
	"context"
	"database/sql/driver"
	"sync"
)

var (
	_ driver.Driver        = (*Driver)(nil)
	_ driver.DriverContext = (*Driver)(nil)
)

// Driver is the proxy of a wrapped database/sql driver, for sql.Register.
// Dialect packages register theirs ("txc-mysql"); the DSN is the wrapped
// driver's.
type Driver struct {
	wrapped driver.Driver
	dialect Dialect
	// options derives the resource ID (and other options) from a DSN.
	options func(dsn string) ([]Option, error)

	mu    sync.Mutex
	byDSN map[string]*Connector // for the context-free Open
}

// NewDriver returns the proxy of wrapped for dialect d; options turns a
// DSN into the options of its connector (at least WithResourceID).
func NewDriver(wrapped driver.Driver, d Dialect, options func(dsn string) ([]Option, error)) *Driver {
	return &Driver{wrapped: wrapped, dialect: d, options: options}
}

// OpenConnector returns a Connector for dsn (database/sql calls it once
// per sql.Open). A DSNModeParam in dsn picks the mode and is removed
// before the wrapped driver reads dsn.
func (d *Driver) OpenConnector(dsn string) (driver.Connector, error) {
	if d.options == nil {
		return nil, invalid("driver of %s cannot open a DSN", d.dialect.Name())
	}
	dsn, mode, err := dsnMode(dsn)
	if err != nil {
		return nil, err
	}
	opts, err := d.options(dsn)
	if err != nil {
		return nil, err
	}
	opts = append(opts, WithMode(mode))
	var wc driver.Connector
	if dc, ok := d.wrapped.(driver.DriverContext); ok {
		wc, err = dc.OpenConnector(dsn)
		if err != nil {
			return nil, err
		}
	} else {
		wc = dsnConnector{d.wrapped, dsn}
	}
	return NewConnector(wc, d.dialect, opts...)
}

// Open opens one connection for dsn. database/sql uses OpenConnector; this
// keeps one Connector per DSN for callers of the old interface.
func (d *Driver) Open(dsn string) (driver.Conn, error) {
	d.mu.Lock()
	c, ok := d.byDSN[dsn]
	if !ok {
		cc, err := d.OpenConnector(dsn)
		if err != nil {
			d.mu.Unlock()
			return nil, err
		}
		c = cc.(*Connector)
		if d.byDSN == nil {
			d.byDSN = map[string]*Connector{}
		}
		d.byDSN[dsn] = c
	}
	d.mu.Unlock()
	return c.Connect(context.Background()) // driver.Driver.Open has no context
}

// dsnConnector adapts a driver without DriverContext.
type dsnConnector struct {
	d   driver.Driver
	dsn string
}

func (c dsnConnector) Connect(context.Context) (driver.Conn, error) { return c.d.Open(c.dsn) }
func (c dsnConnector) Driver() driver.Driver                        { return c.d }
