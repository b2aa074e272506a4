package datasource

// Reinserter is an optional interface of a Dialect whose database
// generates values in some columns that a plain INSERT may not write,
// such as PostgreSQL's GENERATED ALWAYS AS IDENTITY: a rollback puts
// ReinsertClause between the column list and VALUES of its INSERT of
// deleted rows, so that each row gets back exactly the values its before
// image holds (PostgreSQL: "OVERRIDING SYSTEM VALUE", which it accepts on
// every table and which uses no sequence value). The clause must leave the
// rows' values as written in every other column.
type Reinserter interface {
	ReinsertClause() string
}

// reinsertClause is the dialect's ReinsertClause, with a leading space,
// or "" when it has none.
func (r *Resource) reinsertClause() string {
	if ri, ok := r.dialect.(Reinserter); ok {
		if c := ri.ReinsertClause(); c != "" {
			return " " + c
		}
	}
	return ""
}
