package tcc_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/txcio/txc"
	"github.com/txcio/txc/rm/tcc"
)

// TestFenceUnderIsolationLevels runs the races that the fence must win
// (a Cancel overtaking a Try still open, which then commits or fails;
// concurrent duplicate Confirms and empty Cancels) with the fence's
// transactions at each isolation level, on both databases.
func TestFenceUnderIsolationLevels(t *testing.T) {
	levels := []sql.IsolationLevel{sql.LevelReadCommitted, sql.LevelRepeatableRead, sql.LevelSerializable}
	for _, d := range databases(t) {
		for _, lvl := range levels {
			t.Run(d.name+"/"+lvl.String(), func(t *testing.T) {
				table := uniqueName(t, d.db, "tcc_fence")
				f, err := tcc.NewFence(t.Context(), d.db, tcc.FenceOptions{Table: table, CreateTable: true, TxOptions: &sql.TxOptions{Isolation: lvl}})
				if err != nil {
					t.Fatal(err)
				}
				biz := bizTable(t, d)
				rec := func(b tcc.Branch, phase string) func(ctx context.Context, tx *sql.Tx) error {
					return func(ctx context.Context, tx *sql.Tx) error { return record(ctx, d.dialect, tx, biz, b, phase, 1) }
				}
				for i, tryFails := range []bool{false, true} {
					b := tcc.Branch{XID: txc.XID(fmt.Sprintf("iso:%d", i)), ID: 1, Participant: "p"}
					cancelOvertakesTry(t, d, f, b, tryFails, rec)
					wantTry := 1
					if tryFails {
						wantTry = 0
						if err := f.Try(t.Context(), b, rec(b, "try")); !errors.Is(err, tcc.ErrTryAfterCancel) {
							t.Fatalf("try after the empty rollback: %v", err)
						}
					}
					if got, gotC := calls(t, d, biz, b, "try"), calls(t, d, biz, b, "cancel"); got != wantTry || gotC != wantTry {
						t.Fatalf("try failing %v: try ran %d, cancel %d; want %d each", tryFails, got, gotC, wantTry)
					}
				}
				b := tcc.Branch{XID: "iso:confirm", ID: 1, Participant: "p"}
				if err := f.Try(t.Context(), b, rec(b, "try")); err != nil {
					t.Fatal(err)
				}
				concurrently(t, 8, func() error { return f.Confirm(t.Context(), b, rec(b, "confirm")) })
				e := tcc.Branch{XID: "iso:empty", ID: 1, Participant: "p"}
				concurrently(t, 8, func() error { return f.Cancel(t.Context(), e, rec(e, "cancel")) })
				if err := f.Try(t.Context(), e, rec(e, "try")); !errors.Is(err, tcc.ErrTryAfterCancel) {
					t.Fatalf("try after 8 empty rollbacks: %v", err)
				}
				if calls(t, d, biz, b, "confirm") != 1 || calls(t, d, biz, e, "cancel") != 0 || calls(t, d, biz, e, "try") != 0 {
					t.Fatalf("confirm ran %d (want 1); empty cancel %d, refused try %d (want 0)",
						calls(t, d, biz, b, "confirm"), calls(t, d, biz, e, "cancel"), calls(t, d, biz, e, "try"))
				}
			})
		}
	}
}

// cancelOvertakesTry runs b's Try, holds its transaction open after its
// business change, delivers Cancel meanwhile, then lets the Try commit (or
// fail). Both must return without error, except the failing Try.
func cancelOvertakesTry(t *testing.T, d testDB, f *tcc.Fence, b tcc.Branch, tryFails bool, rec func(tcc.Branch, string) func(context.Context, *sql.Tx) error) {
	t.Helper()
	inTry, release := make(chan struct{}), make(chan struct{})
	tryErr := make(chan error, 1)
	go func() {
		tryErr <- f.Try(t.Context(), b, func(ctx context.Context, tx *sql.Tx) error {
			if err := rec(b, "try")(ctx, tx); err != nil {
				return err
			}
			close(inTry)
			<-release
			if tryFails {
				return errors.New("business failure")
			}
			return nil
		})
	}()
	<-inTry
	cancelErr := make(chan error, 1)
	go func() { cancelErr <- f.Cancel(t.Context(), b, rec(b, "cancel")) }()
	waitForLockWait(t, d, f.Table())
	close(release)
	if err := <-tryErr; (err != nil) != tryFails {
		t.Fatalf("try: %v", err)
	}
	if err := <-cancelErr; err != nil {
		t.Fatalf("cancel: %v", err)
	}
}

func concurrently(t *testing.T, n int, f func() error) {
	t.Helper()
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for range n {
		wg.Go(func() { errs <- f() })
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
}
