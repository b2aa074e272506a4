package dialecttest

import (
	"context"
	"errors"
	"testing"

	"github.com/txcio/txc"
	"github.com/txcio/txc/datasource"
)

// rawRefusedInGlobal: datasource.Raw, which hands the wrapped driver's
// connection to code that needs it, refuses inside a global transaction
// (what runs there is not imaged), and inside a local transaction of one
// whatever its ctx says, without calling f and changing nothing. (Each
// dialect's tests show it reaching the driver outside.)
func rawRefusedInGlobal(t *testing.T, e *Env) {
	tb := e.Table("dt_raw", kv, kvSeed)
	ctx := context.Background()
	c, err := e.Proxy.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	before := e.Dump(tb)
	called := false
	_, err = e.Coordinator.Global(func(gctx context.Context) error {
		return datasource.Raw(gctx, c, func(any) error { called = true; return nil })
	})
	if !errors.Is(err, txc.ErrUnsupported) || called {
		t.Fatalf("Raw in a global transaction: %v (f called: %v)", err, called)
	}
	_, err = e.Coordinator.Global(func(gctx context.Context) error {
		tx, err := c.BeginTx(gctx, nil)
		if err != nil {
			return err
		}
		defer tx.Rollback()
		// The local transaction belongs to the global one, whatever ctx says.
		return datasource.Raw(ctx, c, func(any) error { called = true; return nil })
	})
	if !errors.Is(err, txc.ErrUnsupported) || called {
		t.Fatalf("Raw in a local transaction of a global one: %v (f called: %v)", err, called)
	}
	if got := e.Dump(tb); got != before {
		t.Fatalf("refused Raw changed rows:\n%s\nwant:\n%s", got, before)
	}
}
