package mysql_test

import (
	"errors"
	"fmt"
	"testing"

	gomysql "github.com/go-sql-driver/mysql"

	txcmysql "github.com/txcio/txc/datasource/mysql"
)

// TestSQLStateOfResourceLimits: per-user resource limits report class 42
// but pass, so a rollback failing on them is retried, not parked; the
// other class-42 errors (a missing table, a denied privilege) keep it.
func TestSQLStateOfResourceLimits(t *testing.T) {
	state := func(s string) (b [5]byte) { copy(b[:], s); return }
	for _, c := range []struct {
		err  error
		want string
	}{
		{&gomysql.MySQLError{Number: 1226, SQLState: state("42000"), Message: "max_user_connections"}, ""},
		{&gomysql.MySQLError{Number: 1203, SQLState: state("42000"), Message: "max_user_connections"}, ""},
		{&gomysql.MySQLError{Number: 1146, SQLState: state("42S02"), Message: "no table"}, "42S02"},
		{&gomysql.MySQLError{Number: 1142, SQLState: state("42000"), Message: "denied"}, "42000"},
		{fmt.Errorf("wrapped: %w", &gomysql.MySQLError{Number: 1062, SQLState: state("23000")}), "23000"},
		{errors.New("not a server error"), ""},
	} {
		if got := (txcmysql.Dialect{}).SQLState(c.err); got != c.want {
			t.Errorf("SQLState(%v) = %q, want %q", c.err, got, c.want)
		}
	}
}
