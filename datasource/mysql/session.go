package mysql

import (
	"context"
	"database/sql/driver"
	"slices"
	"strings"
	"sync/atomic"

	"github.com/txcio/txc/datasource"
)

// sessionChecked is the key of Exec.TxValue under which a local
// transaction records that its session was checked (see checkSession).
type sessionChecked struct{}

// sessionVerified is the key of Exec.ConnValue under which a connection
// keeps the result of its last session check whose database was the
// resource's (a verifiedSession).
type sessionVerified struct{}

// verifiedSession is the session state a check read, its database being
// the resource's: its character sets (client, connection, results), which
// a global transaction checks (see lossless), and its sql_mode (see
// misparsed).
type verifiedSession struct{ charsets, sqlMode string }

// lossless reports whether the session reads and writes text in utf8mb4
// both ways: a column's every character then survives an image's trip
// through the client. In any other character set, a character the set
// lacks (an emoji, under utf8 = utf8mb3 or latin1) is read as '?', and a
// rollback would write the '?' back.
func (v verifiedSession) lossless() bool { return v.charsets == "utf8mb4/utf8mb4/utf8mb4" }

// parseModes are the sql_mode flags under which the server reads a
// statement's text otherwise than the proxy's parser (MySQL's default
// modes) does: "x" an identifier (ANSI_QUOTES), || a concatenation,
// NOT binding tighter, a backslash in '…' no escape, a space after a
// function name, an empty string NULL, whole dialects (ORACLE, MSSQL, …). The image
// would then select other rows than the statement writes: under
// ANSI_QUOTES, DELETE … WHERE s = "n" imaged the rows holding 'n' while
// the server deleted those where s equals column n. PAD_CHAR_TO_FULL_LENGTH
// reads CHAR values padded, which phase 2 (reading them unpadded) would
// take for changed.
var parseModes = []string{"ANSI_QUOTES", "PIPES_AS_CONCAT", "HIGH_NOT_PRECEDENCE", "NO_BACKSLASH_ESCAPES", "IGNORE_SPACE",
	"EMPTY_STRING_IS_NULL", "PAD_CHAR_TO_FULL_LENGTH", "ORACLE", "MSSQL", "DB2", "MAXDB", "POSTGRESQL", "ANSI"}

// misparsed returns the flags of parseModes in the session's sql_mode,
// joined by commas, or "".
func (v verifiedSession) misparsed() string {
	var found []string
	for f := range strings.SplitSeq(v.sqlMode, ",") {
		if f = strings.ToUpper(strings.TrimSpace(f)); slices.Contains(parseModes, f) {
			found = append(found, f)
		}
	}
	return strings.Join(found, ",")
}

// utcZone is the time zone every MySQL undo log records.
const utcZone = "+00:00"

// sessionQueries counts the session queries checkSession ran (tests read
// it to see the check cached per connection).
var sessionQueries atomic.Int64

// start begins every write and locking read: the arguments are checked,
// then the session (see checkSession).
func start(ctx context.Context, x *datasource.Exec, query string, nargs int, args []driver.NamedValue) error {
	if err := datasource.CheckArgs(query, nargs, args); err != nil {
		return err
	}
	return checkSession(ctx, x, query)
}

// checkSession runs before the first image, metadata query or write of a
// local transaction in a global transaction or under a global lock. The
// proxy does not parse statements outside those, so a pooled connection
// may come back from non-global code in another database (USE), character
// set or sql_mode; inside them, changing any of them is refused.
//
// The current database must be the resource's (the database of a fresh
// connection of the connector): unqualified table names in the statement,
// its images, the metadata cache, the undo records and the lock keys are
// all resolved by the server in the session's database, while phase 2
// resolves them in the resource's; the statement is refused before
// anything runs. A sql_mode under which the server reads statements
// otherwise than the parser is refused (see verifiedSession.misparsed); a
// global transaction also needs the session's character sets utf8mb4 (see
// verifiedSession.lossless). The session's time zone does not matter:
// TIMESTAMP images are instants (see exactTimestamps), and every undo log
// records UTC, the zone the rollback writes them in.
//
// The session is read (one round trip) only when the connection holds no
// verified state: its first check, or the first after a statement ran on
// it that KeepsSession does not vouch for (see datasource.Exec.ConnValue).
// A successful check is kept per connection; a failed one is not, so the
// next local transaction reads the session again. Every local transaction
// is checked once until it ends.
func checkSession(ctx context.Context, x *datasource.Exec, query string) error {
	if x.TxValue(sessionChecked{}) != nil {
		return nil
	}
	if v, ok := x.ConnValue(sessionVerified{}).(verifiedSession); ok {
		return sessionChecks(x, query, v)
	}
	home, err := x.Home(ctx, "SELECT DATABASE()")
	if err != nil {
		return err
	}
	// Unprepared: MariaDB fixes DATABASE() of a prepared statement when
	// it is prepared, and image statements are prepared once per
	// connection.
	sessionQueries.Add(1)
	rows, err := x.QueryText(ctx, "SELECT DATABASE(), @@session.character_set_client, @@session.character_set_connection, @@session.character_set_results, @@session.sql_mode")
	if err != nil {
		return err
	}
	if len(home) != 1 || len(home[0]) != 1 || len(rows) != 1 || len(rows[0]) != 5 {
		return datasource.Unsupported(query, "the session's database and time zone could not be read")
	}
	want, cur := dbName(home[0][0].Value.IsNull(), home[0][0].Value.Str()), dbName(rows[0][0].Value.IsNull(), rows[0][0].Value.Str())
	if cur != want {
		return datasource.Unsupported(query, "the connection's current database is %s, not the resource's %s (USE ran on it outside a global transaction): its images, undo log and lock keys would name the other database's tables, which phase 2 never reads", cur, want)
	}
	charset := func(i int) string {
		if rows[0][i].Value.IsNull() {
			return "NULL"
		}
		return strings.ToLower(rows[0][i].Value.Str())
	}
	v := verifiedSession{charsets: charset(1) + "/" + charset(2) + "/" + charset(3), sqlMode: rows[0][4].Value.Str()}
	x.SetConnValue(sessionVerified{}, v)
	return sessionChecks(x, query, v)
}

