// Package mysql is the MySQL/MariaDB dialect of the AT proxy
// (package datasource) over github.com/go-sql-driver/mysql: importing it
// registers the "txc-mysql" database/sql driver (same DSN syntax) and the
// dialect OpenDB detects.
//
// Statements are parsed with the TiDB parser. Supported inside a global
// transaction: INSERT (single and multi-row, given or auto-increment keys,
// composite keys, DEFAULT, constant expressions), INSERT IGNORE, INSERT …
// ON DUPLICATE KEY UPDATE and REPLACE (every row needs a unique key known
// before the insert, or a generated key in a table without other unique
// keys, where given and generated keys may mix; no two rows of one ON
// DUPLICATE KEY UPDATE or REPLACE may hold one unique key; an assignment
// may give a key column only itself, `id = id`),
// INSERT … SELECT; UPDATE (expressions, ORDER BY …
// LIMIT, primary-key changes whose new value is computable from the old
// row), multi-table UPDATE … JOIN; DELETE (ORDER BY … LIMIT), multi-table
// DELETE; SELECT … FOR UPDATE (global locks waited for); SAVEPOINT,
// ROLLBACK TO SAVEPOINT and RELEASE SAVEPOINT (names of ASCII letters,
// digits, _ and $; see datasource.SavepointStmt). An INSERT's keys are
// looked up as the columns store them (fractions rounded into integer
// and DECIMAL keys, BINARY(n) padded, CHAR without trailing spaces, time
// fractions cut), see stored.go. Reads without locks, SHOW, SET (but for
// SET NAMES, character sets and sql_mode) and EXPLAIN pass through.
// MariaDB's INSERT, REPLACE and DELETE … RETURNING (which the TiDB
// parser cannot parse) are planned without the list and return its rows
// to QueryContext (see returning.go). Everything else is refused before
// it runs, and so is another write run with QueryContext (use Exec).
//
// Statements with ORDER BY … LIMIT are checked after they run by their row
// count against the image; a mismatch (an order that is not total) fails
// the statement and its local transaction can then only roll back. So do
// DELETEs whose row count differs from the image (triggers created
// since). The rows foreign keys' referential actions write are imaged
// with the statement's (datasource.ImageCascades): InnoDB does not count
// them.
//
// Table metadata (columns, primary and unique keys, auto-increment,
// triggers, referencing foreign keys) comes from information_schema,
// cached per resource, and is dropped when a statement fails with an
// unknown column or table. Image queries select `t`.* (and the INVISIBLE
// columns by name) and compare the columns the server returns with the
// cached ones: a column added, dropped or retyped since makes the
// statement run again with fresh metadata (found before it ran), or an
// INSERT's after image be read again with it, or else its local
// transaction roll back: never an image without the column. A trigger, a
// cascading foreign key or an INVISIBLE column created since shows in no
// result: the metadata is read again when it is older than 10s
// (datasource.WithMetadataMaxAge), so a statement within that time of
// such DDL can write what its undo log does not restore.
package mysql
