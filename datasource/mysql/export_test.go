package mysql

// SessionQueries returns how many session queries checkSession has run
// in this process.
func SessionQueries() int64 { return sessionQueries.Load() }

// AfterQueries returns how many after-image queries this process has run.
func AfterQueries() int64 { return afterQueries.Load() }

// RoundedText is roundedText: the integer the server stores for decimal
// text in an integer column.
var RoundedText = roundedText

// XAName is xaName: the XA identifier of a branch in SQL.
var XAName = xaName

// XADurable is xaDurable.
var XADurable = xaDurable

// ReturningAt is returningAt: where a statement's RETURNING list may
// begin.
var ReturningAt = returningAt

// NativeAnyForm, NativeSpaced and NativeBare are the names of the
// functions the server resolves to its own (written in any form; not
// quoted; bare with '(' right after), which AT mode lets statements call.
const (
	NativeAnyForm = nativeAnyForm
	NativeSpaced  = nativeSpaced
	NativeBare    = nativeBare
)

// RoundTrips is roundTrips: the character sets whose text survives the
// trip through utf8mb4.
var RoundTrips = roundTrips
