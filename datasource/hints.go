package datasource

// maxHints bounds the hints of a resource: past it they start over (a
// hint only saves work), so that names written once each (a table per
// tenant, say) cannot grow them without end.
const maxHints = 4096

// Hint returns what the dialect stored under key with SetHint on the
// statement's resource, for every connection of it (nil: nothing). A hint
// is a guess that saves work, such as which form of a query to send
// first: the dialect must check what the database answers before it
// trusts it, since another connection, or the database since, may see
// otherwise.
func (x *Exec) Hint(key any) any {
	v, _ := x.c.res.hints.Load(key)
	return v
}

// SetHint stores v under key on the statement's resource; a nil v
// deletes the key. Storing the value already there costs a lookup only.
// A resource keeps about maxHints of them (the count is approximate
// under concurrent stores); past that they are all dropped.
func (x *Exec) SetHint(key, v any) {
	r := x.c.res
	if v == nil {
		if _, had := r.hints.LoadAndDelete(key); had {
			r.nhints.Add(-1)
		}
		return
	}
	if old, ok := r.hints.Load(key); ok && old == v {
		return
	}
	if _, had := r.hints.Swap(key, v); !had && r.nhints.Add(1) > maxHints {
		r.hints.Clear()
		r.nhints.Store(0)
	}
}
