package sqltable

// Plain reports whether s is a plain identifier of at most max bytes: an
// ASCII letter or underscore, then letters, digits and underscores. Such a
// name needs no quoting in either dialect (unless it is a reserved word)
// and can be put in a statement as it is.
func Plain(s string, max int) bool {
	if s == "" || len(s) > max {
		return false
	}
	for i := range len(s) {
		c := s[i]
		switch {
		case c == '_', 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z':
		case '0' <= c && c <= '9' && i > 0:
		default:
			return false
		}
	}
	return true
}
