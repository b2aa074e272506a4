package mysql

import (
	"database/sql"

	gomysql "github.com/go-sql-driver/mysql"

	"github.com/txcio/txc"
	"github.com/txcio/txc/datasource"
)

// DriverName is the database/sql name of the proxy over
// github.com/go-sql-driver/mysql: sql.Open(DriverName, dsn) takes that
// driver's DSN syntax. Its databases use the resource manager set with
// datasource.SetDefaultManager.
const DriverName = "txc-mysql"

func init() {
	datasource.RegisterDialect(Dialect{})
	sql.Register(DriverName, datasource.NewDriver(&gomysql.MySQLDriver{}, Dialect{}, dsnOptions))
}

func dsnOptions(dsn string) ([]datasource.Option, error) {
	cfg, err := gomysql.ParseDSN(dsn)
	if err != nil {
		return nil, txc.Errorf(txc.CodeInvalidArgument, "datasource/mysql: %v", err)
	}
	return configOptions(cfg), nil
}

// ResourceID returns the resource ID of the database cfg connects to:
// "mysql:" address "/" database. It never contains the user or password.
// It is only as unique as the address: with a loopback or single-label
// host (localhost:3306, db:3306) two deployments sharing one coordinator
// get the same ID for different databases, and one's phase 2 could reach
// the other's; pass datasource.WithResourceID with a globally unique ID
// there.
func ResourceID(cfg *gomysql.Config) string {
	addr := cfg.Addr
	if cfg.Net == "unix" {
		addr = "unix(" + addr + ")"
	}
	return "mysql:" + addr + "/" + cfg.DBName
}

func configOptions(cfg *gomysql.Config) []datasource.Option {
	d := Dialect{rows: rowsChanged}
	if cfg.ClientFoundRows {
		d.rows = rowsFound
	}
	opts := []datasource.Option{datasource.WithResourceID(ResourceID(cfg)), datasource.WithClientInterpolation(cfg.InterpolateParams), datasource.WithDialect(d)}
	if plainName(cfg.DBName) {
		// The undo table is named in the DSN's database in every
		// statement, whatever database a session is in.
		opts = append(opts, datasource.WithUndoSchema(cfg.DBName))
	}
	return opts
}

// plainName reports whether a database name is one undo.NewTableIn takes
// (a plain identifier of at most 48 bytes); another stays unqualified,
// which the session check (checkSession) keeps safe.
func plainName(s string) bool {
	if s == "" || len(s) > 48 || s[0] >= '0' && s[0] <= '9' {
		return false
	}
	for _, c := range []byte(s) {
		if !(c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}

// NewConnector returns the proxy connector of cfg (resource ID from
// ResourceID unless opts set one; later options win).
func NewConnector(cfg *gomysql.Config, opts ...datasource.Option) (*datasource.Connector, error) {
	c, err := gomysql.NewConnector(cfg)
	if err != nil {
		return nil, txc.Errorf(txc.CodeInvalidArgument, "datasource/mysql: %v", err)
	}
	return datasource.NewConnector(c, Dialect{}, append(configOptions(cfg), opts...)...)
}

// OpenDB opens the database of cfg through the proxy (see NewConnector).
func OpenDB(cfg *gomysql.Config, opts ...datasource.Option) (*sql.DB, error) {
	c, err := NewConnector(cfg, opts...)
	if err != nil {
		return nil, err
	}
	return sql.OpenDB(c), nil
}
