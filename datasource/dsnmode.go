package datasource

import (
	"strings"
)

// DSNModeParam is the DSN parameter that picks the mode of a database
// opened by driver name (sql.Open("txc-mysql", "…/test?txc_mode=xa")):
// "xa" or "at" (the default). It goes in the DSN's query (after "?") or,
// in a keyword/value DSN, as one more "txc_mode=xa" pair; the proxy
// removes it before the wrapped driver reads the DSN.
const DSNModeParam = "txc_mode"

// dsnMode removes DSNModeParam from dsn and returns the rest and the mode
// it named (AT when absent). Another value is an InvalidArgument error.
func dsnMode(dsn string) (string, Mode, error) {
	if !strings.Contains(dsn, DSNModeParam+"=") {
		return dsn, AT, nil
	}
	var value string
	keep := func(kv string) bool {
		k, v, _ := strings.Cut(kv, "=")
		if k != DSNModeParam {
			return true
		}
		value = v
		return false
	}
	slash := strings.LastIndexByte(dsn, '/')
	if q := strings.IndexByte(dsn[slash+1:], '?'); q >= 0 {
		q += slash + 1
		var params []string
		for _, kv := range strings.Split(dsn[q+1:], "&") {
			if keep(kv) {
				params = append(params, kv)
			}
		}
		dsn = dsn[:q]
		if len(params) > 0 {
			dsn += "?" + strings.Join(params, "&")
		}
	} else {
		var fields []string
		for _, kv := range strings.Fields(dsn) {
			if keep(kv) {
				fields = append(fields, kv)
			}
		}
		dsn = strings.Join(fields, " ")
	}
	switch strings.ToLower(value) {
	case "xa":
		return dsn, XA, nil
	case "at", "":
		return dsn, AT, nil
	}
	return "", AT, invalid("%s=%q: the mode is xa or at", DSNModeParam, value)
}
