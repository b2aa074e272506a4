package mysql

// SessionQueries returns how many session queries checkSession has run
// in this process.
func SessionQueries() int64 { return sessionQueries.Load() }
