package mysql

// notInfoSchema is the condition that keeps an information_schema query
// that lists constraints across databases (KEY_COLUMN_USAGE,
// REFERENTIAL_CONSTRAINTS filtered by the referenced table, which the
// server cannot look up by) out of the database information_schema
// itself; col is the query's table-schema column (KEY_COLUMN_USAGE's
// TABLE_SCHEMA, REFERENTIAL_CONSTRAINTS' CONSTRAINT_SCHEMA), which the
// server tests before it opens a table.
//
// Without it MariaDB opens every information_schema table in turn to
// read its keys, each into a temporary table: about 80 per query, 13 of
// them (those with text columns) Aria files in the server's tmpdir. A
// server that starts deletes every #sql* file in its tmpdir, also those
// of another server sharing that directory; when that lands between the
// creation of such a file and its opening, MariaDB 10.11 fails the
// query and then crashes (signal 11) freeing the table it never opened.
// information_schema holds no foreign keys (no database of that name in
// any letter case can be created), so the lists are unchanged; with the
// condition the query makes one in-memory temporary table.
func notInfoSchema(col string) string { return col + " <> 'information_schema'" }
