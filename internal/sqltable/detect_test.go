package sqltable_test

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"testing"

	"github.com/txcio/txc/internal/sqltable"
)

func TestDetectRealDrivers(t *testing.T) {
	forEachDB(t, func(t *testing.T, d testDB) {
		got, name := sqltable.Detect(d.db)
		if got != d.dialect || name == "" {
			t.Fatalf("Detect = %v, %q; want %v", got, name, d.dialect)
		}
	})
}

// otherDriver is a driver of no known package: a wrapping driver looks
// like this to Detect.
type otherDriver struct{}

func (otherDriver) Open(string) (driver.Conn, error) { return nil, errors.New("no database") }

type otherConnector struct{}

func (otherConnector) Connect(context.Context) (driver.Conn, error) {
	return nil, errors.New("no database")
}
func (otherConnector) Driver() driver.Driver { return otherDriver{} }

func TestDetectUnknownDriver(t *testing.T) {
	db := sql.OpenDB(otherConnector{})
	defer db.Close()
	got, name := sqltable.Detect(db)
	if got != 0 || name != "github.com/txcio/txc/internal/sqltable_test.otherDriver" {
		t.Fatalf("Detect = %v, %q; want 0 and the driver's type", got, name)
	}
}
