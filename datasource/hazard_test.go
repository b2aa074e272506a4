package datasource

import (
	"errors"
	"strings"
	"testing"

	"github.com/txcio/txc"
)

// hazardTable is a table t (id, code UNIQUE, n) with the hazards h;
// fold compares column names as MySQL does.
func hazardTable(h Hazards, fold bool) *Table {
	t := &Table{Name: "t", Columns: []string{"id", "code", "n"}, AllColumns: []string{"id", "code", "n"},
		PK: []string{"id"}, Unique: [][]string{{"code"}}, Hazards: h}
	if fold {
		t.SameName = strings.EqualFold
	}
	return t
}

func TestRefuseTable(t *testing.T) {
	cases := []struct {
		name string
		edit func(*Table)
		want string // "" = accepted
	}{
		{"plain table", func(*Table) {}, ""},
		{"view", func(t *Table) { t.Hazards.NotTable = `relkind "v"` }, `t is not a table (relkind "v")`},
		{"view without key: the kind is named", func(t *Table) { t.Hazards.NotTable = "a view"; t.PK = nil }, "is not a table"},
		{"no primary key", func(t *Table) { t.PK = nil }, "has no primary key"},
		{"storage engine", func(t *Table) { t.Hazards.Engine = "MyISAM" }, "storage engine MyISAM, not InnoDB"},
		{"inheritance children", func(t *Table) { t.Hazards.InheritanceChildren = true }, "inheritance children"},
		{"generated key column", func(t *Table) { t.PK = []string{"g"}; t.AllColumns = append(t.AllColumns, "g") }, `primary-key column "g" of t is generated`},
		{"key spelled otherwise, names folded", func(t *Table) { t.PK = []string{"ID"}; t.SameName = strings.EqualFold }, ""},
		{"key spelled otherwise, names exact", func(t *Table) { t.PK = []string{"ID"} }, `primary-key column "ID"`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			tb := hazardTable(Hazards{}, false)
			c.edit(tb)
			err := RefuseTable(tb)
			if c.want == "" {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			if !errors.Is(err, txc.ErrUnsupported) || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("err = %v, want ErrUnsupported naming %q", err, c.want)
			}
		})
	}
}

