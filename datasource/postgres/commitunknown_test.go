package postgres_test

import (
	"context"
	"errors"
	"io"
	"net"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/txcio/txc/datasource"
	txcpg "github.com/txcio/txc/datasource/postgres"
)

// delayProxy forwards TCP to PostgreSQL; while *slow is set, data from
// the server to the client is held for 2 s (a slow or congested network).
func delayProxy(t *testing.T, slow *atomic.Bool) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			s, err := net.Dial("tcp", "127.0.0.1:5432")
			if err != nil {
				c.Close()
				continue
			}
			go func() { io.Copy(s, c); s.Close() }()
			go func() {
				buf := make([]byte, 64<<10)
				for {
					n, err := s.Read(buf)
					if n > 0 {
						if slow.Load() {
							time.Sleep(2 * time.Second)
						}
						if _, werr := c.Write(buf[:n]); werr != nil {
							break
						}
					}
					if err != nil {
						break
					}
				}
				c.Close()
			}()
		}
	}()
	return ln.Addr().String()
}

// TestCommitOutcomeUnknown: the pipelined undo insert and COMMIT reach the
// server and commit, but the answer comes after the local transaction's
// deadline. The outcome is unknown, so the branch must not be reported
// PhaseOneFailed (its locks released, skipped by the rollback): the global
// rollback finds the committed undo log and restores the row.
func TestCommitOutcomeUnknown(t *testing.T) {
	e := newEnv(t)
	tb := e.table("at_unknown", "CREATE TABLE {t} (id int PRIMARY KEY, v int)", "INSERT INTO {t} VALUES (1, 0)")
	seed := e.dump(tb)
	var slow atomic.Bool
	addr := delayProxy(t, &slow)
	cfg, err := pgx.ParseConfig("postgres://postgres@" + addr + "/test?sslmode=disable")
	if err != nil {
		t.Fatal(err)
	}
	db, err := txcpg.OpenDB(cfg, datasource.WithManager(e.rm), datasource.WithCreateUndoTable(), datasource.WithResourceID("postgres:unknown-outcome"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	// Statements prepared and metadata cached before the slow commit.
	if _, err := e.global(func(gctx context.Context) error {
		tx, err := db.BeginTx(gctx, nil)
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(gctx, "UPDATE "+tb+" SET v = 0 WHERE id = 1"); err != nil {
			return err
		}
		return tx.Commit()
	}); err != nil {
		t.Fatal(err)
	}
	xid, err := e.global(func(gctx context.Context) error {
		lctx, cancel := context.WithTimeout(gctx, time.Second)
		defer cancel()
		tx, err := db.BeginTx(lctx, nil)
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(lctx, "UPDATE "+tb+" SET v = 1 WHERE id = 1"); err != nil {
			return err
		}
		slow.Store(true)
		err = tx.Commit()
		slow.Store(false)
		if err == nil {
			return errors.New("the commit whose answer came after its deadline succeeded")
		}
		return err
	})
	if err == nil {
		t.Fatal("the global transaction committed")
	}
	e.rolledBack(xid, tb, seed)
	if n := e.undoRows(xid); n != 0 {
		t.Fatalf("%d undo rows left", n)
	}
}
