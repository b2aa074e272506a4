// Package sqllog is the saga execution log (a saga.Store) on MySQL/MariaDB
// or PostgreSQL: two tables, <prefix>_instance and <prefix>_step, whose
// schema ships in schema/*.sql. Saves from all sagas of a process are
// queued and written by a few writer goroutines, many per database
// transaction. It is apart from package saga so that the engine does not
// import database drivers (one package per dependency).
package sqllog
