package cluster

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"net"
	"strings"
)

// Trust makes cfg verify the certificate of the etcd at endpoints against
// the CAs f holds at each handshake, in place of cfg.RootCAs (set to nil).
//
// A TLS client configuration has no hook for roots that change, and the
// etcd client copies its configuration once, so the check is done by
// cfg.VerifyConnection, with cfg.InsecureSkipVerify set only to hand it
// over: the peer's chain must lead to one of f's CAs, with the server
// usage, as Go's own check requires; its leaf must be valid for the name
// the handshake asked for, or, when TLS reports none (the endpoint is an
// IP address), for cfg.ServerName or the host of one of endpoints. A
// refusal is a *tls.CertificateVerificationError, as Go's own. A
// VerifyConnection already in cfg runs after this check.
func (f *CAFile) Trust(cfg *tls.Config, endpoints []string) {
	var names []string
	if cfg.ServerName != "" {
		names = append(names, cfg.ServerName)
	}
	for _, ep := range endpoints {
		if host, _, err := net.SplitHostPort(endpointAddr(ep)); err == nil {
			names = append(names, host)
		}
	}
	then := cfg.VerifyConnection
	cfg.RootCAs = nil
	cfg.InsecureSkipVerify = true // VerifyConnection verifies
	cfg.VerifyConnection = func(cs tls.ConnectionState) error {
		if err := f.verify(cs, names); err != nil {
			return err
		}
		if then != nil {
			return then(cs)
		}
		return nil
	}
}

// verify checks the peer's certificate of cs against f's CAs and its
// name: the one TLS reports, else one of names.
func (f *CAFile) verify(cs tls.ConnectionState, names []string) error {
	certs := cs.PeerCertificates
	if len(certs) == 0 {
		return errors.New("cluster: etcd presented no certificate")
	}
	opts := x509.VerifyOptions{Roots: f.Pool(), Intermediates: x509.NewCertPool()}
	for _, c := range certs[1:] {
		opts.Intermediates.AddCert(c)
	}
	_, err := certs[0].Verify(opts)
	if err == nil {
		err = verifyName(certs[0], cs.ServerName, names)
	}
	if err != nil {
		return &tls.CertificateVerificationError{UnverifiedCertificates: certs, Err: err}
	}
	return nil
}

// verifyName checks that leaf is valid for sni, or without one for one of
// names.
func verifyName(leaf *x509.Certificate, sni string, names []string) error {
	if sni != "" {
		return leaf.VerifyHostname(sni)
	}
	err := errors.New("cluster: no name to verify etcd's certificate for")
	for _, n := range names {
		if err = leaf.VerifyHostname(n); err == nil {
			return nil
		}
	}
	return err
}

// endpointAddr is the host:port of an etcd endpoint in any of its forms.
func endpointAddr(ep string) string {
	if _, rest, ok := strings.Cut(ep, "://"); ok {
		return rest
	}
	return ep
}
