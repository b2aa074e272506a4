package server

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/txcio/txc"
	"github.com/txcio/txc/tc"
	"github.com/txcio/txc/tc/store"
)

// ErrAlreadyHosted is returned by Host for a partition this process
// hosts already (or is still handing back).
var ErrAlreadyHosted = errors.New("server: partition already hosted here")

// Host serves partition (a node name: the XIDs "partition:<seq>") from st
// until ctx is done (it returns nil) or st fails (it returns the error;
// the process keeps serving its other partitions). It restores the
// partition's transactions from st, reconciles the shared lock table
// (Config.Locks) with the rows they hold, and only then takes requests
// about them; streams connected before are announced to its core, so
// that its phase-2 commands reach their RMs. Either way it stops
// deciding, waits until what its core handed over is written, closes st
// and unhosts the partition before returning: from then on requests about
// it get txc.CodeNotServedHere, and Host may be called for it again.
//
// Host owns st from the call on, and closes it also when it refuses (a
// partition hosted already: ErrAlreadyHosted; the server stopped:
// txc.CodeUnavailable) or the restore fails. It may be called before or
// after Serve starts; Serve returning ends every Host first.
func (s *Server) Host(ctx context.Context, partition string, st store.Store) error {
	if st == nil {
		return txc.Errorf(txc.CodeInvalidArgument, "server: no store for partition %q", partition)
	}
	if err := s.reserve(partition); err != nil {
		return errors.Join(err, st.Close())
	}
	defer s.release(partition)
	p, err := s.newPartition(ctx, partition, st)
	if err != nil {
		return errors.Join(err, st.Close())
	}
	p.start()
	s.register(p)
	s.log.Info("hosting partition", "node", s.Node(), "partition", partition)
	select {
	case <-ctx.Done():
	case <-p.stopping:
	case <-s.stopping:
	}
	err = s.unhost(p)
	s.log.Info("partition handed back", "node", s.Node(), "partition", partition, "err", err)
	return err
}

// reserve records that partition is being hosted, so that a second Host
// for it fails, and that Serve must wait for it.
func (s *Server) reserve(partition string) error {
	if !txc.ValidNodeName(partition) {
		return txc.Errorf(txc.CodeInvalidArgument, "server: partition name %q is not a node name", partition)
	}
	s.partsMu.Lock()
	defer s.partsMu.Unlock()
	if s.closed {
		return txc.Errorf(txc.CodeUnavailable, "server: stopped; cannot host partition %q", partition)
	}
	if s.hosting[partition] {
		return fmt.Errorf("%w: %q", ErrAlreadyHosted, partition)
	}
	s.hosting[partition] = true
	s.hosts.Add(1)
	return nil
}

func (s *Server) release(partition string) {
	s.partsMu.Lock()
	delete(s.hosting, partition)
	s.partsMu.Unlock()
	s.hosts.Done()
}

// register makes p serve requests. Its core first hears of every stream
// connected and the resources it serves, under the same lock accept
// holds to announce new ones, so that none is missed or told twice.
func (s *Server) register(p *partition) {
	s.partsMu.Lock()
	defer s.partsMu.Unlock()
	if hellos := s.hub.hellos(); len(hellos) > 0 {
		p.enqueue(hellos)
	}
	s.parts[p.name] = p
}

// unhost stops p: no request reaches it after the first step; what was
// queued for its core is answered; its store is closed. It returns the
// store failure that ended p, or the error closing the store.
func (s *Server) unhost(p *partition) error {
	s.partsMu.Lock()
	if s.parts[p.name] == p {
		delete(s.parts, p.name)
	}
	s.partsMu.Unlock()
	p.claims.stop()
	p.stop(nil)
	<-p.done
	return errors.Join(p.fatalErr(), p.store.Close())
}

// hosted lists the partitions served now, by name.
func (s *Server) hosted() []*partition {
	s.partsMu.RLock()
	defer s.partsMu.RUnlock()
	out := make([]*partition, 0, len(s.parts))
	for _, p := range s.parts {
		out = append(out, p)
	}
	slices.SortFunc(out, func(a, b *partition) int { return strings.Compare(a.name, b.name) })
	return out
}

// partitionOf finds the partition serving xid, or the error to answer.
func (s *Server) partitionOf(xid txc.XID) (*partition, error) {
	node, _, err := xid.Parse()
	if err != nil {
		return nil, err
	}
	s.partsMu.RLock()
	p := s.servingLocked(node)
	s.partsMu.RUnlock()
	if p == nil {
		e := notServedHere(node, s.Node())
		e.XID = xid
		return nil, e
	}
	return p, nil
}

// eachPartition runs f on the core loop of every hosted partition, one
// after the other.
func (s *Server) eachPartition(ctx context.Context, f func(*tc.Core)) error {
	for _, p := range s.hosted() {
		if err := p.query(ctx, f); err != nil {
			return err
		}
	}
	return nil
}

// Hosting lists the partitions this process serves now, sorted.
func (s *Server) Hosting() []string {
	ps := s.hosted()
	out := make([]string, len(ps))
	for i, p := range ps {
		out[i] = p.name
	}
	return out
}
