package tcc_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/txcio/txc"
	"github.com/txcio/txc/rm/tcc"
)

// newFence makes a fence on a fresh table of d.
func newFence(t *testing.T, d testDB) *tcc.Fence {
	t.Helper()
	table := uniqueName(t, d.db, "tcc_fence")
	f, err := tcc.NewFence(t.Context(), d.db, tcc.FenceOptions{Table: table, CreateTable: true})
	if err != nil {
		t.Fatal(err)
	}
	if f.Dialect() != d.dialect {
		t.Fatalf("detected dialect %v, want %v", f.Dialect(), d.dialect)
	}
	return f
}

// TestFenceSequences drives the fence through scripted deliveries and
// checks which business calls ran and what each step returned.
func TestFenceSequences(t *testing.T) {
	type step struct {
		op   string // try, confirm, cancel; "!" suffix: the business function fails
		want string // "" ok, "after-cancel", "permanent", "fail"
	}
	for _, d := range databases(t) {
		t.Run(d.name, func(t *testing.T) {
			t.Parallel()
			f := newFence(t, d)
			biz := bizTable(t, d)
			for i, sc := range []struct {
				name  string
				steps []step
				calls map[string]int // business calls per phase at the end
			}{
				{"commit, confirm repeated", []step{{"try", ""}, {"confirm", ""}, {"confirm", ""}, {"confirm", ""}},
					map[string]int{"try": 1, "confirm": 1}},
				{"rollback, cancel repeated", []step{{"try", ""}, {"cancel", ""}, {"cancel", ""}},
					map[string]int{"try": 1, "cancel": 1}},
				{"cancel before try, then try", []step{{"cancel", ""}, {"cancel", ""}, {"try", "after-cancel"}, {"cancel", ""}},
					map[string]int{}},
				{"failed try leaves no row", []step{{"try!", "fail"}, {"cancel", ""}, {"try", "after-cancel"}},
					map[string]int{}},
				{"failed confirm is retried", []step{{"try", ""}, {"confirm!", "fail"}, {"confirm", ""}, {"confirm", ""}},
					map[string]int{"try": 1, "confirm": 1}},
				{"failed cancel is retried", []step{{"try", ""}, {"cancel!", "fail"}, {"cancel", ""}},
					map[string]int{"try": 1, "cancel": 1}},
				{"confirm after cancel", []step{{"try", ""}, {"cancel", ""}, {"confirm", "permanent"}},
					map[string]int{"try": 1, "cancel": 1}},
				{"cancel after confirm", []step{{"try", ""}, {"confirm", ""}, {"cancel", "permanent"}},
					map[string]int{"try": 1, "confirm": 1}},
				{"confirm without try", []step{{"confirm", "permanent"}}, map[string]int{}},
			} {
				b := tcc.Branch{XID: txc.XID(fmt.Sprintf("seq:%d", i)), ID: txc.BranchID(1000 + i), ResourceID: "tcc:test", Participant: "p"}
				for j, s := range sc.steps {
					op, fail := strings.CutSuffix(s.op, "!")
					fn := func(ctx context.Context, tx *sql.Tx) error {
						if err := record(ctx, d.dialect, tx, biz, b, op, 1); err != nil {
							return err
						}
						if fail {
							return errors.New("business failure")
						}
						return nil
					}
					var err error
					switch op {
					case "try":
						err = f.Try(t.Context(), b, fn)
					case "confirm":
						err = f.Confirm(t.Context(), b, fn)
					case "cancel":
						err = f.Cancel(t.Context(), b, fn)
					}
					var bad bool
					switch s.want {
					case "":
						bad = err != nil
					case "after-cancel":
						bad = !errors.Is(err, tcc.ErrTryAfterCancel) || !errors.Is(err, txc.ErrRolledBack)
					case "permanent":
						bad = !txc.IsPermanent(err)
					case "fail":
						bad = err == nil || txc.IsPermanent(err)
					}
					if bad {
						t.Errorf("%s: step %d (%s): err = %v, want %q", sc.name, j, s.op, err, s.want)
					}
				}
				for _, phase := range []string{"try", "confirm", "cancel"} {
					if got := calls(t, d, biz, b, phase); got != sc.calls[phase] {
						t.Errorf("%s: %s ran %d times, want %d", sc.name, phase, got, sc.calls[phase])
					}
				}
			}
		})
	}
}

