package postgres_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/txcio/txc"
	"github.com/txcio/txc/internal/dbtest"
)

// TestPlainProbeRelationNoLongerPlain: a connection that wrote a plain
// table probes it next in the cheaper plain form. When the name has come
// to mean a partitioned table whose partition has a trigger, the write is
// refused for the trigger, as on a fresh connection: the plain form's
// answer (which sees no partition) is not trusted for it.
func TestPlainProbeRelationNoLongerPlain(t *testing.T) {
	e := newEnv(t)
	name := dbtest.Name("pp_became")
	fn := dbtest.Name("pp_fn")
	t.Cleanup(func() {
		e.plain.Exec(`DROP TABLE IF EXISTS "` + name + `" CASCADE`)
		e.plain.Exec("DROP FUNCTION IF EXISTS " + fn + " CASCADE")
	})
	e.exec("CREATE TABLE "+name+" (id int PRIMARY KEY, n int)", "INSERT INTO "+name+" VALUES (1, 0)",
		"CREATE FUNCTION "+fn+"() RETURNS trigger LANGUAGE plpgsql AS $$BEGIN RETURN NEW; END$$")
	e.db.SetMaxOpenConns(1)
	write := func() error {
		_, err := e.global(func(ctx context.Context) error {
			_, err := e.db.ExecContext(ctx, "UPDATE "+name+" SET n = n + 1 WHERE id = 1")
			return err
		})
		return err
	}
	for range 2 { // the second write probes in the plain form
		if err := write(); err != nil {
			t.Fatal(err)
		}
	}
	e.exec("DROP TABLE "+name, "CREATE TABLE "+name+" (id int PRIMARY KEY, n int) PARTITION BY RANGE (id)",
		"CREATE TABLE "+name+"_p PARTITION OF "+name+" FOR VALUES FROM (0) TO (10)",
		"CREATE TRIGGER t BEFORE UPDATE ON "+name+"_p FOR EACH ROW EXECUTE FUNCTION "+fn+"()",
		"INSERT INTO "+name+" VALUES (1, 0)")
	err := write()
	if !errors.Is(err, txc.ErrUnsupported) || !strings.Contains(err.Error(), "triggers") {
		t.Fatalf("write to the partitioned table: %v, want ErrUnsupported for its partition's trigger", err)
	}
	if got := e.value("SELECT n FROM " + name + " WHERE id = 1"); got != "0" {
		t.Fatalf("n = %s after the refused write, want 0", got)
	}
}
