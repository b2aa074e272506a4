package saga

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
)

// A path names a value in the data a template or condition sees:
//
//	$.input.<field>...        the saga's input (a sub machine's own input inside one)
//	$.vars.<name>...          variables set by Output mappings
//	$.out.<state>...          the output of a completed step of the same machine
//	$.output...               the step's output (in Output mappings)
//	$.step.input / .output    the compensated step's input and output (in compensations)
//
// Segments are ".name" or "[index]". A path that names nothing yields null.
type path []pathSeg

type pathSeg struct {
	key   string
	index int // -1 for a key
}

func parsePath(s string) (path, error) {
	if !strings.HasPrefix(s, "$") {
		return nil, fmt.Errorf("path %q does not start with $", s)
	}
	rest := s[1:]
	var p path
	for rest != "" {
		switch rest[0] {
		case '.':
			rest = rest[1:]
			end := strings.IndexAny(rest, ".[")
			if end < 0 {
				end = len(rest)
			}
			if end == 0 {
				return nil, fmt.Errorf("path %q has an empty segment", s)
			}
			p = append(p, pathSeg{key: rest[:end], index: -1})
			rest = rest[end:]
		case '[':
			end := strings.IndexByte(rest, ']')
			if end < 0 {
				return nil, fmt.Errorf("path %q: unclosed [", s)
			}
			n, err := strconv.Atoi(rest[1:end])
			if err != nil || n < 0 {
				return nil, fmt.Errorf("path %q: bad index %q", s, rest[1:end])
			}
			p = append(p, pathSeg{index: n})
			rest = rest[end+1:]
		default:
			return nil, fmt.Errorf("path %q: expected . or [ at %q", s, rest)
		}
	}
	if len(p) == 0 {
		return nil, fmt.Errorf("path %q names the whole data; start with $.input, $.vars, $.out, $.output or $.step", s)
	}
	switch p[0].key {
	case "input", "vars", "out", "output", "step":
	default:
		return nil, fmt.Errorf("path %q: unknown root %q (want input, vars, out, output or step)", s, p[0].key)
	}
	return p, nil
}

// get resolves p in root; ok is false when some segment is absent.
func (p path) get(root map[string]any) (any, bool) {
	var cur any = root
	for _, s := range p {
		switch v := cur.(type) {
		case map[string]any:
			if s.index >= 0 {
				return nil, false
			}
			x, ok := v[s.key]
			if !ok {
				return nil, false
			}
			cur = x
		case []any:
			if s.index < 0 || s.index >= len(v) {
				return nil, false
			}
			cur = v[s.index]
		default:
			return nil, false
		}
	}
	return cur, true
}

// template is a compiled input template.
type template struct {
	lit  any
	path path
	obj  map[string]*template
	arr  []*template
	kind byte // 'l' literal, 'p' path, 'o' object, 'a' array
}

// compileTemplate compiles a JSON-like value (what encoding/json decodes
// into any, plus the typed maps and slices the builder accepts). Nil
// compiles to nil: the default input.
func compileTemplate(v any) (*template, error) {
	if v == nil {
		return nil, nil
	}
	return compileValue(v)
}

func compileValue(v any) (*template, error) {
	switch x := v.(type) {
	case string:
		if strings.HasPrefix(x, "$") {
			p, err := parsePath(x)
			if err != nil {
				return nil, err
			}
			return &template{kind: 'p', path: p}, nil
		}
		return &template{kind: 'l', lit: x}, nil
	case Ref:
		return compileValue(string(x))
	case map[string]any:
		t := &template{kind: 'o', obj: make(map[string]*template, len(x))}
		for _, k := range slices.Sorted(maps.Keys(x)) {
			c, err := compileValue(x[k])
			if err != nil {
				return nil, fmt.Errorf("%s: %w", k, err)
			}
			t.obj[k] = c
		}
		return t, nil
	case map[string]string:
		m := make(map[string]any, len(x))
		for k, s := range x {
			m[k] = s
		}
		return compileValue(m)
	case []any:
		t := &template{kind: 'a'}
		for i, e := range x {
			c, err := compileValue(e)
			if err != nil {
				return nil, fmt.Errorf("[%d]: %w", i, err)
			}
			t.arr = append(t.arr, c)
		}
		return t, nil
	case nil, bool, float64, float32, int, int64, int32, uint, uint64, uint32:
		return &template{kind: 'l', lit: normalizeNumber(x)}, nil
	default:
		// Any other value (a struct, a typed map or slice) is a literal:
		// its JSON form, with no path inside it.
		b, err := json.Marshal(v)
		if err != nil {
			return nil, fmt.Errorf("template value of type %T: %v", v, err)
		}
		var lit any
		if err := json.Unmarshal(b, &lit); err != nil {
			return nil, fmt.Errorf("template value of type %T: %v", v, err)
		}
		return &template{kind: 'l', lit: lit}, nil
	}
}

func normalizeNumber(v any) any {
	switch n := v.(type) {
	case float32:
		return float64(n)
	case int:
		return float64(n)
	case int64:
		return float64(n)
	case int32:
		return float64(n)
	case uint:
		return float64(n)
	case uint64:
		return float64(n)
	case uint32:
		return float64(n)
	}
	return v
}

func (t *template) eval(root map[string]any) any {
	switch t.kind {
	case 'p':
		v, _ := t.path.get(root)
		return v
	case 'o':
		m := make(map[string]any, len(t.obj))
		for k, c := range t.obj {
			m[k] = c.eval(root)
		}
		return m
	case 'a':
		a := make([]any, len(t.arr))
		for i, c := range t.arr {
			a[i] = c.eval(root)
		}
		return a
	}
	return t.lit
}

