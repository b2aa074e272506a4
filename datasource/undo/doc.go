// Package undo is the undo-image layer of AT mode: a lossless typed Value for
// every column value of MySQL/MariaDB and PostgreSQL, the undo-log model
// (Log, Record, Row), a versioned compact binary codec with compression of
// large logs, the conversions between database/sql and Values for each
// dialect (mysql.go, postgres.go), and the undo_log table (table.go).
//
// Lossless means: a value read from a row with the dialect's Read function,
// encoded, decoded and written back with the dialect's Param function stores
// exactly the value that was read (compared in the database, byte for byte,
// NULL distinct from empty). Where the driver hands over a value that is
// ambiguous or already rounded, Read refuses it with txc.CodeUnsupported
// instead of imaging it wrongly.
//
// Nothing here holds global state; nothing here logs.
package undo
