// Package sqltable is the plumbing shared by the packages that keep tables
// of their own in a MySQL/MariaDB or PostgreSQL database: the undo log
// (datasource/undo), the TCC fence (rm/tcc), the saga log (saga) and the
// coordinator's store (tc/store/sqlstore).
//
// It provides what each of them needs before its first statement and after
// a failed one, and nothing dialect-specific beyond that:
//
//   - Detect tells which of the two a *sql.DB's driver speaks;
//   - IsDuplicateKey, IsMissingTable and IsConflict classify the errors of
//     go-sql-driver/mysql and pgx;
//   - Plain checks a table name (or prefix) is a plain identifier, and
//     Dialect.Quote and Dialect.Qualify quote one;
//   - ReadScript, Statements and Apply read an embedded schema script and
//     run it one statement at a time (drivers differ on multi-statement
//     support).
//
// The statements of each table stay in their package: this one holds no
// table's SQL.
package sqltable
