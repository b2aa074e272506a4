package resolver

import grpcresolver "google.golang.org/grpc/resolver"

// ListScheme is the scheme of a static list target,
// "txc-list:///host:port,host:port,…"; Canonical makes one from a plain
// comma-separated list.
const ListScheme = "txc-list"

// NewListBuilder returns the gRPC resolver builder of ListScheme targets.
// The list is reported once, in the order given: pick_first tries the
// addresses in that order on every connection attempt, so a dead or
// standby node early in the list costs only a refused connection.
func NewListBuilder() grpcresolver.Builder { return listBuilder{} }

type listBuilder struct{}

func (listBuilder) Scheme() string { return ListScheme }

func (listBuilder) Build(t grpcresolver.Target, cc grpcresolver.ClientConn, _ grpcresolver.BuildOptions) (grpcresolver.Resolver, error) {
	addrs, err := parseList(t.Endpoint())
	if err != nil {
		return nil, err
	}
	if err := cc.UpdateState(grpcresolver.State{Addresses: grpcAddresses(addrs)}); err != nil {
		return nil, err
	}
	return listResolver{}, nil
}

// listResolver has nothing to refresh: the list is fixed.
type listResolver struct{}

func (listResolver) ResolveNow(grpcresolver.ResolveNowOptions) {}
func (listResolver) Close()                                    {}
