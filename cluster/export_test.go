package cluster

import "github.com/txcio/txc/internal/pemfile"

// Die closes n's etcd client without resigning, as a killed process
// would leave it: its lease runs out.
func (n *Node) Die() { n.cli.Load().Close() }

// CACheckEvery is how often a CAFile reads its file.
var CACheckEvery = &pemfile.CheckEvery
