// Package sqlstore is a store.Store on a MySQL/MariaDB (InnoDB) or
// PostgreSQL database, for coordinators that must not lose their state
// with their machine.
//
// Four tables, named <prefix>schema, <prefix>global, <prefix>branch and
// <prefix>sequence (prefix "txc_tc_" by default), are created on demand
// from the versioned scripts in schema/<dialect>/<n>.sql. The schema
// table records the version; Open refuses a store whose version this build
// does not know (SchemaVersionError) and changes nothing.
//
// Apply turns a Batch into its net effect (see plan) and writes it as one
// SQL transaction of at most five multi-row statements — upsert globals,
// upsert branches, update branch statuses, delete branches, delete
// globals — plus the NextID update, in Batch order and without reading
// first. On PostgreSQL the statements take arrays (unnest), so their text
// is constant and prepared once, and they are sent as one pgx pipeline: one
// round trip, run by the server as one implicit transaction. On MySQL the
// statements, framed by ROLLBACK; START TRANSACTION and COMMIT, go in one
// multi-statement query with the parameters interpolated by the driver:
// one round trip, split only when a batch is larger than maxQueryBytes.
//
// Apply is durable when it returns as far as the database's commit is:
// that assumes synchronous_commit=on (and fsync=on) on PostgreSQL, and
// innodb_flush_log_at_trx_commit=1 (and sync_binlog=1 when the binary log
// is on) on MySQL/MariaDB, the defaults of both. Open reads these settings
// and logs a warning for each one that breaks the assumption.
//
// Times are stored as milliseconds since the Unix epoch (NULL for the zero
// time); names, resource IDs, lock keys and application data as bytes, so
// they round-trip exactly. The lock keys of a branch are one column in the
// encoding of lockkeys.go.
//
// Several active nodes share one lock table, <base>locks (locks.go,
// scripts schema/locks/<dialect>/<n>.sql, versioned in <base>locks_schema):
// one row per locked row, keyed by SHA-256 of (resource, table, row), with
// the holder's XID and partition. OpenLocks opens it as a
// store.SharedLocks. A node's partition store, opened with TablePrefix =
// PartitionPrefix(base, node) and LockTablePrefix = base, deletes a
// batch's FreeLocks and every row of the transactions whose branches it
// deletes in the batch's own transaction (FreesSharedLocks).
//
// Neither the DSN nor its password ever appears in an error or log line of
// this package: errors from the drivers are scrubbed of the password.
package sqlstore
