package mysql

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"slices"
	"strings"
	"time"

	gomysql "github.com/go-sql-driver/mysql"

	"github.com/txcio/txc"
	"github.com/txcio/txc/datasource"
	"github.com/txcio/txc/datasource/undo"
)

// Dialect is the MySQL/MariaDB dialect of the proxy. The zero value is
// ready; it holds no per-connection state, only how the connections of
// one DSN report affected rows (the openers of this package set it).
type Dialect struct{ rows rowsMode }

// rowsMode is what RowsAffected counts for an UPDATE: changed rows (the
// default) or matched rows (the DSN's clientFoundRows=true).
type rowsMode uint8

const (
	rowsUnknown rowsMode = iota // a connector this package did not configure
	rowsChanged
	rowsFound
)

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

// RollbackSession sets the rollback connection's character sets to
// utf8mb4 (images were read in it, see verifiedSession.lossless: the
// DSN's may lack characters a row holds, which would then compare and
// restore as '?'; the connection serves phase 2 only, so it stays so)
// and turns foreign-key checks off for the rollback transaction (see
// datasource.RollbackSession). Turning them off is safe because the
// rollback writes back exactly the rows the branch changed, each locked
// and compared with its after image first, to their state before the
// branch: the branch's writes were themselves checked, and the rows their
// foreign keys' referential actions wrote were imaged and are written
// back too (datasource.ImageCascades), so the restored rows are the
// consistent state they were in. With checks on, a valid restore could
// fail on order alone (a multi-table DELETE re-inserted child first, rows
// of a self-referencing table re-inserted in image order) and a restoring
// DELETE could cascade.
//
// It also sets the sql_mode to rollbackSQLMode for the rollback and back
// to the connection's own after it.
func (Dialect) RollbackSession() (setup, restore []string) {
	return []string{"SET NAMES utf8mb4", "SET SESSION foreign_key_checks = 0", "SET @txc_sql_mode = @@session.sql_mode", "SET SESSION sql_mode = '" + rollbackSQLMode + "'"},
		[]string{"SET SESSION foreign_key_checks = 1", "SET SESSION sql_mode = @txc_sql_mode"}
}

// rollbackSQLMode is the sql_mode a rollback writes images back under,
// whatever the DSN's: one that stores each value as given. Under the
// DSN's, a deleted row with key 0 in an AUTO_INCREMENT column came back
// with a generated key (NO_AUTO_VALUE_ON_ZERO keeps 0); a strict mode
// refused every restoring write of a row holding what a laxer mode had
// stored (an ENUM's invalid empty string, a DATE of ALLOW_INVALID_DATES,
// a zero date under NO_ZERO_DATE), so the rollback was retried for ever;
// EMPTY_STRING_IS_NULL wrote an empty string back as NULL, and
// PAD_CHAR_TO_FULL_LENGTH read CHAR values back padded. Not being strict
// cannot store a value otherwise unseen: the rollback reads every row it
// wrote back and compares it with the image before it commits.
const rollbackSQLMode = "NO_AUTO_VALUE_ON_ZERO,ALLOW_INVALID_DATES,NO_ENGINE_SUBSTITUTION"

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

// TxAborted reports the errors after which InnoDB has rolled back the
// whole transaction, not the statement alone (see datasource.TxAborter):
// a deadlock (1213), and a lock wait timeout (1205), which does so under
// innodb_rollback_on_timeout and is taken so whatever that says: a
// global transaction that timed out on a row lock starts again.
func (Dialect) TxAborted(err error) bool {
	var me *gomysql.MySQLError
	return errors.As(err, &me) && (me.Number == 1213 || me.Number == 1205)
}

var _ datasource.TxAborter = Dialect{}

// MetadataMaxAge is how long cached table metadata is used before it is
// read again (see datasource.MetadataAger): an image query shows a
// changed column at once (see tableRows), but a trigger or a cascading
// foreign key created since the metadata was read shows nowhere else.
func (Dialect) MetadataMaxAge() time.Duration { return 10 * time.Second }

