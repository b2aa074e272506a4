package postgres

import (
	"database/sql"
	"net"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"

	"github.com/txcio/txc"
	"github.com/txcio/txc/datasource"
)

// DriverName is the database/sql name of the proxy over
// github.com/jackc/pgx/v5/stdlib: sql.Open(DriverName, dsn) takes pgx's
// DSN and URL syntax. Its databases use the resource manager set with
// datasource.SetDefaultManager.
const DriverName = "txc-postgres"

func init() {
	datasource.RegisterDialect(Dialect{})
	sql.Register(DriverName, datasource.NewDriver(stdlib.GetDefaultDriver(), Dialect{}, dsnOptions))
}

func dsnOptions(dsn string) ([]datasource.Option, error) {
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil && strings.HasPrefix(dsn, registeredPrefix) {
		cfg, err = registeredConfig(dsn)
	}
	if err != nil {
		return nil, txc.Errorf(txc.CodeInvalidArgument, "datasource/postgres: %v", err)
	}
	return configOptions(cfg), nil
}

// ResourceID returns the resource ID of the database cfg connects to:
// "postgres:" host ":" port "/" database (a Unix socket directory as
// "unix(dir)"). It never contains the user or the password.
func ResourceID(cfg *pgx.ConnConfig) string {
	host := cfg.Host
	if strings.HasPrefix(host, "/") {
		host = "unix(" + host + ")"
	}
	return "postgres:" + net.JoinHostPort(host, strconv.Itoa(int(cfg.Port))) + "/" + cfg.Database
}

// UndoSchema is the schema of the undo-log table unless
// datasource.WithUndoSchema names another: the table is always named
// qualified, so that phase 1 (on the application's connections, whatever
// their search_path) and phase 2 (on fresh ones) use the same table.
const UndoSchema = "public"

// configOptions: pgx runs statements with arguments itself (no
// driver.ErrSkip), so the proxy may hand them over unprepared; the undo
// table is qualified (UndoSchema).
func configOptions(cfg *pgx.ConnConfig) []datasource.Option {
	return []datasource.Option{datasource.WithResourceID(ResourceID(cfg)), datasource.WithClientInterpolation(true), datasource.WithUndoSchema(UndoSchema)}
}

// NewConnector returns the proxy connector of cfg (resource ID from
// ResourceID unless opts set one; later options win).
func NewConnector(cfg *pgx.ConnConfig, opts ...datasource.Option) (*datasource.Connector, error) {
	if cfg == nil {
		return nil, txc.Errorf(txc.CodeInvalidArgument, "datasource/postgres: NewConnector needs a pgx.ConnConfig")
	}
	return datasource.NewConnector(stdlib.GetConnector(*cfg), Dialect{}, append(configOptions(cfg), opts...)...)
}

// OpenDB opens the database of cfg through the proxy (see NewConnector).
// A pgx stdlib connector (stdlib.GetConnector) may also be given to
// datasource.OpenDB, with datasource.WithResourceID (ResourceID of its
// config), datasource.WithClientInterpolation(true) and
// datasource.WithUndoSchema(UndoSchema).
func OpenDB(cfg *pgx.ConnConfig, opts ...datasource.Option) (*sql.DB, error) {
	c, err := NewConnector(cfg, opts...)
	if err != nil {
		return nil, err
	}
	return sql.OpenDB(c), nil
}
