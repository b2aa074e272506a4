package mysql_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/txcio/txc"
	"github.com/txcio/txc/datasource"
	"github.com/txcio/txc/internal/dbtest"
)

// instants returns id:UNIX_TIMESTAMP(ts) of every row of tb: the stored
// instants, which a dump in a zone with daylight saving time cannot tell
// apart during the hour its clocks repeat.
func (e *env) instants(tb string) string {
	e.t.Helper()
	rows, err := e.plain.Query("SELECT CONCAT(id, ':', COALESCE(UNIX_TIMESTAMP(ts), 'NULL'), ':', n) FROM " + tb + " ORDER BY id")
	if err != nil {
		e.t.Fatal(err)
	}
	defer rows.Close()
	var sb strings.Builder
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			e.t.Fatal(err)
		}
		sb.WriteString(s + " ")
	}
	return sb.String()
}

// A session in a time zone with daylight saving time reads 05:30 and
// 06:30 UTC on 2023-11-05 both as 01:30 America/New_York: images hold
// instants, so a rollback restores each row's own, also in rows whose
// TIMESTAMP the statements did not set.
func TestTimestampRestoredInRepeatedHour(t *testing.T) {
	e := newEnvAt(t, dbtest.PrivateMariaDBEnv(t, []string{"TZ=America/New_York"}))
	tb := e.table("at_dst", "CREATE TABLE {t} (id INT PRIMARY KEY, n INT, ts TIMESTAMP(3) NULL)")
	if _, err := e.plain.Exec("SET time_zone = '+00:00'"); err != nil {
		t.Fatal(err)
	}
	e.plain.SetMaxOpenConns(1) // the zone above stays for the seed
	for _, q := range []string{
		"INSERT INTO " + tb + " VALUES (1, 1, '2023-11-05 05:30:00'), (2, 2, '2023-11-05 06:30:00.125'), (3, 3, '2023-11-05 06:59:59'), (4, 4, NULL), (5, 5, '0000-00-00')",
		"SET time_zone = DEFAULT",
	} {
		if _, err := e.plain.Exec(q); err != nil {
			t.Fatal(err)
		}
	}
	var zone string
	e.plain.QueryRow("SELECT @@system_time_zone").Scan(&zone)
	if zone != "EST" && zone != "EDT" {
		t.Fatalf("the private server's system time zone is %q, want America/New_York's", zone)
	}
	before := e.instants(tb)
	e.expect(t, undone, "", []string{tb},
		"UPDATE "+tb+" SET n = 10 WHERE id = 1",
		"DELETE FROM "+tb+" WHERE id = 2",
		"UPDATE "+tb+" SET ts = '2023-11-05 01:15:00', n = 30 WHERE id = 3",
		"UPDATE "+tb+" SET ts = NOW() WHERE id IN (4, 5)",
		"INSERT INTO "+tb+" VALUES (6, 6, '2023-11-05 01:45:00')")
	if got := e.instants(tb); got != before {
		t.Fatalf("instants after rollback: %s\nwant: %s", got, before)
	}
}

// A TIMESTAMP primary key gets one lock key whatever the session's time
// zone: a write in +05:00 holds the row against a locking read and a
// write in +00:00.
func TestTimestampKeyLockedAcrossZones(t *testing.T) {
	e := newEnv(t, "")
	tb := e.table("at_tsk", "CREATE TABLE {t} (ts TIMESTAMP(6) NOT NULL PRIMARY KEY, n INT)", "INSERT INTO {t} VALUES ('2024-01-01 00:00:00.5', 1)")
	east := e.open("time_zone=" + urlQuote("'+05:00'"))
	release := e.holdLock(east, "UPDATE "+tb+" SET n = n + 1 WHERE ts = '2024-01-01 05:00:00.5'")
	for _, q := range []string{
		"SELECT n FROM " + tb + " WHERE ts = '2024-01-01 00:00:00.5' FOR UPDATE",
		"UPDATE " + tb + " SET n = n + 10 WHERE ts = '2024-01-01 00:00:00.5'",
	} {
		if err := e.tryGlobal(q); !errors.Is(err, txc.ErrLockConflict) {
			t.Errorf("%s: %v, want a lock conflict with the write made in +05:00", q, err)
		}
	}
	if err := release(); err != nil {
		t.Fatal(err)
	}
	var n int
	e.plain.QueryRow("SELECT n FROM " + tb).Scan(&n)
	if n != 2 {
		t.Fatalf("n = %d, want 2", n)
	}
}

func urlQuote(s string) string {
	return strings.NewReplacer("'", "%27", "+", "%2B", ":", "%3A").Replace(s)
}

// Two processes may write one database with different DSNs: the one that
// rolls a branch back can read date-times with parseTime=true when the
// one that wrote it did not, or the other way round. Their images and
// lock keys are the same text, and logs compare equal to rows either
// reads.
func TestTimeTextIndependentOfParseTime(t *testing.T) {
	for _, c := range []struct{ rollback, write string }{{"parseTime=true", ""}, {"", "parseTime=true"}} {
		t.Run("rollback "+c.rollback+" write "+c.write, func(t *testing.T) {
			e := newEnv(t, "")
			id := datasource.WithResourceID("mysql:parsetime-" + dbtest.Name("pt"))
			e.open(c.rollback, id) // first open under the ID: it runs the rollbacks
			e.db = e.open(c.write, id)
			tb := e.table("at_pt", "CREATE TABLE {t} (ts TIMESTAMP(6) NOT NULL PRIMARY KEY, dt DATETIME(3) NULL, t0 TIMESTAMP NULL, n INT)",
				"INSERT INTO {t} VALUES ('2024-03-01 12:00:00.123456', '2024-03-01 12:00:00.100', '2024-03-01 12:00:00', 1), ('2024-07-01 23:30:00', NULL, NULL, 2), ('2024-07-02 23:30:00.5', '2024-07-02 23:30:00', '2024-07-01 23:30:00', 3)")
			e.expect(t, undone, "", []string{tb},
				"UPDATE "+tb+" SET n = n + 1",
				"DELETE FROM "+tb+" WHERE n = 3",
				"UPDATE "+tb+" SET dt = '2030-01-01 00:00:00.2' WHERE n = 4",
				"INSERT INTO "+tb+" VALUES ('2025-01-01 00:00:00.000001', '2025-01-01', NOW(), 9)")
		})
	}
}
