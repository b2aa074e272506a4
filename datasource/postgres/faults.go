package postgres

import (
	"errors"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/txcio/txc/datasource"
)

var (
	_ datasource.KeyExchange = Dialect{}
	_ datasource.SQLStater   = Dialect{}
)

// DeferKeys defers the rollback's deferrable checks to its commit: a
// statement can only have exchanged unique values between rows under a
// DEFERRABLE constraint (a constraint that is not deferrable is checked
// at every row), and deferred, writing them back row by row cannot meet
// it half-way.
func (Dialect) DeferKeys() string { return "SET CONSTRAINTS ALL DEFERRED" }

// DuplicateKey is false: deleting and re-inserting rows would fire
// cascading foreign keys, which PostgreSQL cannot turn off for a session
// without superuser rights.
func (Dialect) DuplicateKey(error) bool { return false }

// SQLState is the SQLSTATE of a server error, or "".
func (Dialect) SQLState(err error) string {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return pe.Code
	}
	return ""
}
