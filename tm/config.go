package tm

import (
	"time"

	"github.com/txcio/txc"
)

// DefaultName is the transaction name used when Config.Name is empty.
const DefaultName = "default"

// Config describes how WithGlobalTx (or Manager.Begin) demarcates a global
// transaction. The zero Config is valid: name DefaultName, the
// coordinator's default timeout, propagation Required.
type Config struct {
	// Name labels the transaction in the coordinator's logs, metrics and
	// console. Empty means DefaultName. At most txc.MaxNameLen bytes.
	Name string
	// Timeout is the transaction's budget: if it is not committed within
	// Timeout of its Begin, the coordinator rolls it back. Zero means the
	// coordinator's default. Negative is invalid.
	Timeout time.Duration
	// Propagation says what WithGlobalTx does when ctx already carries a
	// global transaction. The zero value is Required. Manager.Begin ignores
	// it: Begin always begins a new transaction.
	Propagation Propagation
	// LockWait bounds how long a branch of the transaction waits for rows
	// another global transaction has locked (the registration at an AT
	// local commit, rm.Manager.RegisterBranch): past it the registration fails with a lock conflict naming the
	// holder, and the local transaction rolls back. While a registration
	// waits, its local transaction keeps the rows' local locks, which a
	// rollback of the holder needs: a short wait bounds that stall. It wins
	// over the resource's and the resource manager's bounds
	// (datasource.WithLockWait, rm.WithLockWait); zero leaves theirs;
	// negative is invalid. It never outlasts ctx; past Timeout the
	// coordinator rolls the transaction back and the wait ends with that
	// (within one backoff delay). It travels in the ctx fn gets
	// (LockWaitFromContext), and with the XID to other processes through
	// this package's interceptors and RoundTripper (LockWaitKey,
	// LockWaitHeader: rounded up to whole milliseconds, a day at most),
	// where it may shorten their resources' bounds but never lengthen
	// them (rm.Manager.LockWaitFor). A call that joins a transaction
	// already in ctx (Required) keeps that transaction's lock wait, not
	// its own.
	LockWait time.Duration
}

func (c Config) name() string {
	if c.Name == "" {
		return DefaultName
	}
	return c.Name
}

// validate checks c; failures are *txc.Error with CodeInvalidArgument.
func (c Config) validate() error {
	if len(c.Name) > txc.MaxNameLen {
		return txc.Errorf(txc.CodeInvalidArgument, "tm: transaction name is %d bytes, more than the limit of %d", len(c.Name), txc.MaxNameLen)
	}
	if c.Timeout < 0 {
		return txc.Errorf(txc.CodeInvalidArgument, "tm: negative transaction timeout %v", c.Timeout)
	}
	if c.LockWait < 0 {
		return txc.Errorf(txc.CodeInvalidArgument, "tm: negative lock wait %v", c.LockWait)
	}
	if !c.Propagation.valid() {
		return txc.Errorf(txc.CodeInvalidArgument, "tm: unknown propagation %v", c.Propagation)
	}
	return nil
}