// LoadTable reads a table's columns, keys, storage engine, triggers, the
// foreign keys that reference it and the auto-increment settings from
// information_schema, one step per catalog query. The hazards it finds
// go in Table.Hazards (the datasource policy refuses them); the extra
// metadata the MySQL executors need (column types, invisible columns,
// the shape of an image query) is kept beside the Table (see meta).
func (Dialect) LoadTable(ctx context.Context, q datasource.Querier, schema, table string) (*datasource.Table, error) {
	if strings.ContainsAny(schema+table, ".`") {
		return nil, txc.Errorf(txc.CodeUnsupported, "datasource/mysql: table name %q.%q contains '.' or '`'", schema, table)
	}
	t, in, err := loadColumns(ctx, q, schema, table)
	if err != nil {
		return nil, err
	}
	t.Dialect = in
	for _, step := range []func(context.Context, datasource.Querier, *datasource.Table, *tableMeta) error{
		loadKeys, loadEngine,
	} {
		if err := step(ctx, q, t, in); err != nil {
			return nil, err
		}
	}
	if datasource.RefuseTable(t) != nil {
		return t, nil // refused whatever the rest says
	}
	for _, step := range []func(context.Context, datasource.Querier, *datasource.Table, *tableMeta) error{
		loadTriggers, loadReferences, loadAutoIncrement, loadShape,
	} {
		if err := step(ctx, q, t, in); err != nil {
			return nil, err
		}
	}
	return t, nil
}

// loadColumns reads the table's columns (information_schema.COLUMNS) and
// the names the server stores it under.
func loadColumns(ctx context.Context, q datasource.Querier, schema, table string) (*datasource.Table, *tableMeta, error) {
	cols, err := q.Query(ctx, "SELECT c.COLUMN_NAME, c.EXTRA, c.TABLE_SCHEMA, DATABASE(), c.TABLE_NAME, c.DATA_TYPE, c.COLUMN_TYPE, c.IS_NULLABLE, c.CHARACTER_SET_NAME, c.COLLATION_NAME FROM information_schema.COLUMNS c "+
		"WHERE c.TABLE_SCHEMA = IF(? = '', DATABASE(), ?) AND c.TABLE_NAME = ? ORDER BY c.ORDINAL_POSITION", schema, schema, table)
	if err != nil {
		return nil, nil, err
	}
	if len(cols) == 0 {
		return nil, nil, txc.Errorf(txc.CodeInvalidArgument, "datasource/mysql: table %s not found", qualified(schema, table))
	}
	// The names as the server stores them: with lower_case_table_names
	// set, ORDERS and orders are one table and must give one lock key.
	realSchema, realTable := cols[0][2].Value.Str(), cols[0][4].Value.Str()
	t := &datasource.Table{Name: realTable, SameName: strings.EqualFold}
	if cur := cols[0][3].Value.Str(); realSchema != cur {
		t.Name = realSchema + "." + realTable
	}
	in := &tableMeta{schema: realSchema, table: realTable, types: map[string]colType{}}
	for _, c := range cols {
		name, extra := c[0].Value.Str(), strings.ToLower(c[1].Value.Str())
		t.AllColumns = append(t.AllColumns, name)
		if strings.Contains(extra, "invisible") {
			in.invisible = append(in.invisible, name)
		}
		ct := colType{data: strings.ToLower(c[5].Value.Str()), full: strings.ToLower(c[6].Value.Str()), nullable: c[7].Value.Str() == "YES"}
		if !c[8].Value.IsNull() && !c[9].Value.IsNull() {
			ct.charset, ct.collation = c[8].Value.Str(), c[9].Value.Str()
		}
		in.types[strings.ToLower(name)] = ct
		if strings.Contains(extra, "generated") || strings.Contains(extra, "persistent") || strings.Contains(extra, "virtual") || strings.Contains(extra, "stored") {
			continue
		}
		t.Columns = append(t.Columns, name)
		if ct.charset != "" && !roundTrips[strings.ToLower(ct.charset)] && t.Hazards.LossyColumn == "" {
			t.Hazards.LossyColumn, t.Hazards.LossyWhy = name, "is in character set "+ct.charset+", not all of whose text survives the trip through utf8mb4 that images and a rollback's writes take: a rollback could store other bytes, or ? for a character utf8mb4 lacks (convert the column to utf8mb4)"
		}
		if strings.Contains(extra, "auto_increment") {
			t.AutoIncrement = name
		}
	}
	return t, in, nil
}

