// Package txc holds the domain types shared by every part of txc: transaction
// and branch identifiers, global and branch statuses, branch types, lock keys
// and the typed errors that cross package and process boundaries.
//
// The package does no I/O. The coordinator lives in tc, the transaction
// manager API in tm, resource managers in rm, and the client connection to a
// coordinator in client.
package txc

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// BranchID identifies a branch. It is unique across all global transactions
// of one coordinator deployment, never reused.
type BranchID uint64

// BranchType says how a branch is driven through phase 2.
type BranchType uint8

// Branch types. The numeric values are part of the wire protocol and of the
// stored state; never renumber them.
const (
	BranchTypeUnknown BranchType = 0
	// BranchAT is an automatic-transaction branch: a local SQL transaction
	// whose undo log lets the RM roll it back. Phase-2 commit only deletes
	// the undo log, so the coordinator commits AT branches asynchronously.
	BranchAT BranchType = 1
	// BranchTCC is a Try/Confirm/Cancel participant.
	BranchTCC BranchType = 2
	// BranchSaga is a saga instance driven by the saga engine.
	BranchSaga BranchType = 3
	// BranchGeneric is a branch whose phase 2 is whatever its RM handler
	// does; used by tests, benchmarks and custom resources.
	BranchGeneric BranchType = 4
	// BranchXA is a branch driven by the database's own two-phase commit
	// (MySQL XA, PostgreSQL PREPARE TRANSACTION): phase 1 leaves it
	// prepared, holding its database locks; phase 2 commits or rolls back
	// the prepared transaction.
	BranchXA BranchType = 5
)

var branchTypeNames = [...]string{"Unknown", "AT", "TCC", "Saga", "Generic", "XA"}

func (t BranchType) String() string {
	if int(t) < len(branchTypeNames) {
		return branchTypeNames[t]
	}
	return fmt.Sprintf("BranchType(%d)", uint8(t))
}

// Valid reports whether t is one of the defined branch types other than
// BranchTypeUnknown.
func (t BranchType) Valid() bool { return t >= BranchAT && t <= BranchXA }

// ParseBranchType is the inverse of BranchType.String (case-insensitive).
func ParseBranchType(s string) (BranchType, error) {
	for i, n := range branchTypeNames {
		if i > 0 && strings.EqualFold(n, s) {
			return BranchType(i), nil
		}
	}
	return BranchTypeUnknown, Errorf(CodeInvalidArgument, "txc: unknown branch type %q", s)
}

// LockKey names rows of one table of one resource that a branch locks
// globally. Each element of Rows is one row's primary key as produced by
// RowKey, so composite keys cannot forge one another.
type LockKey struct {
	Table string
	Rows  []string
}

// RowKey encodes a row's primary key values (one value for a simple key,
// several for a composite key) into one string. Values are escaped so that
// no choice of values can produce the encoding of another tuple: ',' joins
// values, '\' escapes ',' and '\' inside a value, and each byte that is not
// part of valid UTF-8 (a binary key) is written as \xHH, so that the key is
// valid UTF-8, as the protocol's strings must be.
func RowKey(values ...string) string {
	var b strings.Builder
	for i, v := range values {
		if i > 0 {
			b.WriteByte(',')
		}
		for j := 0; j < len(v); {
			c := v[j]
			if c == ',' || c == '\\' {
				b.WriteByte('\\')
				b.WriteByte(c)
				j++
				continue
			}
			if c < utf8.RuneSelf {
				b.WriteByte(c)
				j++
				continue
			}
			r, n := utf8.DecodeRuneInString(v[j:])
			if r == utf8.RuneError && n == 1 {
				const hex = "0123456789abcdef"
				b.WriteString(`\x`)
				b.WriteByte(hex[c>>4])
				b.WriteByte(hex[c&0xf])
			} else {
				b.WriteString(v[j : j+n])
			}
			j += n
		}
	}
	return b.String()
}

// SplitRowKey is the inverse of RowKey.
func SplitRowKey(key string) []string {
	var out []string
	var cur strings.Builder
	for i := 0; i < len(key); i++ {
		switch c := key[i]; {
		case c == '\\' && i+3 < len(key) && key[i+1] == 'x' && isHex(key[i+2]) && isHex(key[i+3]):
			cur.WriteByte(unhex(key[i+2])<<4 | unhex(key[i+3]))
			i += 3
		case c == '\\' && i+1 < len(key):
			i++
			cur.WriteByte(key[i])
		case c == ',':
			out = append(out, cur.String())
			cur.Reset()
		default:
			cur.WriteByte(c)
		}
	}
	return append(out, cur.String())
}

func isHex(c byte) bool { return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' }

func unhex(c byte) byte {
	if c <= '9' {
		return c - '0'
	}
	return c - 'a' + 10
}

// Limits on request fields. A request that exceeds one is refused with
// CodeInvalidArgument and changes nothing.
const (
	MaxNameLen        = 256     // transaction name
	MaxResourceIDLen  = 512     // resource ID
	MaxApplicationLen = 1 << 20 // application data of a branch, bytes
	MaxLockRows       = 100000  // rows locked by one branch registration
	MaxLockKeyLen     = 4096    // one table name or row key, bytes
	// MaxResourcesPerStream bounds the distinct resource IDs one RM stream
	// announces over its life: the coordinator keeps them per stream and
	// in every partition's core.
	MaxResourcesPerStream = 4096
	// MaxClientNameLen bounds the name a client gives in its Hello
	// (client.WithName): the coordinator keeps it per stream and logs it.
	MaxClientNameLen = 256
	// MaxBranchesPerTransaction bounds the branches of one global
	// transaction: phase 2 looks at all of them for each result, so their
	// number squared is the coordinator's work.
	MaxBranchesPerTransaction = 1000
)
