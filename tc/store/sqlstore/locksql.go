package sqlstore

import (
	"github.com/txcio/txc"
)

// The statements on the shared lock table, for Locks and for a store that
// lives beside the table (its Apply frees rows in its own transaction).

const lockColumns = "row_hash, resource_id, table_name, row_key, xid, partition_name"

// myHashList returns head, the hashes as a list of parameters, and tail,
// split into statements of at most maxRowsPerStatement hashes.
func myHashList(head, tail string, hashes [][]byte, extra ...any) []myStmt {
	stmts := multiRow(head, ")"+tail, "?", len(hashes), func(i int) []any { return []any{hashes[i]} })
	for i := range stmts {
		stmts[i].args = append(stmts[i].args, extra...)
	}
	return stmts
}

// myInsertLocks inserts rows; with ignoreTaken a row whose key is taken
// is left as it is.
func myInsertLocks(table string, rows []lockRef, ignoreTaken bool) []myStmt {
	tail := ""
	if ignoreTaken {
		tail = " ON DUPLICATE KEY UPDATE row_hash = row_hash"
	}
	return multiRow("INSERT INTO "+table+" ("+lockColumns+") VALUES ", tail, "(?,?,?,?,?,?)", len(rows), func(i int) []any {
		r := &rows[i]
		return []any{r.hash, []byte(r.resource), []byte(r.table), []byte(r.row), []byte(r.xid), []byte(r.partition)}
	})
}

// myFreeLocks deletes rows, each while held by its XID, joining the
// table with a derived table of (row_hash, xid).
func myFreeLocks(table string, rows []lockRef) []myStmt {
	return multiRow("DELETE l FROM "+table+" AS l JOIN (", ") AS f ON l.row_hash = f.row_hash AND l.xid = f.xid",
		"SELECT ? AS row_hash, ? AS xid", len(rows), func(i int) []any {
			return []any{rows[i].hash, []byte(rows[i].xid)}
		}, " UNION ALL ")
}

// myDropLocks deletes every row of the XIDs.
func myDropLocks(table string, xids []txc.XID) []myStmt {
	return xidList("DELETE FROM "+table+" WHERE xid IN (", xids)
}

// pgLockStatements are the texts of the statements on the shared table
// for PostgreSQL; each takes arrays, so its text is constant.
type pgLockStatements struct {
	holders, insert, insertIgnore, free, drop, query, partition string
}

func newPGLockStatements(table string) pgLockStatements {
	insert := "INSERT INTO " + table + " (" + lockColumns + ")" +
		" SELECT * FROM unnest($1::bytea[], $2::bytea[], $3::bytea[], $4::bytea[], $5::text[], $6::text[])"
	return pgLockStatements{
		holders:      "SELECT row_hash, xid FROM " + table + " WHERE row_hash = ANY($1::bytea[])",
		insert:       insert,
		insertIgnore: insert + " ON CONFLICT (row_hash) DO NOTHING",
		free: "DELETE FROM " + table + " AS l USING unnest($1::bytea[], $2::text[]) AS f(row_hash, xid)" +
			" WHERE l.row_hash = f.row_hash AND l.xid = f.xid",
		drop:      "DELETE FROM " + table + " WHERE xid = ANY($1::text[])",
		query:     "SELECT xid FROM " + table + " WHERE row_hash = ANY($1::bytea[]) AND xid <> $2 LIMIT 1",
		partition: "SELECT row_hash, xid FROM " + table + " WHERE partition_name = $1",
	}
}

// pgInsertArgs are rows as the insert statements' arrays.
func pgInsertArgs(rows []lockRef) []any {
	n := len(rows)
	hashes, resources, tables, keys := make([][]byte, n), make([][]byte, n), make([][]byte, n), make([][]byte, n)
	xids, parts := make([]string, n), make([]string, n)
	for i, r := range rows {
		hashes[i], resources[i], tables[i], keys[i] = r.hash, []byte(r.resource), []byte(r.table), []byte(r.row)
		xids[i], parts[i] = r.xid, r.partition
	}
	return []any{hashes, resources, tables, keys, xids, parts}
}

// pgFreeArgs are rows as the free statement's arrays.
func pgFreeArgs(rows []lockRef) []any {
	hashes, xids := make([][]byte, len(rows)), make([]string, len(rows))
	for i, r := range rows {
		hashes[i], xids[i] = r.hash, r.xid
	}
	return []any{hashes, xids}
}
