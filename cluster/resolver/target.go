package resolver

import (
	"net"
	"net/url"
	"strings"

	"github.com/txcio/txc"
	"github.com/txcio/txc/cluster"
	grpcresolver "google.golang.org/grpc/resolver"
)

// Canonical returns the gRPC target for a target given to client.Dial, or
// a txc.ErrInvalidArgument error that names what is wrong:
//
//   - a comma-separated list of host:port without a scheme becomes a
//     ListScheme target;
//   - an EtcdScheme target is checked (endpoints, prefix) and kept;
//   - anything else (a single host:port, "dns:///…", "passthrough:///…",
//     "unix:…") is left to gRPC unchanged.
func Canonical(target string) (string, error) {
	if strings.HasPrefix(target, EtcdScheme+"://") {
		u, err := url.Parse(target)
		if err != nil {
			return "", txc.Errorf(txc.CodeInvalidArgument, "cluster resolver: target %q: %v", target, err)
		}
		if _, _, err := parseEtcd(u); err != nil {
			return "", err
		}
		return target, nil
	}
	if strings.Contains(target, "://") || !strings.Contains(target, ",") {
		return target, nil
	}
	addrs, err := parseList(target)
	if err != nil {
		return "", err
	}
	return ListScheme + ":///" + strings.Join(addrs, ","), nil
}

// parseList splits a comma-separated list of host:port; spaces around an
// entry are dropped.
func parseList(list string) ([]string, error) {
	parts := strings.Split(list, ",")
	addrs := make([]string, 0, len(parts))
	for _, p := range parts {
		p = strings.TrimSpace(p)
		if _, port, err := net.SplitHostPort(p); err != nil || port == "" {
			return nil, txc.Errorf(txc.CodeInvalidArgument, "cluster resolver: address list %q: %q is not host:port", list, p)
		}
		addrs = append(addrs, p)
	}
	return addrs, nil
}

// parseEtcd reads the etcd endpoints from an EtcdScheme target's authority
// and the key prefix from its path (cluster.DefaultPrefix when empty).
func parseEtcd(u *url.URL) (endpoints []string, prefix string, err error) {
	if u.Host == "" {
		return nil, "", txc.Errorf(txc.CodeInvalidArgument,
			"cluster resolver: target %q names no etcd endpoint (etcd://host:port[,host:port…][/prefix])", u.String())
	}
	if endpoints, err = parseList(u.Host); err != nil {
		return nil, "", err
	}
	prefix = strings.TrimRight(u.Path, "/")
	if prefix == "" {
		prefix = cluster.DefaultPrefix
	}
	return endpoints, prefix, nil
}

// grpcAddresses turns host:port strings into resolver addresses. Each
// carries its own ServerName so that TLS verifies every node against its
// own host, as it does for a single-address target (the channel's
// authority of a list target is the whole list, which is no host name).
func grpcAddresses(addrs []string) []grpcresolver.Address {
	out := make([]grpcresolver.Address, len(addrs))
	for i, a := range addrs {
		out[i] = grpcresolver.Address{Addr: a, ServerName: a}
	}
	return out
}
