package sqlstore

import (
	"fmt"
	"net/url"
	"regexp"
	"strings"

	"github.com/go-sql-driver/mysql"
	"github.com/jackc/pgx/v5"
)

// redacted stands for a password in what this package shows.
const redacted = "xxxxx"

// malformed is the error for a DSN the driver cannot parse. It does not
// quote the driver's message: a DSN that does not parse may still hold a
// password, and the driver's message may quote part of it.
func malformed(d Dialect) error {
	want := "user:password@tcp(host:3306)/database"
	if d == Postgres {
		want = "postgres://user:password@host:5432/database or host=… user=… dbname=…"
	}
	return fmt.Errorf("%w: malformed %s DSN (not shown, it may hold a password); want %s", ErrInvalid, d, want)
}

// Password returns the password the DSN holds ("" if none), or an error
// that does not quote the DSN when it is malformed. For PostgreSQL this
// includes a password pgx takes from PGPASSWORD or a passfile.
func Password(d Dialect, dsn string) (string, error) {
	switch d {
	case MySQL:
		cfg, err := mysql.ParseDSN(dsn)
		if err != nil {
			return "", malformed(d)
		}
		return cfg.Passwd, nil
	case Postgres:
		cfg, err := pgx.ParseConfig(dsn)
		if err != nil {
			return "", malformed(d)
		}
		return cfg.Password, nil
	}
	return "", fmt.Errorf("%w: unknown dialect %v", ErrInvalid, d)
}

var pgKeywordPassword = regexp.MustCompile(`password\s*=\s*('(\\.|[^'])*'|\S*)`)

// Redact returns dsn with its password replaced, for showing to people;
// a DSN that does not parse is not shown at all.
func Redact(d Dialect, dsn string) string {
	pw, err := Password(d, dsn)
	if err != nil {
		return "(malformed DSN, not shown)"
	}
	if d == MySQL {
		cfg, _ := mysql.ParseDSN(dsn)
		if cfg.Passwd != "" {
			cfg.Passwd = redacted
		}
		return cfg.FormatDSN()
	}
	if u, err := url.Parse(dsn); err == nil && (u.Scheme == "postgres" || u.Scheme == "postgresql") {
		if _, has := u.User.Password(); has {
			u.User = url.UserPassword(u.User.Username(), redacted)
		}
		return scrubString(u.String(), pw)
	}
	return scrubString(pgKeywordPassword.ReplaceAllString(dsn, "password="+redacted), pw)
}

// scrubString replaces every occurrence of secret in s.
func scrubString(s, secret string) string {
	if secret == "" {
		return s
	}
	return strings.ReplaceAll(s, secret, redacted)
}

// scrubbedError is an error whose message had the password taken out; it
// unwraps to the original, so errors.Is and errors.As still see it.
type scrubbedError struct {
	msg string
	err error
}

func (e *scrubbedError) Error() string { return e.msg }
func (e *scrubbedError) Unwrap() error { return e.err }

// scrub returns err with the store's password taken out of its message.
func (s *Store) scrub(err error) error { return scrub(err, s.secret) }

// scrub returns err with secret taken out of its message.
func scrub(err error, secret string) error {
	if err == nil || secret == "" || !strings.Contains(err.Error(), secret) {
		return err
	}
	return &scrubbedError{msg: scrubString(err.Error(), secret), err: err}
}
