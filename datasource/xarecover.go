package datasource

import (
	"context"
	"database/sql/driver"
	"errors"
	"time"

	"github.com/txcio/txc"
)

// RecoverXA finishes the prepared txc branches the database holds (XA
// RECOVER, pg_prepared_xacts) whose global transaction the coordinator
// knows as finished: committed (the branch is committed) or rolled back
// (rolled back). A transaction the coordinator does not know although the
// XID is its own node's (finished and forgotten, or never committed) is
// rolled back: the coordinator records a commit before any branch commits
// and forgets it only after every branch acknowledged, so a branch still
// prepared cannot belong to a forgotten commit (presumed abort). A
// transaction still open or in its phase 2 (the coordinator delivers that
// itself), one parked for manual action, an XID of another coordinator
// node, and a coordinator that cannot answer leave the branch alone, as
// does a branch the session that prepared it still holds: nothing is
// guessed. It returns how many branches it finished. Opening a database
// in XA mode runs it in the background (again when SetDefaultManager
// gives the database its manager), then every xaRecoverEvery while the
// database is open.
func (r *Resource) RecoverXA(ctx context.Context) (int, error) {
	xd := r.xa()
	if xd == nil {
		return 0, invalid("resource %q is not open in XA mode", r.id)
	}
	m, err := r.manager()
	if err != nil {
		return 0, err
	}
	var ids []XAID
	err = r.onPhase2(ctx, func(c driver.Conn) error {
		var err error
		ids, err = xd.XARecover(ctx, c)
		return err
	})
	if err != nil {
		return 0, err
	}
	done := 0
	var errs []error
	for _, id := range ids {
		if isHeld(r.id, id) {
			continue
		}
		st, serr := m.Conn().Status(ctx, id.XID)
		commit, decided := decision(st, serr, m.Conn().Linked, id.XID)
		if !decided {
			continue
		}
		if err := r.xaFinish(ctx, id, commit); err != nil {
			errs = append(errs, err)
			continue
		}
		done++
		r.log.Info("datasource: recovered a prepared XA branch", "resource", r.id, "xid", id.XID, "branch", id.String(), "commit", commit)
	}
	return done, errors.Join(errs...)
}

// decision turns the coordinator's answer about a prepared branch's
// global transaction into its outcome (see RecoverXA).
// An UnknownTransaction counts as rolled back only when linked says the
// node that began the transaction answered (see client.Conn.Linked).
func decision(st txc.GlobalStatus, err error, linked func(node string) bool, xid txc.XID) (commit, decided bool) {
	if err != nil {
		var te *txc.Error
		if errors.As(err, &te) && te.Status != txc.GlobalUnknown {
			st = te.Status
		} else {
			xnode, _, _ := xid.Parse()
			return false, errors.Is(err, txc.ErrUnknownTransaction) && linked(xnode)
		}
	}
	switch st {
	case txc.GlobalCommitted:
		return true, true
	case txc.GlobalRollbacked, txc.GlobalTimeoutRollbacked:
		return false, true
	}
	return false, false
}

// xaRecoverEvery is how often an open XA database runs RecoverXA.
const xaRecoverEvery = 5 * time.Minute

// runXARecovery runs RecoverXA every xaRecoverEvery until r closes.
func (r *Resource) runXARecovery() {
	t := time.NewTicker(xaRecoverEvery)
	defer t.Stop()
	for {
		select {
		case <-t.C:
			if _, err := r.manager(); err == nil {
				r.xaRecoverLogged(context.Background())
			}
		case <-r.stop:
			return
		}
	}
}

// recoverTimeout bounds the recovery run at open.
const recoverTimeout = time.Minute

// xaRecoverLogged runs RecoverXA in the background, logging a failure.
func (r *Resource) xaRecoverLogged(ctx context.Context) {
	ctx, cancel := context.WithTimeout(ctx, recoverTimeout)
	defer cancel()
	if _, err := r.RecoverXA(ctx); err != nil {
		r.log.Warn("datasource: XA recovery failed; it runs again at the next open", "resource", r.id, "err", err)
	}
}

func isHeld(resource string, id XAID) bool {
	heldMu.Lock()
	defer heldMu.Unlock()
	return held[heldKey{resource, id}] != nil // taken or not: its finish is under way
}

// xaCheckTimeout bounds the check of the server made at open.
const xaCheckTimeout = 5 * time.Second

// xaOpen checks at open that the server can prepare transactions (a
// server it cannot reach is checked at the first connection instead) and
// starts recovery.
func (r *Resource) xaOpen(connector driver.Connector) error {
	ctx, cancel := context.WithTimeout(context.Background(), xaCheckTimeout)
	defer cancel()
	if dc, err := connector.Connect(ctx); err == nil {
		err = r.xaCheck(ctx, dc)
		dc.Close()
		var un *XAUnavailableError
		if errors.As(err, &un) {
			return err
		}
	}
	if _, err := r.manager(); err == nil {
		go r.xaRecoverLogged(context.Background())
	}
	go r.runXARecovery()
	return nil
}

// xaCheck runs the dialect's check once per resource (until it passes).
func (r *Resource) xaCheck(ctx context.Context, dc driver.Conn) error {
	r.createOnce.Lock()
	defer r.createOnce.Unlock()
	if r.xaChecked {
		return nil
	}
	if err := r.xa().XACheck(ctx, dc); err != nil {
		var un *XAUnavailableError
		if errors.As(err, &un) && un.Resource == "" {
			un.Resource = r.id
		}
		return err
	}
	r.xaChecked = true
	return nil
}

// connectXA opens a connection in XA mode: a kept session, with its
// prepared statements, if there is one (see spare), else a new one,
// checked once (see xaCheck).
func (c *Connector) connectXA(ctx context.Context) (driver.Conn, error) {
	s, ok := c.res.takeSpare()
	if !ok {
		dc, err := c.wrapped.Connect(ctx)
		if err != nil {
			return nil, err
		}
		s.raw = dc
	}
	if err := c.res.xaCheck(ctx, s.raw); err != nil {
		s.raw.Close()
		return nil, err
	}
	return &conn{c: s.raw, res: c.res, interpolate: c.interpolate, stmts: s.stmts, users: s.users}, nil
}
