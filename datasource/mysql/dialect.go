package mysql

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"strings"

	gomysql "github.com/go-sql-driver/mysql"

	"github.com/txcio/txc"
	"github.com/txcio/txc/datasource"
	"github.com/txcio/txc/datasource/undo"
)

// Dialect is the MySQL/MariaDB dialect of the proxy. The zero value is
// ready; it holds no state.
type Dialect struct{}

var _ datasource.Dialect = Dialect{}

func (Dialect) Name() string       { return "mysql" }
func (Dialect) Undo() undo.Dialect { return undo.MySQL }

// Owns reports whether d is go-sql-driver/mysql's driver.
func (Dialect) Owns(d driver.Driver) bool {
	switch d.(type) {
	case *gomysql.MySQLDriver, gomysql.MySQLDriver:
		return true
	}
	return false
}

func quoteIdent(s string) string { return "`" + strings.ReplaceAll(s, "`", "``") + "`" }

// QuoteTable quotes "table" or "schema.table".
func (Dialect) QuoteTable(name string) string {
	if s, t, ok := strings.Cut(name, "."); ok {
		return quoteIdent(s) + "." + quoteIdent(t)
	}
	return quoteIdent(name)
}

func (Dialect) QuoteColumn(name string) string { return quoteIdent(name) }
func (Dialect) Placeholder(int) string         { return "?" }

func (Dialect) Param(v undo.Value, _ string) (string, any, error) { return undo.MySQLParam(v) }

func (Dialect) ScanRow(rows *sql.Rows, cols []*sql.ColumnType) (undo.Row, error) {
	return undo.ScanMySQLRow(rows, cols)
}

func (Dialect) Value(typ string, src any) (undo.Value, error) { return undo.MySQLValue(typ, src) }

// Stale reports the errors of a statement that met a table other than its
// cached metadata: unknown column (1054), unknown table (1146), column
// count mismatch (1136), unknown column in a key (1072).
func (Dialect) Stale(err error) bool {
	var me *gomysql.MySQLError
	if errors.As(err, &me) {
		switch me.Number {
		case 1054, 1146, 1136, 1072:
			return true
		}
	}
	return false
}

// LoadTable reads a table's columns, keys and auto-increment settings
// from information_schema.
func (Dialect) LoadTable(ctx context.Context, q datasource.Querier, schema, table string) (*datasource.Table, error) {
	if strings.ContainsAny(schema+table, ".`") {
		return nil, txc.Errorf(txc.CodeUnsupported, "datasource/mysql: table name %q.%q contains '.' or '`'", schema, table)
	}
	cols, err := q.Query(ctx, "SELECT c.COLUMN_NAME, c.EXTRA, c.TABLE_SCHEMA, DATABASE() FROM information_schema.COLUMNS c "+
		"WHERE c.TABLE_SCHEMA = IF(? = '', DATABASE(), ?) AND c.TABLE_NAME = ? ORDER BY c.ORDINAL_POSITION", schema, schema, table)
	if err != nil {
		return nil, err
	}
	if len(cols) == 0 {
		return nil, txc.Errorf(txc.CodeInvalidArgument, "datasource/mysql: table %s not found", qualified(schema, table))
	}
	t := &datasource.Table{Name: table}
	if s, cur := cols[0][2].Value.Str(), cols[0][3].Value.Str(); s != cur {
		t.Name = s + "." + table
	}
	for _, c := range cols {
		name, extra := c[0].Value.Str(), strings.ToLower(c[1].Value.Str())
		t.AllColumns = append(t.AllColumns, name)
		if strings.Contains(extra, "generated") || strings.Contains(extra, "persistent") || strings.Contains(extra, "virtual") || strings.Contains(extra, "stored") {
			continue
		}
		t.Columns = append(t.Columns, name)
		if strings.Contains(extra, "auto_increment") {
			t.AutoIncrement = name
		}
	}
	keys, err := q.Query(ctx, "SELECT INDEX_NAME, COLUMN_NAME FROM information_schema.STATISTICS "+
		"WHERE TABLE_SCHEMA = IF(? = '', DATABASE(), ?) AND TABLE_NAME = ? AND NON_UNIQUE = 0 ORDER BY INDEX_NAME = 'PRIMARY' DESC, INDEX_NAME, SEQ_IN_INDEX", schema, schema, table)
	if err != nil {
		return nil, err
	}
	var cur string
	for _, k := range keys {
		idx, col := k[0].Value.Str(), k[1].Value.Str()
		switch {
		case idx == "PRIMARY":
			t.PK = append(t.PK, col)
		case idx != cur:
			t.Unique = append(t.Unique, []string{col})
		default:
			t.Unique[len(t.Unique)-1] = append(t.Unique[len(t.Unique)-1], col)
		}
		cur = idx
	}
	if len(t.PK) == 0 {
		return nil, txc.Errorf(txc.CodeUnsupported, "datasource/mysql: table %s has no primary key: AT mode cannot undo its rows exactly", qualified(schema, table))
	}
	vars, err := q.Query(ctx, "SELECT @@SESSION.auto_increment_increment, @@GLOBAL.innodb_autoinc_lock_mode")
	if err != nil {
		return nil, err
	}
	t.AutoIncrementStep = 1
	if len(vars) == 1 {
		if n := asInt(vars[0][0].Value); n > 0 {
			t.AutoIncrementStep = n
		}
		t.AutoIncrementBulkConsecutive = asInt(vars[0][1].Value) != 2
	}
	return t, nil
}

func asInt(v undo.Value) int64 {
	switch v.Kind() {
	case undo.KindInt:
		return v.Int64()
	case undo.KindUint:
		return int64(v.Uint64())
	}
	return 0
}

func qualified(schema, table string) string {
	if schema == "" {
		return table
	}
	return schema + "." + table
}
