package mysql

import (
	"reflect"
	"strings"

	"github.com/pingcap/tidb/pkg/parser/ast"

	"github.com/txcio/txc/datasource"
)

// deterministic lists the functions whose value depends only on their
// arguments (and on session settings a statement cannot change while it
// runs), so that the before image's SELECT and the statement itself see
// the same value for the same row. Anything else in the WHERE, ORDER BY,
// LIMIT or join conditions of an UPDATE or DELETE (RAND, NOW, UUID,
// SLEEP, LAST_INSERT_ID, functions reading tables, user functions, …) is
// refused: the image could select other rows than the statement writes.
var deterministic = map[string]bool{}

func init() {
	for _, f := range strings.Fields(`
		abs acos asin atan atan2 ceil ceiling conv cos cot crc32 degrees div exp floor ln log log10 log2 mod pi pow power
		radians round sign sin sqrt tan truncate
		ascii bin bit_length char char_length character_length concat concat_ws elt field find_in_set format from_base64 hex
		insert instr lcase left length locate lower lpad ltrim make_set mid oct octet_length ord position quote repeat replace
		reverse right rpad rtrim soundex space strcmp substr substring substring_index to_base64 trim ucase unhex upper
		weight_string regexp_like regexp_instr regexp_replace regexp_substr
		coalesce greatest least if ifnull isnull nullif interval
		adddate addtime convert_tz date date_add date_format date_sub datediff day dayname dayofmonth dayofweek dayofyear
		extract from_days hour last_day makedate maketime microsecond minute month monthname period_add period_diff quarter
		sec_to_time second str_to_date subdate subtime time time_format time_to_sec timediff timestamp timestampadd
		timestampdiff to_days to_seconds week weekday weekofyear year yearweek
		md5 sha sha1 sha2 compress uncompress uncompressed_length inet_aton inet_ntoa inet6_aton inet6_ntoa is_ipv4 is_ipv6
		json_array json_contains json_contains_path json_depth json_extract json_keys json_length json_object json_quote
		json_search json_type json_unquote json_valid json_value json_overlaps json_member_of
		bit_count cast convert binary charset collation coercibility`) {
		deterministic[f] = true
	}
}

// purity walks the parts of an UPDATE or DELETE that choose its rows.
type purity struct {
	bad string // what was found, empty if nothing
	// keyed: a subquery is allowed (and not walked into) and noted in
	// sub: the statement runs keyed (see keyed.go).
	keyed, sub bool
}

func (p *purity) Enter(n ast.Node) (ast.Node, bool) {
	if p.bad != "" {
		return n, true
	}
	switch x := n.(type) {
	case *ast.SubqueryExpr, *ast.SelectStmt, *ast.SetOprStmt, *ast.ExistsSubqueryExpr:
		if p.keyed {
			p.sub = true
			return n, true
		}
		p.bad = "a subquery (its rows are read from a snapshot by the image but current by the statement, and are not locked; only a single-table UPDATE or DELETE without ORDER BY, LIMIT or IGNORE may read one in its WHERE)"
	case *ast.FuncCallExpr:
		if !deterministic[x.FnName.L] || (x.FnName.L == "unix_timestamp" && len(x.Args) == 0) {
			p.bad = "function " + strings.ToUpper(x.FnName.O) + " (not known to give the same value to the image and the statement)"
		}
	case *ast.VariableExpr:
		switch {
		case x.IsSystem:
			p.bad = "system variable @@" + x.Name
		case x.Value != nil:
			p.bad = "an assignment to @" + x.Name
		}
	case *ast.AggregateFuncExpr, *ast.WindowFuncExpr:
		p.bad = "an aggregate or window function"
	}
	return n, p.bad != ""
}

func (p *purity) Leave(n ast.Node) (ast.Node, bool) { return n, true }

// choosesRowsDeterministically refuses an UPDATE or DELETE whose row
// choice (from, where, order, limit) is not deterministic, or reads
// through a subquery.
func (p *planner) choosesRowsDeterministically(parts ...ast.Node) error {
	for _, n := range parts {
		if v := reflect.ValueOf(n); n == nil || (v.Kind() == reflect.Pointer && v.IsNil()) {
			continue
		}
		w := &purity{}
		n.Accept(w)
		if w.bad != "" {
			return datasource.Unsupported(p.query, "the rows it writes are chosen with %s", w.bad)
		}
	}
	return nil
}

// orderItem is one ORDER BY item: a column (qual may be empty) or, with
// col empty, an expression.
type orderItem struct{ qual, col string }

func orderItems(o *ast.OrderByClause) []orderItem {
	if o == nil {
		return nil
	}
	out := make([]orderItem, len(o.Items))
	for i, it := range o.Items {
		if c, ok := it.Expr.(*ast.ColumnNameExpr); ok {
			out[i] = orderItem{qual: c.Name.Table.O, col: c.Name.Name.O}
		}
	}
	return out
}

// totalOrder refuses a LIMIT whose ORDER BY does not end with every
// primary-key column of t (referred to as ref): otherwise the image and
// the statement may pick different rows among equal sort keys.
func totalOrder(query string, limited bool, order []orderItem, ref string, t *datasource.Table) error {
	if !limited {
		return nil
	}
	if len(order) < len(t.PK) {
		return datasource.Unsupported(query, "LIMIT without an ORDER BY that ends with the whole primary key (%s): the rows it writes are not determined", strings.Join(t.PK, ", "))
	}
	tail := order[len(order)-len(t.PK):]
	seen := map[string]bool{}
	for _, it := range tail {
		if it.col == "" || !t.IsPK(it.col) || (it.qual != "" && !strings.EqualFold(it.qual, ref)) || seen[strings.ToLower(it.col)] {
			return datasource.Unsupported(query, "LIMIT without an ORDER BY that ends with the whole primary key (%s): the rows it writes are not determined", strings.Join(t.PK, ", "))
		}
		seen[strings.ToLower(it.col)] = true
	}
	return nil
}