// TestFenceConcurrentDeliveries sends the same Confirm (or Cancel) from
// many goroutines at once: the business function runs once.
func TestFenceConcurrentDeliveries(t *testing.T) {
	for _, d := range databases(t) {
		t.Run(d.name, func(t *testing.T) {
			t.Parallel()
			f := newFence(t, d)
			biz := bizTable(t, d)
			for i, op := range []string{"confirm", "cancel", "cancel-without-try"} {
				b := tcc.Branch{XID: txc.XID(fmt.Sprintf("conc:%d", i)), ID: txc.BranchID(i + 1), Participant: "p"}
				if op != "cancel-without-try" {
					if err := f.Try(t.Context(), b, func(ctx context.Context, tx *sql.Tx) error { return nil }); err != nil {
						t.Fatal(err)
					}
				}
				var wg sync.WaitGroup
				errs := make(chan error, 8)
				for range 8 {
					wg.Go(func() {
						fn := func(ctx context.Context, tx *sql.Tx) error {
							time.Sleep(20 * time.Millisecond) // hold the row lock a while
							return record(ctx, d.dialect, tx, biz, b, op, 1)
						}
						if op == "confirm" {
							errs <- f.Confirm(t.Context(), b, fn)
						} else {
							errs <- f.Cancel(t.Context(), b, fn)
						}
					})
				}
				wg.Wait()
				close(errs)
				for err := range errs {
					if err != nil {
						t.Errorf("%s: %v", op, err)
					}
				}
				want := 1
				if op == "cancel-without-try" {
					want = 0
				}
				if got := calls(t, d, biz, b, op); got != want {
					t.Errorf("%s ran %d times under 8 concurrent deliveries, want %d", op, got, want)
				}
			}
		})
	}
}

// TestFenceCancelWaitsForInFlightTry: a Cancel arriving while its Try's
// local transaction is open waits for it and then cancels what Try did.
func TestFenceCancelWaitsForInFlightTry(t *testing.T) {
	for _, d := range databases(t) {
		t.Run(d.name, func(t *testing.T) {
			t.Parallel()
			f := newFence(t, d)
			biz := bizTable(t, d)
			b := tcc.Branch{XID: "race:1", ID: 7, Participant: "p"}
			inTry, release := make(chan struct{}), make(chan struct{})
			tryErr := make(chan error, 1)
			go func() {
				tryErr <- f.Try(t.Context(), b, func(ctx context.Context, tx *sql.Tx) error {
					close(inTry)
					<-release
					return record(ctx, d.dialect, tx, biz, b, "try", 1)
				})
			}()
			<-inTry
			cancelErr := make(chan error, 1)
			go func() {
				cancelErr <- f.Cancel(t.Context(), b, func(ctx context.Context, tx *sql.Tx) error {
					return record(ctx, d.dialect, tx, biz, b, "cancel", 1)
				})
			}()
			waitForLockWait(t, d, f.Table()) // the Cancel waits on the row the Try holds
			close(release)
			if err := <-tryErr; err != nil {
				t.Fatalf("try: %v", err)
			}
			if err := <-cancelErr; err != nil {
				t.Fatalf("cancel: %v", err)
			}
			if calls(t, d, biz, b, "try") != 1 || calls(t, d, biz, b, "cancel") != 1 {
				t.Fatalf("try ran %d, cancel %d; want 1 and 1", calls(t, d, biz, b, "try"), calls(t, d, biz, b, "cancel"))
			}
		})
	}
}

