package datasource

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/txcio/txc"
	"github.com/txcio/txc/datasource/undo"
)

// cascadeGraph is a Cascades of n nodes of table t (rows with id 0…n-1)
// whose nodes roots are the statement's, with edges.
func cascadeGraph(n int, roots []int, edges ...cascadeEdge) *Cascades {
	t := &Table{Name: "t", Columns: []string{"id"}, PK: []string{"id"}}
	c := &Cascades{stmt: "STATEMENT", index: map[string]int{}, edges: edges}
	for i := range n {
		c.node(t, undo.Row{{Name: "id", Value: undo.Int(int64(i))}})
		c.nodes[i].root = slices.Contains(roots, i)
	}
	return c
}

// TestCascadeOrder: the rollback writes a referencing row back after the
// row it references, but before it for ON UPDATE CASCADE; the
// statement's rows go together; rows in no order share a layer; a cycle
// is refused.
func TestCascadeOrder(t *testing.T) {
	edge := func(p, c int) cascadeEdge { return cascadeEdge{parent: p, child: c} }
	first := func(p, c int) cascadeEdge { return cascadeEdge{parent: p, child: c, childFirst: true} }
	for _, c := range []struct {
		name          string
		n             int
		roots         []int
		edges         []cascadeEdge
		before, after string // layers, or "cycle"
	}{
		{"two levels", 5, []int{0, 1}, []cascadeEdge{edge(0, 2), edge(1, 3), edge(2, 4)}, "[]", "[[2 3] [4]]"},
		{"a row reached at two levels goes after both", 4, []int{0}, []cascadeEdge{edge(0, 1), edge(1, 2), edge(0, 2), edge(2, 3)}, "[]", "[[1] [2] [3]]"},
		{"on update cascade first", 4, []int{0}, []cascadeEdge{first(0, 1), first(1, 2), edge(0, 3)}, "[[2] [1]]", "[[3]]"},
		{"set null below an update cascade", 3, []int{0}, []cascadeEdge{first(0, 1), edge(1, 2)}, "[[1]]", "[[2]]"},
		{"edges among the statement's rows", 3, []int{0, 1}, []cascadeEdge{edge(0, 1), edge(1, 2)}, "[]", "[[2]]"},
		{"cycle", 3, []int{0}, []cascadeEdge{edge(0, 1), edge(1, 2), edge(2, 1)}, "cycle", ""},
		{"cycle through the statement's rows", 2, []int{0}, []cascadeEdge{edge(0, 1), first(0, 1)}, "cycle", ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			before, after, err := cascadeGraph(c.n, c.roots, c.edges...).order()
			if c.before == "cycle" {
				var re *RefusedError
				if !errors.As(err, &re) || !strings.Contains(re.Reason, "cycle") {
					t.Fatalf("err = %v, want a refusal naming a cycle", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := fmt.Sprint(before) + " " + fmt.Sprint(after); got != c.before+" "+c.after {
				t.Fatalf("order %s, want %s %s", got, c.before, c.after)
			}
		})
	}
}

// TestCascadeOutcome: a row an action reaches is recorded as deleted
// only if an action deletes it, as updated only in the columns the
// actions set; anything else fails.
func TestCascadeOutcome(t *testing.T) {
	t1 := &Table{Name: "c", Columns: []string{"id", "p", "n"}, PK: []string{"id"}}
	row := func(p undo.Value, n int64) undo.Row {
		return undo.Row{{Name: "id", Value: undo.Int(1)}, {Name: "p", Value: p}, {Name: "n", Value: undo.Int(n)}}
	}
	before := row(undo.Int(7), 1)
	key := RowKey(t1.PK, before)
	for _, c := range []struct {
		name    string
		node    cascadeNode
		now     undo.Row // nil: gone
		kind    undo.RecordKind
		failure string
	}{
		{"deleted", cascadeNode{deleted: true}, nil, undo.Delete, ""},
		{"gone unasked", cascadeNode{sets: []string{"p"}}, nil, 0, "no referential action it set off deletes it"},
		{"set null", cascadeNode{sets: []string{"p"}}, row(undo.Null(""), 1), undo.Update, ""},
		{"delete reached, not deleted", cascadeNode{deleted: true}, before, 0, ""},
		{"other column", cascadeNode{sets: []string{"p"}}, row(undo.Null(""), 2), 0, `column "n" of row (1) of c changed`},
		{"unchanged", cascadeNode{sets: []string{"p"}}, before, 0, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			n := c.node
			n.t, n.before = t1, before
			now := map[string]undo.Row{}
			if c.now != nil {
				now[key] = c.now
			}
			o, err := n.outcome(now)
			switch {
			case c.failure != "":
				if !errors.Is(err, txc.ErrUnsupported) || !strings.Contains(err.Error(), c.failure) {
					t.Fatalf("err = %v, want %q", err, c.failure)
				}
			case err != nil:
				t.Fatal(err)
			case o.kind != c.kind:
				t.Fatalf("kind %v, want %v", o.kind, c.kind)
			}
		})
	}
}
