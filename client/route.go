package client

import (
	"context"
	"slices"
	"strings"

	"github.com/txcio/txc"
)

// partition returns the partition xid belongs to, its node part, or ""
// for none (no XID, or one that does not parse: any node refuses it).
func partition(xid txc.XID) string {
	i := strings.LastIndexByte(string(xid), ':')
	if i <= 0 {
		return ""
	}
	return string(xid[:i])
}

// choose picks the link a request goes to next. A request about partition
// p goes to its home if that is up and not tried yet: the link to the
// owner's address (owner, from etcd) or, if no link has it, the link whose
// node is named p. Otherwise, and for requests about no partition, the
// first link that is up and not tried, from links[start%len] on. nil:
// every link is down or tried.
func choose(links []*link, p, owner string, tried []*link, start int) *link {
	usable := func(l *link) bool { return l.up() && !slices.Contains(tried, l) }
	if p != "" {
		if h := home(links, p, owner); h != nil && usable(h) {
			return h
		}
	}
	n := len(links)
	for i := range n {
		if l := links[(start+i)%n]; usable(l) {
			return l
		}
	}
	return nil
}

// home is the link that serves partition p, if one is known.
func home(links []*link, p, owner string) *link {
	if owner != "" {
		for _, l := range links {
			if l.addr == owner {
				return l
			}
		}
	}
	for _, l := range links {
		if l.nodeName() == p {
			return l
		}
	}
	return nil
}

// router walks the links for one request: home first, then the others;
// a node that answers NotServedHere changed nothing, and the request goes
// on to the next link, and round after round, with backoff, to all of them
// until ctx is done.
type router struct {
	c       *Conn
	op      string
	xid     txc.XID
	p       string
	start   int
	started bool
	tried   []*link // links that refused in this round
	attempt int     // rounds done
	refusal error   // the last NotServedHere
}

func newRouter(c *Conn, op string, xid txc.XID) router {
	return router{c: c, op: op, xid: xid, p: partition(xid)}
}

// next returns the session to send the request on, waiting while no link
// is up.
func (r *router) next(ctx context.Context) (*session, error) {
	for {
		if r.xid != "" {
			s, err := r.c.pinned(ctx, r.op, r.xid)
			if s != nil || err != nil {
				return s, err
			}
		}
		links := r.c.linkSet()
		if r.p == "" && !r.started && len(links) > 1 {
			r.start, r.started = int(r.c.rr.Add(1)), true
		}
		if l := choose(links, r.p, r.c.owner(r.p), r.tried, r.start); l != nil {
			if s := l.cur.Load(); s != nil {
				return s, nil
			}
			continue // went down just now
		}
		if err := r.wait(ctx, links); err != nil {
			return nil, err
		}
	}
}

// wait waits for a reason to look at the links again: the next round
// after every link that is up refused, or a change of the links.
func (r *router) wait(ctx context.Context, links []*link) error {
	if len(r.tried) > 0 && slices.ContainsFunc(links, (*link).up) {
		if !sleep(ctx, r.c.opts.backoff.Delay(r.attempt)) {
			return r.gaveUp(ctx)
		}
		r.attempt++
		r.tried = r.tried[:0]
		return nil
	}
	ch := r.c.changes()
	if choose(r.c.linkSet(), r.p, r.c.owner(r.p), r.tried, r.start) != nil {
		return nil // came up while we took the channel
	}
	select {
	case <-ch:
		return nil
	case <-ctx.Done():
		return r.gaveUp(ctx)
	case <-r.c.ctx.Done():
		return notSent(ErrClosed, "client: %s", r.op)
	}
}

// refused records that s's node answered NotServedHere with err.
func (r *router) refused(s *session, err error) {
	r.tried = append(r.tried, s.l)
	r.refusal = err
	r.c.opts.log.Debug("client: node does not serve the request; trying the next", "op", r.op, "xid", r.xid, "node", s.l.nodeName(), "err", err)
}

// gaveUp is the error of a request whose ctx ended before any node took it.
func (r *router) gaveUp(ctx context.Context) error {
	if r.c.ctx.Err() != nil {
		return notSent(ErrClosed, "client: %s", r.op)
	}
	switch {
	case r.refusal == nil:
		return notSent(ctx.Err(), "client: %s: not sent: coordinator unreachable", r.op)
	case r.p == "":
		return notSent(r.refusal, "client: %s: not done: no node takes it now", r.op)
	}
	return notSent(r.refusal, "client: %s: not done: no node serves partition %q now", r.op, r.p)
}
