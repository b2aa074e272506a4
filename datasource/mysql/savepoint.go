package mysql

import (
	"strings"

	"github.com/txcio/txc/datasource"
)

// savepoint returns the plan of a savepoint statement (see
// datasource.SavepointStmt). MySQL and MariaDB compare savepoint names in
// the system character set's case- and accent-insensitive collation
// (`é` is `e` there), which the proxy does not reproduce: a name is
// accepted only if it is made of ASCII letters, digits, '_' and '$', and
// folded to lower case. A reused name replaces the older savepoint.
func savepoint(query string, op datasource.SavepointOp, name string) (datasource.Statement, error) {
	for i := 0; i < len(name); i++ {
		if b := name[i]; !isLetter(b) && (b < '0' || b > '9') && b != '_' && b != '$' {
			return nil, datasource.Unsupported(query, "a savepoint name of other characters than ASCII letters, digits, _ and $: the proxy could not be sure to tell it from other names as the server does")
		}
	}
	return &datasource.SavepointStmt{Op: op, Name: strings.ToLower(name)}, nil
}
