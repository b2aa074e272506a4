package datasource

import (
	"fmt"

	"github.com/txcio/txc"
)

func invalid(format string, args ...any) error {
	return txc.Errorf(txc.CodeInvalidArgument, "datasource: "+format, args...)
}

// Unsupported makes the typed refusal of a statement AT mode cannot undo
// exactly: it matches txc.ErrUnsupported and names the reason and the
// statement (shortened). Dialect packages use it for their refusals.
func Unsupported(query, format string, args ...any) error {
	return txc.Errorf(txc.CodeUnsupported, "datasource: %s; "+refusedMark+": %s", fmt.Sprintf(format, args...), Shorten(query))
}

const refusedMark = "statement refused before it ran"

// Shorten returns query cut to at most 200 bytes, for messages and logs.
func Shorten(query string) string {
	const max = 200
	if len(query) <= max {
		return query
	}
	return query[:max] + "…"
}
