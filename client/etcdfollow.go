package client

import (
	"errors"
	"maps"
	"slices"

	"github.com/txcio/txc/cluster"
)

// followEtcd keeps the links those to the live nodes etcd names, and the
// owners of partitions current, until Close. etcd refusing this client
// (cluster.ErrEtcdAccess) while Dial waits ends Dial at once: the same
// settings would be refused again until its timeout.
func (c *Conn) followEtcd() {
	defer c.wg.Done()
	for {
		st, changed := c.watch.State()
		c.owners.Store(&st.Owners)
		if errors.Is(st.Err, cluster.ErrEtcdAccess) {
			c.attemptFailed(unavailable(st.Err, "client: dial %s", c.target), true)
		}
		// Nodes is empty only before any node was known: nothing to
		// link to yet.
		if len(st.Nodes) > 0 {
			addrs := slices.Compact(slices.Sorted(maps.Values(st.Nodes)))
			if err := c.setLinks(addrs); err != nil {
				c.opts.log.Error("client: cannot link to the nodes etcd names", "nodes", st.Nodes, "err", err)
			}
		}
		select {
		case <-changed:
		case <-c.ctx.Done():
			return
		}
	}
}