// sessionChecks applies a read (or kept) session state to the local
// transaction: no sql_mode that misparses, and for a global transaction
// lossless text (under a global lock nothing is imaged, only keys
// checked). The undo log records UTC.
func sessionChecks(x *datasource.Exec, query string, v verifiedSession) error {
	if f := v.misparsed(); f != "" {
		return datasource.Unsupported(query, "the session's sql_mode has %s, under which the server reads statements otherwise than the proxy's parser (MySQL's default modes), so images could be of other rows than the statement writes", f)
	}
	if x.InGlobalTx() && !v.lossless() {
		return datasource.Unsupported(query, "the connection's character sets (client/connection/results) are %s, not utf8mb4: text its images read would lose every character those lack, and a rollback would write the loss back (use the DSN's default charset, utf8mb4)", v.charsets)
	}
	// TIMESTAMP images are UTC whatever the session's zone (see
	// exactTimestamps): the rollback writes them under +00:00.
	x.SetTimeZone(utcZone)
	x.SetTxValue(sessionChecked{}, true)
	return nil
}

// KeepsSession reports that query, run unparsed, cannot change the
// session's current database, character sets or sql_mode, which
// checkSession keeps per connection (see datasource.SessionKeeper). It is conservative: after
// leading ASCII whitespace the first word (ASCII letters, case-insensitive,
// followed by whitespace, '(' or the end) must be one of SELECT, INSERT,
// UPDATE, DELETE, REPLACE, BEGIN, START, COMMIT, ROLLBACK, SAVEPOINT,
// RELEASE or WITH, and the text must hold no ';' anywhere (with the DSN's
// multiStatements=true a second statement could follow; a MariaDB
// compound statement, BEGIN NOT ATOMIC …, needs one to hold any
// statement). A text starting with a comment (/* including the executable
// /*! and /*M!, --, #) or anything else (USE, SET, CALL, DO, PREPARE,
// EXECUTE, LOAD, HANDLER, …) is not vouched for.
//
// Not seen: a stored function or trigger the statement runs that sets the
// session's character sets (USE is not allowed in stored programs, and
// they run under the sql_mode they were created with). A SELECT calling
// one outside a global transaction leaves the connection's kept state
// stale until the next statement that is not vouched for, as one run
// inside a global transaction always did for the rest of its local
// transaction.
func (Dialect) KeepsSession(query string) bool {
	i := 0
	for i < len(query) && isSpace(query[i]) {
		i++
	}
	j := i
	for j < len(query) && j-i <= len("SAVEPOINT") && isLetter(query[j]) {
		j++
	}
	if j < len(query) && !isSpace(query[j]) && query[j] != '(' {
		return false
	}
	if !keepsKeyword(query[i:j]) {
		return false
	}
	return strings.IndexByte(query[j:], ';') < 0
}

// keepsKeyword reports whether w is one of KeepsSession's first words.
func keepsKeyword(w string) bool {
	eq := strings.EqualFold
	switch len(w) {
	case 4:
		return eq(w, "WITH")
	case 5:
		return eq(w, "BEGIN") || eq(w, "START")
	case 6:
		return eq(w, "SELECT") || eq(w, "INSERT") || eq(w, "UPDATE") || eq(w, "DELETE") || eq(w, "COMMIT")
	case 7:
		return eq(w, "REPLACE") || eq(w, "RELEASE")
	case 8:
		return eq(w, "ROLLBACK")
	case 9:
		return eq(w, "SAVEPOINT")
	}
	return false
}

func isSpace(b byte) bool {
	switch b {
	case ' ', '\t', '\n', '\r', '\f', '\v':
		return true
	}
	return false
}

func isLetter(b byte) bool { return b|0x20 >= 'a' && b|0x20 <= 'z' }

var _ datasource.SessionKeeper = Dialect{}

func dbName(null bool, s string) string {
	if null {
		return "(none)"
	}
	return quoteIdent(s)
}

// TimeZoneQuery and SetTimeZone make the rollback run in the time zone
// its undo log records (see datasource.SessionTimeZone): UTC, the zone of
// TIMESTAMP images (see exactTimestamps), or, in logs written before
// images held instants, the zone phase 1 read them in.
func (Dialect) TimeZoneQuery() string { return "SELECT @@session.time_zone" }
func (Dialect) SetTimeZone() string   { return "SET SESSION time_zone = ?" }

var _ datasource.SessionTimeZone = Dialect{}
