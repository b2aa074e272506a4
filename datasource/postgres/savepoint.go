package postgres

import (
	pg "github.com/pganalyze/pg_query_go/v6"

	"github.com/txcio/txc/datasource"
)

// savepointOps are the transaction statements that are savepoint
// statements.
var savepointOps = map[pg.TransactionStmtKind]datasource.SavepointOp{
	pg.TransactionStmtKind_TRANS_STMT_SAVEPOINT:   datasource.SetSavepoint,
	pg.TransactionStmtKind_TRANS_STMT_ROLLBACK_TO: datasource.RollbackToSavepoint,
	pg.TransactionStmtKind_TRANS_STMT_RELEASE:     datasource.ReleaseSavepoint,
}

// savepoint returns the plan of a savepoint statement (see
// datasource.SavepointStmt). The parser gives the name as the server
// compares it: an unquoted name folded to lower case, a quoted one as
// written, both cut to 63 bytes. Folding and cutting agree with the
// server's for ASCII names only (in a single-byte server encoding the
// server may fold other letters too), so a name with any other character
// is refused. A reused name hides the older savepoint until the newer
// one is released.
func savepoint(query string, op datasource.SavepointOp, name string) (datasource.Statement, error) {
	for i := 0; i < len(name); i++ {
		if name[i] >= 0x80 {
			return nil, datasource.Unsupported(query, "a savepoint name of other characters than ASCII: the proxy could not be sure to tell it from other names as the server does")
		}
	}
	return &datasource.SavepointStmt{Op: op, Name: name, Shadows: true}, nil
}
