package datasource

import (
	"database/sql/driver"
	"fmt"
	"strings"

	"github.com/txcio/txc"
)

// ColumnShape is one column of a result as the wrapped driver describes
// it: what an image query selecting a table's every column (MySQL's
// `t.*`) tells about the table's definition on the server now.
type ColumnShape struct {
	Name string
	// Type is the driver's database type name ("BIGINT", "UNSIGNED INT",
	// "VARCHAR"); empty when the driver does not report types.
	Type string
	// Nullable, when NullKnown, is whether the column accepts NULL.
	Nullable, NullKnown bool
}

// Shape is the columns of a result, in order.
type Shape []ColumnShape

// Names returns the column names.
func (s Shape) Names() []string {
	out := make([]string, len(s))
	for i, c := range s {
		out[i] = c.Name
	}
	return out
}

// Diff describes the first difference between want (what the metadata
// holds) and s (what the server returned), or "" when s matches want
// (see matches).
func (s Shape) Diff(want Shape) string {
	for i := range max(len(s), len(want)) {
		switch {
		case i >= len(s):
			return fmt.Sprintf("column %q is gone", want[i].Name)
		case i >= len(want):
			return fmt.Sprintf("column %q was added", s[i].Name)
		case !s[i].matches(want[i]):
			return fmt.Sprintf("column %s is now %s", want[i], s[i])
		}
	}
	return ""
}

// matches reports whether c agrees with want in what want knows: the
// name always, the type and nullability when want has them.
func (c ColumnShape) matches(want ColumnShape) bool {
	return c.Name == want.Name && (want.Type == "" || c.Type == want.Type) &&
		(!want.NullKnown || (c.NullKnown && c.Nullable == want.Nullable))
}

// WithoutNull returns s without nullability (a column of an outer join's
// inner side is reported nullable whatever its definition).
func (s Shape) WithoutNull() Shape {
	out := make(Shape, len(s))
	for i, c := range s {
		c.Nullable, c.NullKnown = false, false
		out[i] = c
	}
	return out
}

func (c ColumnShape) String() string {
	var sb strings.Builder
	fmt.Fprintf(&sb, "%q", c.Name)
	if c.Type != "" {
		sb.WriteString(" " + c.Type)
	}
	if c.NullKnown {
		if c.Nullable {
			sb.WriteString(" NULL")
		} else {
			sb.WriteString(" NOT NULL")
		}
	}
	return sb.String()
}

// shapeOf reads the shape of rows' columns.
func shapeOf(rows driver.Rows) Shape {
	cols := rows.Columns()
	s := make(Shape, len(cols))
	tn, hasType := rows.(driver.RowsColumnTypeDatabaseTypeName)
	nl, hasNull := rows.(driver.RowsColumnTypeNullable)
	for i, name := range cols {
		s[i].Name = name
		if hasType {
			s[i].Type = tn.ColumnTypeDatabaseTypeName(i)
		}
		if hasNull {
			s[i].Nullable, s[i].NullKnown = nl.ColumnTypeNullable(i)
		}
	}
	return s
}

// TableChangedError reports that a table's definition on the server no
// longer matches the metadata the proxy cached (DDL since it was read):
// images taken with it could miss columns, and a rollback would then
// lose their values. Whoever returns it has dropped nothing: the proxy
// drops its metadata. Returned before the statement ran, the proxy runs
// the statement once more with metadata read afresh (nothing had changed
// but row locks the statement takes anyway); returned after, the local
// transaction can only roll back. It unwraps to a txc.CodeUnavailable
// error: running the transaction again succeeds.
type TableChangedError struct {
	Table  string
	Detail string // what differs
}

func (e *TableChangedError) Error() string {
	return fmt.Sprintf("datasource: table %s changed since its metadata was read (%s)", e.Table, e.Detail)
}

// Unwrap gives the error's code.
func (e *TableChangedError) Unwrap() error {
	return &txc.Error{Code: txc.CodeUnavailable, Message: e.Error()}
}
