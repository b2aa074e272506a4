package mysql

import (
	"strings"

	"github.com/pingcap/tidb/pkg/parser/ast"
)

// A stored function runs statements of its own, which may write any
// table: `UPDATE t SET n = f()` or a plain `SELECT f()` in a global
// transaction wrote rows no image held, committed them with the local
// transaction, and the global rollback left them (found by a test). The
// server calls a stored function for a name that is schema-qualified or
// not one of its native functions, and, for some native names, for the
// name quoted or spaced from its '(' (`year`(d) and count (1) call
// stored functions year and count when they exist). A call the server
// may resolve to a stored function is refused, whatever kind of
// statement holds it.

// The names MariaDB 10.11 resolves to its own functions (from
// information_schema.SQL_FUNCTIONS and its grammar), by the forms in
// which it does (each checked by TestNativeFunctionsAreNative, which
// calls a stored function of every name in every form). A name native
// in MySQL but not in MariaDB (REGEXP_LIKE) is left out: on MariaDB it
// would call a stored function of that name. A native function missing
// here is refused, never run unseen.
const (
	// nativeAnyForm: native however written: quoted, or with space or
	// a comment before '('.
	nativeAnyForm = `
	abs acos addtime add_months aes_decrypt aes_encrypt asin atan atan2 benchmark bin binlog_gtid_pos bit_count
	bit_length ceil ceiling character_length char_length chr coalesce coercibility collation column_check
	column_exists column_json column_list compress concat concat_operator_oracle concat_ws connection_id conv
	convert_tz cos cot crc32 crc32c database datediff date_format dayname dayofmonth dayofweek dayofyear decode
	decode_histogram decode_oracle degrees des_decrypt des_encrypt elt encode encrypt exp export_set extractvalue
	field find_in_set floor format found_rows from_base64 from_days from_unixtime get_lock greatest hex ifnull
	inet6_aton inet6_ntoa inet_aton inet_ntoa instr isnull is_free_lock is_ipv4 is_ipv4_compat is_ipv4_mapped
	is_ipv6 is_used_lock json_array json_array_append json_array_insert json_compact json_contains
	json_contains_path json_depth json_detailed json_equals json_exists json_extract json_insert json_keys
	json_length json_loose json_merge json_merge_patch json_merge_preserve json_normalize json_object
	json_overlaps json_pretty json_query json_quote json_remove json_replace json_search json_set json_type
	json_unquote json_valid json_value last_day last_insert_id lcase least length lengthb ln load_file locate log
	log10 log2 lower lpad lpad_oracle ltrim ltrim_oracle makedate maketime make_set master_gtid_wait
	master_pos_wait md5 microsecond mod monthname name_const natural_sort_key nullif nvl nvl2 oct octet_length
	old_password ord password period_add period_diff pi pow power quarter quote radians rand random_bytes
	regexp_instr regexp_replace regexp_substr release_all_locks release_lock replace_oracle reverse round
	row_count rpad rpad_oracle rtrim rtrim_oracle schema schemas sec_to_time sformat sha sha1 sha2 sign sin sleep
	soundex space sqrt strcmp str_to_date substring_index substr_oracle subtime sys_guid tan timediff time_format
	time_to_sec to_base64 to_char to_days to_seconds ucase uncompress uncompressed_length unhex unix_timestamp
	updatexml upper uuid uuid_short version week weekday weekofyear wsrep_last_seen_gtid wsrep_last_written_gtid
	wsrep_sync_wait_upto_gtid yearweek contains st_astext st_aswkt st_asbinary st_aswkb st_geomfromtext
	st_geometryfromtext st_pointfromtext st_geomfromwkb st_x st_y st_srid st_distance st_distance_sphere
	st_contains st_within st_intersects st_geomfromgeojson st_asgeojson linestring polygon multipoint
	multilinestring multipolygon geometrycollection st_area st_boundary st_buffer
	st_centroid st_convexhull st_crosses st_difference st_dimension st_disjoint st_endpoint st_envelope st_equals
	st_exteriorring st_geomcollfromtext st_geomcollfromwkb st_geometryfromwkb st_geometryn st_geometrytype
	st_interiorringn st_intersection st_isclosed st_isempty st_isring st_issimple st_length
	st_linefromtext st_linefromwkb st_linestringfromtext st_numgeometries st_numinteriorrings st_numpoints
	st_overlaps st_pointfromwkb st_pointn st_pointonsurface st_polyfromtext st_polyfromwkb st_polygonfromtext
	st_relate st_startpoint st_symdifference st_touches st_union mbrcontains
	mbrdisjoint mbrequals mbrintersects mbroverlaps mbrtouches mbrwithin`
	// nativeSpaced: native bare, also with space before '(', not quoted.
	nativeSpaced = `
	char current_user current_role date day hour insert interval left minute month right second time timestamp
	user year current_date current_time current_timestamp get_format localtime localtimestamp sysdate
	timestampadd timestampdiff utc_date utc_time utc_timestamp column_add column_create column_delete column_get
	ascii charset if last_value repeat replace truncate weight_string convert nextval lastval setval avg
	row_number`
	// nativeBare: native bare with '(' right after the name only.
	nativeBare = `
	adddate bit_and bit_or bit_xor cast count cume_dist curdate curtime date_add date_sub dense_rank extract
	first_value group_concat json_arrayagg json_objectagg lag lead max median mid min now nth_value ntile
	percentile_cont percentile_disc percent_rank position rank session_user std stddev stddev_pop stddev_samp
	subdate substr substring sum system_user trim trim_oracle variance var_pop var_samp`
)

