package resolver

import (
	"net"
	"net/url"
	"slices"
	"strings"

	"github.com/txcio/txc"
	"github.com/txcio/txc/cluster"
)

// ListScheme is the scheme of a static list target written with a
// scheme, "txc-list:///host:port,host:port,…"; a plain comma-separated
// list means the same.
const ListScheme = "txc-list"

// Target is a target given to client.Dial, parsed.
type Target struct {
	// Addrs are the gRPC targets to hold a connection to, one each: the
	// target itself for a single address or any other gRPC target
	// ("dns:///…", "unix:…"), each address of a list. Empty for etcd.
	Addrs []string
	// Endpoints and Prefix are an etcd target's: the nodes to connect to
	// are those registered under Prefix (see Watch).
	Endpoints []string
	Prefix    string
}

// ParseTarget reads a target given to client.Dial, or fails with a
// txc.ErrInvalidArgument error that names what is wrong:
//
//   - a comma-separated list of host:port (optionally written
//     "txc-list:///…") gives one address each;
//   - an EtcdScheme target gives its endpoints and prefix;
//   - anything else (a single host:port, "dns:///…", "passthrough:///…",
//     "unix:…") is one address, left to gRPC unchanged.
func ParseTarget(target string) (Target, error) {
	if strings.HasPrefix(target, EtcdScheme+"://") {
		u, err := url.Parse(target)
		if err != nil {
			return Target{}, txc.Errorf(txc.CodeInvalidArgument, "cluster resolver: target %q: %v", target, err)
		}
		endpoints, prefix, err := parseEtcd(u)
		return Target{Endpoints: endpoints, Prefix: prefix}, err
	}
	if list, ok := strings.CutPrefix(target, ListScheme+":///"); ok {
		addrs, err := parseList(list)
		return Target{Addrs: addrs}, err
	}
	if strings.Contains(target, "://") || !strings.Contains(target, ",") {
		return Target{Addrs: []string{target}}, nil
	}
	addrs, err := parseList(target)
	return Target{Addrs: addrs}, err
}

// parseList splits a comma-separated list of host:port; spaces around an
// entry are dropped, and so are repeats.
func parseList(list string) ([]string, error) {
	parts := strings.Split(list, ",")
	addrs := make([]string, 0, len(parts))
	for _, p := range parts {
		p = strings.TrimSpace(p)
		if _, port, err := net.SplitHostPort(p); err != nil || port == "" {
			return nil, txc.Errorf(txc.CodeInvalidArgument, "cluster resolver: address list %q: %q is not host:port", list, p)
		}
		if !slices.Contains(addrs, p) {
			addrs = append(addrs, p)
		}
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
