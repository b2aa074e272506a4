package datasource

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
func (x *Exec) SetHint(key, v any) {
	h := &x.c.res.hints
	if v == nil {
		h.Delete(key)
		return
	}
	if old, ok := h.Load(key); ok && old == v {
		return
	}
	h.Store(key, v)
}