// loadKeys reads the primary key and the unique keys
// (information_schema.STATISTICS), and whether one indexes a column
// prefix.
func loadKeys(ctx context.Context, q datasource.Querier, t *datasource.Table, in *tableMeta) error {
	keys, err := q.Query(ctx, "SELECT INDEX_NAME, COLUMN_NAME, SUB_PART FROM information_schema.STATISTICS "+
		"WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? AND NON_UNIQUE = 0 ORDER BY INDEX_NAME = 'PRIMARY' DESC, INDEX_NAME, SEQ_IN_INDEX", in.schema, in.table)
	if err != nil {
		return err
	}
	var cur string
	for _, k := range keys {
		idx, col := k[0].Value.Str(), k[1].Value.Str()
		if !k[2].Value.IsNull() && t.Hazards.PrefixKey == "" {
			t.Hazards.PrefixKey = idx
		}
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
	return nil
}

// loadEngine reads the storage engine and whether the table is
// system-versioned (information_schema.TABLES).
func loadEngine(ctx context.Context, q datasource.Querier, t *datasource.Table, in *tableMeta) error {
	eng, err := q.Query(ctx, "SELECT ENGINE, TABLE_TYPE FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ?", in.schema, in.table)
	if err != nil {
		return err
	}
	if len(eng) == 1 && strings.EqualFold(eng[0][1].Value.Str(), "SYSTEM VERSIONED") {
		t.Hazards.Versioned = true
		// MariaDB appends the row-end column to every key of a
		// system-versioned table (history rows share the key). Images,
		// lock keys and the rollback deal in current rows, where the
		// declared columns alone are unique; row start and end are the
		// server's to set (generated, never imaged).
		current := func(key []string) []string {
			return slices.DeleteFunc(key, func(c string) bool { return !slices.Contains(t.Columns, c) })
		}
		t.PK = current(t.PK)
		for i := range t.Unique {
			t.Unique[i] = current(t.Unique[i])
		}
	}
	if len(eng) != 1 || !strings.EqualFold(eng[0][0].Value.Str(), "InnoDB") {
		t.Hazards.Engine = "none"
		if len(eng) == 1 && !eng[0][0].Value.IsNull() {
			t.Hazards.Engine = eng[0][0].Value.Str()
		}
	}
	return nil
}

// loadTriggers reads the table's triggers (information_schema.TRIGGERS).
func loadTriggers(ctx context.Context, q datasource.Querier, t *datasource.Table, in *tableMeta) error {
	trg, err := q.Query(ctx, "SELECT TRIGGER_NAME FROM information_schema.TRIGGERS WHERE EVENT_OBJECT_SCHEMA = ? AND EVENT_OBJECT_TABLE = ? ORDER BY TRIGGER_NAME", in.schema, in.table)
	if err != nil {
		return err
	}
	if len(trg) > 0 {
		t.Hazards.Triggers, t.Hazards.Trigger = true, trg[0][0].Value.Str()
	}
	return nil
}

// loadReferences reads the foreign keys referencing the table whose
// referential actions write the referencing rows
// (information_schema.REFERENTIAL_CONSTRAINTS with KEY_COLUMN_USAGE), one
// row per column pair, in key order.
func loadReferences(ctx context.Context, q datasource.Querier, t *datasource.Table, in *tableMeta) error {
	// Both sides of the join skip information_schema (see notInfoSchema).
	refs, err := q.Query(ctx, "SELECT rc.CONSTRAINT_SCHEMA, rc.TABLE_NAME, rc.CONSTRAINT_NAME, rc.UPDATE_RULE, rc.DELETE_RULE, k.COLUMN_NAME, k.REFERENCED_COLUMN_NAME "+
		"FROM information_schema.REFERENTIAL_CONSTRAINTS rc JOIN information_schema.KEY_COLUMN_USAGE k "+
		"ON k.CONSTRAINT_SCHEMA = rc.CONSTRAINT_SCHEMA AND k.TABLE_NAME = rc.TABLE_NAME AND k.CONSTRAINT_NAME = rc.CONSTRAINT_NAME "+
		"WHERE "+notInfoSchema("rc.CONSTRAINT_SCHEMA")+" AND "+notInfoSchema("k.TABLE_SCHEMA")+
		" AND rc.UNIQUE_CONSTRAINT_SCHEMA = ? AND rc.REFERENCED_TABLE_NAME = ? AND k.REFERENCED_COLUMN_NAME IS NOT NULL"+
		" AND (rc.UPDATE_RULE IN ('CASCADE', 'SET NULL', 'SET DEFAULT') OR rc.DELETE_RULE IN ('CASCADE', 'SET NULL', 'SET DEFAULT'))"+
		" ORDER BY 1, 2, 3, k.ORDINAL_POSITION", in.schema, in.table)
	if err != nil {
		return err
	}
	h := &t.Hazards
	for _, r := range refs {
		schema, table := r[0].Value.Str(), r[1].Value.Str()
		name := schema + "." + table + "." + r[2].Value.Str()
		if n := len(h.Cascades); n == 0 || h.Cascades[n-1].Name != name {
			h.Cascades = append(h.Cascades, datasource.ForeignKey{Name: name, Schema: schema, Table: table,
				OnUpdate: action(r[3].Value.Str()), OnDelete: action(r[4].Value.Str())})
		}
		fk := &h.Cascades[len(h.Cascades)-1]
		fk.Columns = append(fk.Columns, r[5].Value.Str())
		fk.RefColumns = append(fk.RefColumns, r[6].Value.Str())
	}
	return nil
}

// loadAutoIncrement reads the session's auto_increment_increment and the
// server's innodb_autoinc_lock_mode.
func loadAutoIncrement(ctx context.Context, q datasource.Querier, t *datasource.Table, _ *tableMeta) error {
	vars, err := q.Query(ctx, "SELECT @@SESSION.auto_increment_increment, @@GLOBAL.innodb_autoinc_lock_mode")
	if err != nil {
		return err
	}
	t.AutoIncrementStep = 1
	if len(vars) == 1 {
		if n := asInt(vars[0][0].Value); n > 0 {
			t.AutoIncrementStep = n
		}
		t.AutoIncrementBulkConsecutive = asInt(vars[0][1].Value) != 2
	}
	return nil
}

// loadShape works out the order of an image query's columns and, when q
// can describe a result (see shaper), runs one with no rows to check the
// table is still as the other steps read it.
func loadShape(ctx context.Context, q datasource.Querier, t *datasource.Table, in *tableMeta) error {
	in.order = imageOrder(t.AllColumns, in.invisible)
	in.stored = storedIndexes(t.Columns, in.order)
	names := make(datasource.Shape, len(in.order))
	for k, c := range in.order {
		names[k].Name = c
		if in.isTimestamp(c) {
			in.timestamps = append(in.timestamps, k)
		}
	}
	in.shape = names
	s, ok := q.(shaper)
	if !ok {
		return nil
	}
	ref := quoteIdent(in.schema) + "." + quoteIdent(in.table)
	shape, _, err := s.QueryShape(ctx, "SELECT "+selectAll(ref, in.invisible)+" FROM "+ref+" LIMIT 0")
	if err != nil {
		return err
	}
	if d := shape.Diff(names); d != "" {
		return &datasource.TableChangedError{Table: t.Name, Detail: d + ", while its metadata was read"}
	}
	in.shape = shape
	return nil
}

// action is the referential action a catalog's rule names (InnoDB
// takes SET DEFAULT for RESTRICT, and MariaDB's catalog then says
// RESTRICT).
func action(rule string) datasource.Action {
	switch strings.ToUpper(rule) {
	case "CASCADE":
		return datasource.ActionCascade
	case "SET NULL":
		return datasource.ActionSetNull
	case "SET DEFAULT":
		return datasource.ActionSetDefault
	}
	return datasource.ActionNone
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

var _ datasource.RestoreGuard = Dialect{}

// RestoreHazards counts the triggers on table: phase 1 refused writes to
// tables with triggers (as of its metadata), so these were created since,
// and restoring would fire them (a BEFORE trigger writing other values
// than the images, an audit row).
func (Dialect) RestoreHazards(ctx context.Context, tx *sql.Tx, table string) (datasource.RestoreHazards, error) {
	q := "SELECT COUNT(*) FROM information_schema.TRIGGERS WHERE EVENT_OBJECT_SCHEMA = DATABASE() AND EVENT_OBJECT_TABLE = ?"
	args := []any{table}
	if s, t, ok := strings.Cut(table, "."); ok {
		q = "SELECT COUNT(*) FROM information_schema.TRIGGERS WHERE EVENT_OBJECT_SCHEMA = ? AND EVENT_OBJECT_TABLE = ?"
		args = []any{s, t}
	}
	var h datasource.RestoreHazards
	err := tx.QueryRowContext(ctx, q, args...).Scan(&h.Triggers)
	return h, err
}
