package cluster

import (
	"crypto/tls"

	"google.golang.org/grpc/credentials"

	"github.com/txcio/txc/internal/pemfile"
)

// Die closes n's etcd client without resigning, as a killed process
// would leave it: its lease runs out.
func (n *Node) Die() { n.cli.Load().Close() }

// CACheckEvery is how often a CAFile reads its file.
var CACheckEvery = &pemfile.CheckEvery

// Credentials are the transport credentials Connect gives the etcd
// client for f and base.
func (f *CAFile) Credentials(base *tls.Config) credentials.TransportCredentials {
	return &caCreds{f: f, base: base}
}
