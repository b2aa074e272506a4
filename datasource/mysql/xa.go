package mysql

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"

	gomysql "github.com/go-sql-driver/mysql"

	"github.com/txcio/txc"
	"github.com/txcio/txc/datasource"
)

var _ datasource.XADialect = Dialect{}

// xaFormat is the formatID of txc's XA branches ("txc"): XA RECOVER lists
// every prepared branch of the server, and only these are txc's.
const xaFormat = 0x747863

// MySQL error numbers of XA statements.
const (
	errXANotA   = 1397 // XAER_NOTA: unknown XID
	errXARMFail = 1399 // XAER_RMFAIL: not in the state the command needs
)

// xaName is the XA identifier of a branch: the XID's node as gtrid, its
// sequence number and the branch ID as bqual (each within MySQL's 64
// bytes), hexadecimal literals so that no quoting is involved.
func xaName(id datasource.XAID) string {
	node, tail := id.Node(), id.Tail()
	b := make([]byte, 0, 2*(len(node)+len(tail))+16)
	b = append(b, "X'"...)
	b = hex.AppendEncode(b, []byte(node))
	b = append(b, "',X'"...)
	b = hex.AppendEncode(b, []byte(tail))
	b = append(b, "',"...)
	b = strconv.AppendInt(b, xaFormat, 10)
	return string(b)
}

// XACheck refuses servers whose prepared branches do not survive the end
// of the session that prepared them (MariaDB before 10.5, MySQL before
// 5.7.7): there a killed RM process would take its prepared branches with
// it, even when the coordinator has decided to commit them.
func (Dialect) XACheck(ctx context.Context, c driver.Conn) error {
	rows, err := datasource.QueryRaw(ctx, c, "SELECT VERSION()")
	if err != nil {
		return err
	}
	if len(rows) != 1 || len(rows[0]) != 1 {
		return txc.Errorf(txc.CodeInternal, "datasource/mysql: SELECT VERSION() returned %d rows", len(rows))
	}
	if v := string(toBytes(rows[0][0])); !xaDurable(v) {
		return &datasource.XAUnavailableError{Reason: "server " + v + " rolls a prepared XA branch back when the session that prepared it ends (MariaDB 10.5 and MySQL 5.7.7 keep it): a killed RM would lose branches the coordinator commits"}
	}
	return nil
}

// xaDurable reports whether a server of version v (SELECT VERSION())
// keeps prepared branches across the end of their session.
func xaDurable(v string) bool {
	var major, minor, patch int
	fmt.Sscanf(v, "%d.%d.%d", &major, &minor, &patch)
	if strings.Contains(strings.ToLower(v), "mariadb") {
		return major > 10 || major == 10 && minor >= 5
	}
	return major > 5 || major == 5 && (minor > 7 || minor == 7 && patch >= 7)
}

// XAStart runs XA START, after SET TRANSACTION ISOLATION LEVEL when opts
// asks for one. A read-only transaction is refused: XA START has no
// read-only form.
func (Dialect) XAStart(ctx context.Context, c driver.Conn, id datasource.XAID, opts driver.TxOptions) error {
	if opts.ReadOnly {
		return txc.Errorf(txc.CodeUnsupported, "datasource/mysql: a read-only local transaction cannot be an XA branch (XA START has no read-only form)")
	}
	if lvl := sql.IsolationLevel(opts.Isolation); lvl != sql.LevelDefault {
		name, ok := map[sql.IsolationLevel]string{
			sql.LevelReadUncommitted: "READ UNCOMMITTED", sql.LevelReadCommitted: "READ COMMITTED",
			sql.LevelRepeatableRead: "REPEATABLE READ", sql.LevelSerializable: "SERIALIZABLE",
		}[lvl]
		if !ok {
			return txc.Errorf(txc.CodeUnsupported, "datasource/mysql: isolation level %v is not supported by MySQL", lvl)
		}
		if err := datasource.ExecRaw(ctx, c, "SET TRANSACTION ISOLATION LEVEL "+name); err != nil {
			return err
		}
	}
	return datasource.ExecRaw(ctx, c, "XA START "+xaName(id))
}

// XAPrepare runs XA END and XA PREPARE.
func (Dialect) XAPrepare(ctx context.Context, c driver.Conn, id datasource.XAID) error {
	if err := datasource.ExecRaw(ctx, c, "XA END "+xaName(id)); err != nil {
		return err
	}
	return datasource.ExecRaw(ctx, c, "XA PREPARE "+xaName(id))
}

// XAAbort runs XA END (refused when the branch is ended already) and XA
// ROLLBACK (unknown XID: nothing left).
func (Dialect) XAAbort(ctx context.Context, c driver.Conn, id datasource.XAID) error {
	if err := datasource.ExecRaw(ctx, c, "XA END "+xaName(id)); err != nil && !isXAError(err, errXARMFail) && !isXAError(err, errXANotA) {
		return err
	}
	err := datasource.ExecRaw(ctx, c, "XA ROLLBACK "+xaName(id))
	if isXAError(err, errXANotA) {
		return nil
	}
	return err
}

// XAFinish runs XA COMMIT or XA ROLLBACK; an unknown XID matches
// datasource.ErrXANotPrepared.
func (Dialect) XAFinish(ctx context.Context, c driver.Conn, id datasource.XAID, commit bool) error {
	q := "XA ROLLBACK "
	if commit {
		q = "XA COMMIT "
	}
	err := datasource.ExecRaw(ctx, c, q+xaName(id))
	if isXAError(err, errXANotA) {
		return errors.Join(datasource.ErrXANotPrepared, err)
	}
	return err
}

// XARecover reads XA RECOVER (the whole server's prepared branches) and
// keeps txc's.
func (Dialect) XARecover(ctx context.Context, c driver.Conn) ([]datasource.XAID, error) {
	rows, err := datasource.QueryRaw(ctx, c, "XA RECOVER")
	if err != nil {
		return nil, err
	}
	var out []datasource.XAID
	for _, r := range rows {
		if len(r) < 4 || toInt(r[0]) != xaFormat {
			continue
		}
		gl, bl := toInt(r[1]), toInt(r[2])
		data := toBytes(r[3])
		if gl < 0 || bl < 0 || int(gl+bl) > len(data) {
			continue
		}
		if id, ok := datasource.XAIDFromParts(string(data[:gl]), string(data[gl:gl+bl])); ok {
			out = append(out, id)
		}
	}
	return out, nil
}

// XASessionBound: on MariaDB a prepared branch cannot be finished from
// another session while the one that prepared it lives (XAER_NOTA), and
// that session can run nothing but reads until it finishes the branch.
// MySQL 8 detaches the branch at XA PREPARE; holding it costs nothing
// there.
func (Dialect) XASessionBound() bool { return true }

func isXAError(err error, number uint16) bool {
	var me *gomysql.MySQLError
	return errors.As(err, &me) && me.Number == number
}

func toInt(v driver.Value) int64 {
	switch x := v.(type) {
	case int64:
		return x
	case []byte:
		var n int64
		fmt.Sscan(string(x), &n)
		return n
	case string:
		var n int64
		fmt.Sscan(x, &n)
		return n
	}
	return -1
}

func toBytes(v driver.Value) []byte {
	switch x := v.(type) {
	case []byte:
		return x
	case string:
		return []byte(x)
	}
	return nil
}
