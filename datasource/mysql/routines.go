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
// not one of its native functions (a native name takes precedence over a
// stored function's: invoking one so named needs its schema), so a call
// of any other name is refused, whatever kind of statement holds it.

// native lists the names MariaDB 10.11 resolves to its own functions
// (information_schema.SQL_FUNCTIONS and the functions of its grammar,
// each checked by TestNativeFunctionsAreNative), with the names the TiDB
// parser gives some of them. A name native in MySQL but not in MariaDB
// (REGEXP_LIKE) is left out: on MariaDB it would call a stored function
// of that name. A native function missing here is refused, never run
// unseen.
var native = map[string]bool{ast.CharFunc: true, ast.InsertFunc: true, ast.DateLiteral: true, ast.TimeLiteral: true, ast.TimestampLiteral: true}

func init() {
	for _, f := range strings.Fields(nativeNames) {
		native[f] = true
	}
}

// nativeNames is native's list, space-separated: SQL_FUNCTIONS, then the
// grammar's functions, aggregates, window functions and a few geometry
// functions. The geometry constructors (POINT, …) are left out: called
// with other than their arguments they are not native.
const nativeNames = `
	abs acos adddate addtime add_months aes_decrypt aes_encrypt asin atan atan2 benchmark bin binlog_gtid_pos
	bit_and bit_count bit_length bit_or bit_xor cast ceil ceiling character_length char_length chr coalesce
	coercibility collation column_check column_exists column_json column_list compress concat
	concat_operator_oracle concat_ws connection_id conv convert_tz cos cot count crc32 crc32c cume_dist curdate
	curtime database datediff date_add date_format date_sub dayname dayofmonth dayofweek dayofyear decode
	decode_histogram decode_oracle degrees dense_rank des_decrypt des_encrypt elt encode encrypt exp export_set
	extract extractvalue field find_in_set first_value floor format found_rows from_base64 from_days
	from_unixtime get_lock greatest group_concat hex ifnull inet6_aton inet6_ntoa inet_aton inet_ntoa instr
	isnull is_free_lock is_ipv4 is_ipv4_compat is_ipv4_mapped is_ipv6 is_used_lock json_array json_arrayagg
	json_array_append json_array_insert json_compact json_contains json_contains_path json_depth json_detailed
	json_equals json_exists json_extract json_insert json_keys json_length json_loose json_merge json_merge_patch
	json_merge_preserve json_normalize json_object json_objectagg json_overlaps json_pretty json_query json_quote
	json_remove json_replace json_search json_set json_type json_unquote json_valid json_value lag last_day
	last_insert_id lcase lead least length lengthb ln load_file locate log log10 log2 lower lpad lpad_oracle
	ltrim ltrim_oracle makedate maketime make_set master_gtid_wait master_pos_wait max md5 median microsecond mid
	min mod monthname name_const natural_sort_key now nth_value ntile nullif nvl nvl2 oct octet_length
	old_password ord password percentile_cont percentile_disc percent_rank period_add period_diff pi position pow
	power quarter quote radians rand random_bytes rank regexp_instr regexp_replace regexp_substr
	release_all_locks release_lock replace_oracle reverse round row_count rpad rpad_oracle rtrim rtrim_oracle
	schema schemas sec_to_time session_user sformat sha sha1 sha2 sign sin sleep soundex space sqrt std stddev
	stddev_pop stddev_samp strcmp str_to_date subdate substr substring substring_index substr_oracle subtime sum
	system_user sys_guid tan timediff time_format time_to_sec to_base64 to_char to_days to_seconds trim
	trim_oracle ucase uncompress uncompressed_length unhex unix_timestamp updatexml upper uuid uuid_short
	variance var_pop var_samp version week weekday weekofyear wsrep_last_seen_gtid wsrep_last_written_gtid
	wsrep_sync_wait_upto_gtid yearweek

	char current_user current_role date day hour insert interval left minute month right second time timestamp
	user year current_date current_time current_timestamp get_format localtime localtimestamp sysdate
	timestampadd timestampdiff utc_date utc_time utc_timestamp column_add column_create column_delete column_get
	ascii charset contains if last_value repeat replace truncate weight_string convert nextval lastval setval
	avg row_number
	st_astext st_aswkt st_asbinary st_aswkb st_geomfromtext st_geometryfromtext st_pointfromtext st_geomfromwkb
	st_x st_y st_srid st_distance st_distance_sphere st_contains st_within st_intersects st_geomfromgeojson
	st_asgeojson`

// routineCall walks a statement for a call the server may resolve to a
// stored function.
type routineCall struct{ name string }

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
		} else if !native[x.FnName.L] {
			r.name = x.FnName.O
		}
	case *ast.AggregateFuncExpr:
		if !native[strings.ToLower(x.F)] {
			r.name = x.F
		}
	case *ast.WindowFuncExpr:
		if !native[strings.ToLower(x.Name)] {
			r.name = x.Name
		}
	}
	return n, r.name != ""
}

func (r *routineCall) Leave(n ast.Node) (ast.Node, bool) { return n, true }

// storedFunctionCall returns the name of the first function stmt calls
// that the server may resolve to a stored function, or "".
func storedFunctionCall(stmt ast.StmtNode) string {
	r := &routineCall{}
	stmt.Accept(r)
	return r.name
}
