package datasource

import "strings"

// ColumnList is the select list ref.c1, ref.c2, … of cols, each name
// quoted by quote (the dialect's identifier quoting); ref may be empty.
func ColumnList(quote func(string) string, ref string, cols []string) string {
	var sb strings.Builder
	for i, c := range cols {
		if i > 0 {
			sb.WriteString(", ")
		}
		if ref != "" {
			sb.WriteString(quote(ref) + ".")
		}
		sb.WriteString(quote(c))
	}
	return sb.String()
}