// outputMapping sets variable name to the value at path.
type outputMapping struct {
	name string
	path path
}

func compileOutput(m map[string]string) ([]outputMapping, error) {
	var out []outputMapping
	for _, k := range slices.Sorted(maps.Keys(m)) {
		if k == "" {
			return nil, errors.New("empty variable name")
		}
		p, err := parsePath(m[k])
		if err != nil {
			return nil, fmt.Errorf("%s: %w", k, err)
		}
		out = append(out, outputMapping{name: k, path: p})
	}
	return out, nil
}

// Ref is a path in a builder template: FromInput("sku") is Ref("$.input.sku").
type Ref string

// FromInput refers to a field of the saga's input (a dotted path).
func FromInput(field string) Ref { return Ref("$.input." + field) }

// FromOutput refers to a field (a dotted path; empty: all of it) of the
// output of an earlier step.
func FromOutput(step, field string) Ref {
	if field == "" {
		return Ref("$.out." + step)
	}
	return Ref("$.out." + step + "." + field)
}

// FromVar refers to a variable set by an Output mapping.
func FromVar(name string) Ref { return Ref("$.vars." + name) }

// Cond is a condition of a Choice rule: either a comparison of the value at
// Variable (a path) with Value by Op, or a combination (And, Or, Not).
type Cond struct {
	Variable string
	Op       CondOp
	Value    any
	And, Or  []Cond
	Not      *Cond
}

// CondOp is a comparison of a Cond.
type CondOp string

// Comparisons. The Numeric ones need a number at Variable and in Value;
// IsPresent and IsNull need a bool Value (true: holds when present/null).
const (
	StringEquals             CondOp = "StringEquals"
	NumericEquals            CondOp = "NumericEquals"
	NumericLessThan          CondOp = "NumericLessThan"
	NumericGreaterThan       CondOp = "NumericGreaterThan"
	NumericLessThanEquals    CondOp = "NumericLessThanEquals"
	NumericGreaterThanEquals CondOp = "NumericGreaterThanEquals"
	BooleanEquals            CondOp = "BooleanEquals"
	IsPresent                CondOp = "IsPresent"
	IsNull                   CondOp = "IsNull"
)

type cond struct {
	path    path
	op      CondOp
	str     string
	num     float64
	boolean bool
	and, or []*cond
	not     *cond
}

func compileCond(c Cond) (*cond, error) {
	n := 0
	if c.Op != "" || c.Variable != "" {
		n++
	}
	if c.And != nil {
		n++
	}
	if c.Or != nil {
		n++
	}
	if c.Not != nil {
		n++
	}
	if n != 1 {
		return nil, errors.New("a condition is exactly one of a comparison, And, Or or Not")
	}
	out := &cond{op: c.Op}
	switch {
	case c.Not != nil:
		x, err := compileCond(*c.Not)
		if err != nil {
			return nil, fmt.Errorf("Not: %w", err)
		}
		out.not = x
		return out, nil
	case c.And != nil || c.Or != nil:
		list, dst, name := c.And, &out.and, "And"
		if c.Or != nil {
			list, dst, name = c.Or, &out.or, "Or"
		}
		if len(list) == 0 {
			return nil, fmt.Errorf("%s: empty", name)
		}
		for i, e := range list {
			x, err := compileCond(e)
			if err != nil {
				return nil, fmt.Errorf("%s[%d]: %w", name, i, err)
			}
			*dst = append(*dst, x)
		}
		return out, nil
	}
	p, err := parsePath(c.Variable)
	if err != nil {
		return nil, fmt.Errorf("Variable: %w", err)
	}
	out.path = p
	v := normalizeNumber(c.Value)
	switch c.Op {
	case StringEquals:
		s, ok := v.(string)
		if !ok {
			return nil, fmt.Errorf("%s needs a string value, got %T", c.Op, c.Value)
		}
		out.str = s
	case NumericEquals, NumericLessThan, NumericGreaterThan, NumericLessThanEquals, NumericGreaterThanEquals:
		f, ok := v.(float64)
		if !ok {
			return nil, fmt.Errorf("%s needs a number value, got %T", c.Op, c.Value)
		}
		out.num = f
	case BooleanEquals, IsPresent, IsNull:
		b, ok := v.(bool)
		if !ok {
			return nil, fmt.Errorf("%s needs a boolean value, got %T", c.Op, c.Value)
		}
		out.boolean = b
	case "":
		return nil, errors.New("no comparison operator")
	default:
		return nil, fmt.Errorf("unknown comparison %q", c.Op)
	}
	return out, nil
}

func (c *cond) eval(root map[string]any) bool {
	switch {
	case c.not != nil:
		return !c.not.eval(root)
	case c.and != nil:
		for _, x := range c.and {
			if !x.eval(root) {
				return false
			}
		}
		return true
	case c.or != nil:
		for _, x := range c.or {
			if x.eval(root) {
				return true
			}
		}
		return false
	}
	v, present := c.path.get(root)
	switch c.op {
	case IsPresent:
		return present == c.boolean
	case IsNull:
		return (present && v == nil) == c.boolean
	case StringEquals:
		s, ok := v.(string)
		return ok && s == c.str
	case BooleanEquals:
		b, ok := v.(bool)
		return ok && b == c.boolean
	}
	f, ok := normalizeNumber(v).(float64)
	if !ok {
		return false
	}
	switch c.op {
	case NumericEquals:
		return f == c.num
	case NumericLessThan:
		return f < c.num
	case NumericGreaterThan:
		return f > c.num
	case NumericLessThanEquals:
		return f <= c.num
	case NumericGreaterThanEquals:
		return f >= c.num
	}
	return false
}