// callForm is how a call names its function: quoted, or with space or
// a comment between the name and '(' (spaced), or neither.
type callForm uint8

const (
	formBare callForm = iota
	formSpaced
	formQuoted
)

// native maps each native name to the least form it is native in
// (formQuoted: any form), with the names the TiDB parser gives some of
// them (never the source's: see sourceCall).
var native = map[string]callForm{ast.CharFunc: formBare, ast.InsertFunc: formBare, ast.DateLiteral: formBare, ast.TimeLiteral: formBare, ast.TimestampLiteral: formBare}

func init() {
	for names, f := range map[string]callForm{nativeAnyForm: formQuoted, nativeSpaced: formSpaced, nativeBare: formBare} {
		for _, n := range strings.Fields(names) {
			native[n] = f
		}
	}
}

// routineCall walks a statement (parsed from text) for a call the server
// may resolve to a stored function.
type routineCall struct {
	text string
	name string
}

func (r *routineCall) Enter(n ast.Node) (ast.Node, bool) {
	if r.name != "" {
		return n, true
	}
	switch x := n.(type) {
	case *ast.CallStmt:
		return n, true // refused as a procedure call, see Recognize
	case *ast.FuncCallExpr:
		if x.Schema.L != "" {
			r.name = x.Schema.O + "." + x.FnName.O
			return n, true
		}
		if x.FnName.L == "point" && len(x.Args) == 2 {
			break // native with two arguments in any form; with one it calls a stored function point
		}
		r.check(x.FnName.O, x.OriginTextPosition())
	case *ast.AggregateFuncExpr:
		r.check(x.F, x.OriginTextPosition())
	case *ast.WindowFuncExpr:
		r.check(x.Name, x.OriginTextPosition())
	}
	return n, r.name != ""
}

func (r *routineCall) Leave(n ast.Node) (ast.Node, bool) { return n, true }

// check notes name, a function the parser found at offset at of the
// text, when the server may resolve it, or the call as the text writes
// it, to a stored function.
func (r *routineCall) check(name string, at int) {
	if _, ok := native[strings.ToLower(name)]; !ok {
		r.name = name
		return
	}
	if src, form, ok := sourceCall(r.text, at); ok {
		if least, known := native[strings.ToLower(src)]; !known || form > least {
			r.name = src
		}
	}
}

// sourceCall reads the call at offset at of text: the name written there
// (unquoted) and its form. ok is false where no name followed by '('
// starts there: the parser made the call of other syntax (a DATE
// literal, + INTERVAL, CURRENT_TIMESTAMP without parentheses), which
// names no function the server could look up.
func sourceCall(text string, at int) (name string, form callForm, ok bool) {
	if at < 0 || at >= len(text) {
		return "", 0, false
	}
	i := at
	if text[i] == '`' {
		form = formQuoted
		var sb strings.Builder
		for i++; i < len(text); i++ {
			if text[i] == '`' {
				if i+1 < len(text) && text[i+1] == '`' {
					sb.WriteByte('`')
					i++
					continue
				}
				break
			}
			sb.WriteByte(text[i])
		}
		name, i = sb.String(), i+1
	} else {
		for i < len(text) && identByte(text[i]) {
			i++
		}
		name = text[at:i]
	}
	j := skipSpace(text, i)
	if name == "" || j >= len(text) || text[j] != '(' {
		return "", 0, false
	}
	if j > i && form == formBare {
		form = formSpaced
	}
	return name, form, true
}

// skipSpace returns the offset of the first byte at or after i of text
// that is neither whitespace nor in a comment.
func skipSpace(text string, i int) int {
	for i < len(text) {
		switch {
		case isSpace(text[i]):
			i++
		case strings.HasPrefix(text[i:], "/*"):
			end := strings.Index(text[i+2:], "*/")
			if end < 0 {
				return len(text)
			}
			i += end + 4
		case strings.HasPrefix(text[i:], "#"), strings.HasPrefix(text[i:], "-- "):
			end := strings.IndexByte(text[i:], '\n')
			if end < 0 {
				return len(text)
			}
			i += end + 1
		default:
			return i
		}
	}
	return i
}

// storedFunctionCall returns the name of the first function stmt (parsed
// from text) calls that the server may resolve to a stored function, or
// "".
func storedFunctionCall(stmt ast.StmtNode, text string) string {
	r := &routineCall{text: text}
	stmt.Accept(r)
	return r.name
}
