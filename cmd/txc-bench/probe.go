package main

import (
	"context"

	"github.com/txcio/txc"
	"github.com/txcio/txc/client"
)

// roundTrip waits for one answered request on c: Serve does not wait for
// the coordinator, a round trip after it does. It asks about an XID of
// the node that answered c's Hello, which that node serves (in a cluster,
// a node answers only for its partition; another would be asked again
// until ctx ends). The answer (an unknown transaction) does not matter,
// only an error the request got on its way.
func roundTrip(ctx context.Context, c *client.Conn) error {
	_, err := c.Status(ctx, txc.NewXID(c.Node(), 1))
	if err != nil && txc.CodeOf(err) == txc.CodeUnknownTransaction {
		return nil
	}
	return err
}
