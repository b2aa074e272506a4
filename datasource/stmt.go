package datasource

import (
	"context"
	"database/sql/driver"
)

var (
	_ driver.Stmt              = (*stmt)(nil)
	_ driver.StmtExecContext   = (*stmt)(nil)
	_ driver.StmtQueryContext  = (*stmt)(nil)
	_ driver.NamedValueChecker = (*stmt)(nil)
	_ driver.ColumnConverter   = (*stmt)(nil)
)

// stmt wraps a prepared statement of the wrapped driver. Whether it runs
// in a global transaction is decided at each execution, by its context.
type stmt struct {
	s     driver.Stmt
	c     *conn
	query string
	keeps bool // the dialect vouches for query (see conn.unparsed)
}

// unparsed drops the connection's values before the statement runs
// outside global mode, unless the dialect vouched for its text when it
// was prepared.
func (s *stmt) unparsed() {
	if !s.keeps {
		s.c.vals = nil
	}
}

// Close closes the wrapped statement.
func (s *stmt) Close() error {
	s.c.open--
	return s.s.Close()
}
func (s *stmt) NumInput() int { return s.s.NumInput() }

// Exec and Query without a context run plainly (no XID can reach them);
// database/sql uses the context forms.
func (s *stmt) Exec(args []driver.Value) (driver.Result, error) {
	if err := s.c.begin(); err != nil {
		return nil, err
	}
	s.unparsed()
	return s.s.Exec(args) //nolint:staticcheck // required by driver.Stmt
}

func (s *stmt) Query(args []driver.Value) (driver.Rows, error) {
	if err := s.c.begin(); err != nil {
		return nil, err
	}
	s.unparsed()
	rows, err := s.s.Query(args) //nolint:staticcheck // required by driver.Stmt
	if err != nil {
		return nil, err
	}
	return &wrappedRows{r: rows}, nil
}

func (s *stmt) ExecContext(ctx context.Context, args []driver.NamedValue) (driver.Result, error) {
	m, err := s.c.mode(ctx)
	if err != nil {
		return nil, err
	}
	if !m.on() {
		s.unparsed()
		return execStmt(ctx, s.s, args)
	}
	if s.c.res.xa() != nil {
		return s.c.xaExec(ctx, m, func() (driver.Result, error) { return execStmt(ctx, s.s, args) })
	}
	return s.c.write(ctx, m, s.query, args, func() (driver.Result, error) { return execStmt(ctx, s.s, args) })
}

func (s *stmt) QueryContext(ctx context.Context, args []driver.NamedValue) (driver.Rows, error) {
	m, err := s.c.mode(ctx)
	if err != nil {
		return nil, err
	}
	if !m.on() {
		s.unparsed()
		rows, err := queryStmt(ctx, s.s, args)
		if err != nil {
			return nil, err
		}
		return &wrappedRows{r: rows}, nil
	}
	if s.c.res.xa() != nil {
		return s.c.xaQuery(ctx, m, func() (driver.Rows, error) { return wrapRows(queryStmt(ctx, s.s, args)) })
	}
	return s.c.read(ctx, m, s.query, args, func() (driver.Rows, error) { return queryStmt(ctx, s.s, args) })
}

// CheckNamedValue forwards to the wrapped statement's checker, else the
// wrapped connection's, as database/sql would pick them.
func (s *stmt) CheckNamedValue(nv *driver.NamedValue) error {
	if ch, ok := s.s.(driver.NamedValueChecker); ok {
		return ch.CheckNamedValue(nv)
	}
	if ch, ok := s.c.c.(driver.NamedValueChecker); ok {
		return ch.CheckNamedValue(nv)
	}
	return driver.ErrSkip
}

func (s *stmt) ColumnConverter(idx int) driver.ValueConverter {
	if cc, ok := s.s.(driver.ColumnConverter); ok { //nolint:staticcheck // forwarded as is
		return cc.ColumnConverter(idx)
	}
	return driver.DefaultParameterConverter
}