func TestRefuseWrite(t *testing.T) {
	var (
		insert  = TableWrite{Op: OpInsert, Undo: true}
		ignore  = TableWrite{Op: OpInsertIgnore, Undo: true}
		replace = TableWrite{Op: OpReplace, Undo: true}
		upsertN = TableWrite{Op: OpUpsert, Assigned: []string{"n"}, Undo: true}
		upsertC = TableWrite{Op: OpUpsert, Assigned: []string{"code"}, Undo: true}
		setN    = TableWrite{Op: OpUpdate, Assigned: []string{"n"}, Undo: true}
		setCode = TableWrite{Op: OpUpdate, Assigned: []string{"code"}, Undo: true}
		setID   = TableWrite{Op: OpUpdate, Assigned: []string{"id"}, Undo: true}
		setIDUp = TableWrite{Op: OpUpdate, Assigned: []string{"ID"}, Undo: true}
		del     = TableWrite{Op: OpDelete, Undo: true}
		locked  = func(w TableWrite) TableWrite { w.Undo = false; return w }
		every   = []TableWrite{insert, ignore, replace, upsertN, setN, setID, del}
	)
	type check struct {
		w    TableWrite
		want string // "" = allowed
	}
	each := func(ws []TableWrite, want string) []check {
		out := make([]check, len(ws))
		for i, w := range ws {
			out[i] = check{w, want}
		}
		return out
	}
	cases := []struct {
		name   string
		h      Hazards
		fold   bool
		checks []check
	}{
		{"none", Hazards{}, false, each(append(every, upsertC, setCode), "")},
		{"named trigger", Hazards{Triggers: true, Trigger: "t_audit"}, true, each(every, "has trigger t_audit")},
		{"triggers", Hazards{Triggers: true}, false, each(every, "table t has triggers")},
		{"rules", Hazards{Rules: true}, false, each(every, "rewrite rules")},
		{"lossy column", Hazards{LossyColumn: "n", LossyWhy: "is money"}, false, each(every, `column "n" of t is money`)},
		{"named ON DELETE cascade, rollback without actions", Hazards{CascadeDelete: true, CascadeDeleteKey: "s.c.fk"}, true, []check{
			{del, "foreign key s.c.fk references t with ON DELETE CASCADE"},
			{replace, "ON DELETE CASCADE"},
			{setID, ""}, {insert, ""}, {ignore, ""}, {upsertN, ""}, {setN, ""},
		}},
		{"ON DELETE cascade, rollback firing actions", Hazards{CascadeDelete: true, RollbackCascades: true}, false, []check{
			{del, "a foreign key that cascades (or sets NULL/DEFAULT) on delete references t"},
			{setID, "cascades (or sets NULL/DEFAULT) on delete"},
			{setN, ""}, {setCode, ""}, {insert, ""},
		}},
		{"named ON UPDATE cascade, names folded", Hazards{CascadeUpdate: []Cascade{{Column: "Code", Key: "s.c.fk"}}}, true, []check{
			{setCode, `foreign key s.c.fk references column "code" of t with ON UPDATE CASCADE`},
			{upsertC, "ON UPDATE CASCADE"},
			{setN, ""}, {upsertN, ""}, {del, ""}, {replace, ""}, {insert, ""},
		}},
		{"named ON UPDATE cascade, names exact", Hazards{CascadeUpdate: []Cascade{{Column: "Code", Key: "s.c.fk"}}}, false, []check{
			{setCode, ""},
		}},
		{"ON UPDATE cascade on some key column", Hazards{CascadeUpdate: []Cascade{{Column: "id"}, {Column: "code"}}}, false, []check{
			{setID, `unique-key column "id" of t, which a foreign key that cascades`},
			{setCode, `unique-key column "code"`},
			{upsertC, `unique-key column "code"`},
			{setIDUp, ""}, {setN, ""}, {upsertN, ""}, {del, ""},
		}},
		{"identity always", Hazards{IdentityAlways: []string{"n"}}, false, []check{
			{setN, `column "n" of t, which is GENERATED ALWAYS AS IDENTITY`},
			{upsertN, "GENERATED ALWAYS"},
			{insert, ""}, {setCode, ""}, {del, ""},
		}},
		{"row-level security on the rollback's user", Hazards{HiddenFromRollback: true}, false, append(each(every, "row-level security on t"),
			each([]TableWrite{locked(insert), locked(setN), locked(del)}, "")...)},
		{"hidden referrer", Hazards{HiddenReferrer: "s.child", HiddenWhy: "it cannot be read by"}, false, []check{
			{insert, "s.child references t, and it cannot be read by the database user a rollback connects as"},
			{ignore, "s.child"}, {upsertN, "s.child"}, {replace, "s.child"}, {setCode, "s.child"}, {setID, "s.child"},
			{setN, ""}, {del, ""}, {locked(insert), ""}, {locked(setCode), ""},
		}},
		{"system-versioned", Hazards{Versioned: true}, true, []check{
			{upsertN, "system-versioned table t"},
			{insert, ""}, {ignore, ""}, {replace, ""}, {setN, ""}, {del, ""},
		}},
		{"unique key on a column prefix", Hazards{PrefixKey: "code_pfx"}, true, []check{
			{ignore, "unique key code_pfx of t indexes a column prefix"},
			{replace, "column prefix"}, {upsertN, "column prefix"},
			{insert, ""}, {setCode, ""}, {del, ""},
		}},
		{"row-level security is named before triggers", Hazards{HiddenFromRollback: true, Triggers: true}, false, []check{
			{insert, "row-level security"}, {locked(insert), "has triggers"},
		}},
		{"ON DELETE is named before ON UPDATE", Hazards{CascadeDelete: true, RollbackCascades: true, CascadeUpdate: []Cascade{{Column: "id"}}}, false, []check{
			{setID, "on delete"},
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			tb := hazardTable(c.h, c.fold)
			for _, ch := range c.checks {
				ch.w.Statement = "STATEMENT"
				err := RefuseWrite(ch.w, tb)
				if ch.want == "" {
					if err != nil {
						t.Errorf("%+v refused: %v", ch.w, err)
					}
					continue
				}
				var re *RefusedError
				if !errors.As(err, &re) || !errors.Is(err, txc.ErrRefused) || !errors.Is(err, txc.ErrUnsupported) ||
					!strings.Contains(re.Reason, ch.want) || re.Statement != "STATEMENT" {
					t.Errorf("%+v: err = %v, want a *RefusedError of STATEMENT naming %q", ch.w, err, ch.want)
				}
			}
		})
	}
}

// TestTableNames: IsPK and Column compare names as the dialect says.
func TestTableNames(t *testing.T) {
	exact, folded := hazardTable(Hazards{}, false), hazardTable(Hazards{}, true)
	if exact.IsPK("ID") || !exact.IsPK("id") || !folded.IsPK("ID") {
		t.Fatal("IsPK does not compare by SameName")
	}
	if _, ok := exact.Column("Code"); ok {
		t.Fatal("exact names: Code found as code")
	}
	if c, ok := folded.Column("Code"); !ok || c != "code" {
		t.Fatalf("folded names: Column(Code) = %q, %v", c, ok)
	}
}

func TestParkRestore(t *testing.T) {
	for _, c := range []struct {
		h    RestoreHazards
		want string // "" = goes on
	}{
		{RestoreHazards{}, ""},
		{RestoreHazards{Triggers: 2}, "it has 2 trigger(s)"},
		{RestoreHazards{Rules: true}, "rewrite rules"},
		{RestoreHazards{Unlockable: "no privilege"}, "cannot lock it against DDL while it writes the rows back (no privilege)"},
		{RestoreHazards{Unlockable: "no privilege", Triggers: 1, Rules: true}, "cannot lock"},
		{RestoreHazards{Triggers: 1, Rules: true}, "it has 1 trigger(s)"},
	} {
		got := ParkRestore(c.h)
		if c.want == "" && got != "" || !strings.Contains(got, c.want) {
			t.Errorf("ParkRestore(%+v) = %q, want %q", c.h, got, c.want)
		}
	}
}