func TestFenceCleanup(t *testing.T) {
	for _, d := range databases(t) {
		t.Run(d.name, func(t *testing.T) {
			t.Parallel()
			f := newFence(t, d)
			nop := func(context.Context, *sql.Tx) error { return nil }
			br := func(i int) tcc.Branch { return tcc.Branch{XID: "clean:1", ID: txc.BranchID(i), Participant: "p"} }
			ctx := t.Context()
			must := func(err error) {
				if err != nil {
					t.Helper()
					t.Fatal(err)
				}
			}
			must(f.Try(ctx, br(1), nop)) // stays tried
			must(f.Try(ctx, br(2), nop))
			must(f.Confirm(ctx, br(2), nop))
			must(f.Try(ctx, br(3), nop))
			must(f.Cancel(ctx, br(3), nop))
			must(f.Cancel(ctx, br(4), nop)) // suspended
			if n, err := f.Cleanup(ctx, time.Hour); err != nil || n != 0 {
				t.Fatalf("cleanup with 1h retention deleted %d (%v), want 0", n, err)
			}
			time.Sleep(10 * time.Millisecond)
			if n, err := f.Cleanup(ctx, time.Millisecond); err != nil || n != 3 {
				t.Fatalf("cleanup deleted %d (%v), want the 3 finished rows", n, err)
			}
			var left int
			must(d.db.QueryRow("SELECT COUNT(*) FROM " + f.Table()).Scan(&left))
			if left != 1 {
				t.Fatalf("%d rows left, want the tried one", left)
			}
			// RunCleanup stops with its ctx.
			rctx, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
			defer cancel()
			if err := f.RunCleanup(rctx, 50*time.Millisecond, time.Millisecond); !errors.Is(err, context.DeadlineExceeded) {
				t.Fatalf("RunCleanup returned %v", err)
			}
		})
	}
}

func TestSchemaAndOptions(t *testing.T) {
	for _, d := range []tcc.Dialect{tcc.MySQL, tcc.Postgres} {
		s, err := tcc.Schema(d, "")
		if err != nil || !strings.Contains(s, "CREATE TABLE IF NOT EXISTS txc_tcc_fence") {
			t.Fatalf("%v schema: %v\n%s", d, err, s)
		}
		s, _ = tcc.Schema(d, "my_fence")
		if strings.Contains(s, "txc_tcc_fence") || !strings.Contains(s, "my_fence") {
			t.Fatalf("%v schema with a table name:\n%s", d, s)
		}
	}
	for _, bad := range []string{"a;b", "x y", "1abc", "s.t", strings.Repeat("a", 49)} {
		if _, err := tcc.Schema(tcc.MySQL, bad); !errors.Is(err, txc.ErrInvalidArgument) {
			t.Errorf("table %q: %v", bad, err)
		}
	}
	if _, err := tcc.Schema(tcc.DialectAuto, ""); !errors.Is(err, txc.ErrInvalidArgument) {
		t.Errorf("auto dialect schema: %v", err)
	}
	for _, d := range databases(t) {
		// CreateTable is idempotent; without it a missing table shows at first use.
		table := uniqueName(t, d.db, "tcc_fence")
		for range 2 {
			if _, err := tcc.NewFence(t.Context(), d.db, tcc.FenceOptions{Table: table, CreateTable: true, Dialect: d.dialect}); err != nil {
				t.Fatalf("%s: %v", d.name, err)
			}
		}
		f, err := tcc.NewFence(t.Context(), d.db, tcc.FenceOptions{Table: uniqueName(t, d.db, "tcc_missing")})
		if err != nil {
			t.Fatal(err)
		}
		err = f.Try(t.Context(), tcc.Branch{XID: "x:1", ID: 1}, func(context.Context, *sql.Tx) error { return nil })
		if err == nil || errors.Is(err, tcc.ErrTryAfterCancel) {
			t.Fatalf("%s: try on a missing table: %v", d.name, err)
		}
	}
}
