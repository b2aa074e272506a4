package cluster

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"net"
	"slices"
	"strings"

	"google.golang.org/grpc/credentials"
)

// A TLS client configuration has no hook for roots that change, and the
// etcd client copies its configuration once; nor does TLS report the name
// of an IP endpoint (no SNI is sent for it) to a check run inside the
// handshake. So with a CAFile (Etcd.CA) the check is made per connection,
// knowing the endpoint dialed: Go's own check is turned off only in the
// configuration built for that connection (configFor), whose
// VerifyConnection does what Go would: the peer's chain must lead to one
// of the CAs the file holds now, with the server usage, and its leaf must
// be valid for the configured server name or else the host of the
// endpoint dialed. A refusal is a *tls.CertificateVerificationError, as
// Go's own.

// configFor returns a copy of base for one connection to host, verified
// against f's CAs for base.ServerName, or host when that is empty.
func (f *CAFile) configFor(base *tls.Config, host string) *tls.Config {
	cfg := &tls.Config{MinVersion: tls.VersionTLS12}
	if base != nil {
		cfg = base.Clone()
	}
	if cfg.ServerName == "" {
		cfg.ServerName = host
	}
	name, then := cfg.ServerName, cfg.VerifyConnection
	cfg.RootCAs = nil
	cfg.InsecureSkipVerify = true // VerifyConnection verifies
	cfg.VerifyConnection = func(cs tls.ConnectionState) error {
		if err := f.verify(cs, name); err != nil {
			return err
		}
		if then != nil {
			return then(cs)
		}
		return nil
	}
	return cfg
}

// verify checks the peer's certificate of cs against f's CAs, for name.
func (f *CAFile) verify(cs tls.ConnectionState, name string) error {
	certs := cs.PeerCertificates
	if len(certs) == 0 {
		return errors.New("cluster: etcd presented no certificate")
	}
	opts := x509.VerifyOptions{Roots: f.Pool(), Intermediates: x509.NewCertPool(), DNSName: name}
	for _, c := range certs[1:] {
		opts.Intermediates.AddCert(c)
	}
	if _, err := certs[0].Verify(opts); err != nil {
		return &tls.CertificateVerificationError{UnverifiedCertificates: certs, Err: err}
	}
	return nil
}

// caCreds are gRPC transport credentials for etcd that verify each
// connection with configFor, for the endpoint gRPC dials (its authority).
type caCreds struct {
	f    *CAFile
	base *tls.Config
}

func (c *caCreds) ClientHandshake(ctx context.Context, authority string, raw net.Conn) (net.Conn, credentials.AuthInfo, error) {
	host, _, err := net.SplitHostPort(authority)
	if err != nil {
		host = authority
	}
	cfg := c.f.configFor(c.base, host)
	if !slices.Contains(cfg.NextProtos, "h2") {
		cfg.NextProtos = append(cfg.NextProtos, "h2")
	}
	conn := tls.Client(raw, cfg)
	if err := conn.HandshakeContext(ctx); err != nil {
		conn.Close()
		return nil, nil, err
	}
	info := credentials.TLSInfo{State: conn.ConnectionState(),
		CommonAuthInfo: credentials.CommonAuthInfo{SecurityLevel: credentials.PrivacyAndIntegrity}}
	return conn, info, nil
}

func (c *caCreds) ServerHandshake(net.Conn) (net.Conn, credentials.AuthInfo, error) {
	return nil, nil, errors.New("cluster: etcd credentials are for clients only")
}

func (c *caCreds) Info() credentials.ProtocolInfo {
	return credentials.ProtocolInfo{SecurityProtocol: "tls", SecurityVersion: "1.2", ServerName: c.base.ServerName}
}

func (c *caCreds) Clone() credentials.TransportCredentials {
	return &caCreds{f: c.f, base: c.base.Clone()}
}

func (c *caCreds) OverrideServerName(name string) error {
	c.base.ServerName = name
	return nil
}

// endpointAddr is the host:port of an etcd endpoint in any of its forms.
func endpointAddr(ep string) string {
	if _, rest, ok := strings.Cut(ep, "://"); ok {
		return rest
	}
	return ep
}
