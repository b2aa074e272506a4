package cluster

import (
	"context"
	"crypto/tls"
	"errors"
	"net"
	"time"
)

// tlsAnswerWait is how long checkTLS waits, after a handshake, for etcd to
// refuse the client's certificate: under TLS 1.3 a server says so after
// the client has finished its side of the handshake.
const tlsAnswerWait = 300 * time.Millisecond

// checkTLS does a TLS handshake with each endpoint the way the etcd
// client does and returns an error wrapping ErrEtcdAccess for the first
// that refuses it or whose certificate is not verified; nil when every
// endpoint that could be reached accepted it, or without TLS.
func (e Etcd) checkTLS(ctx context.Context, timeout time.Duration) error {
	if scheme, _ := EndpointsScheme(e.Endpoints); e.tls() == nil && scheme != "https" {
		return nil
	}
	for _, ep := range e.Endpoints {
		if err := e.handshake(ctx, ep, timeout); err != nil {
			return e.refused(ep, "TLS handshake failed (check the CA, the client certificate and key, and the server name)", err)
		}
	}
	return nil
}

// handshake returns the TLS error of a handshake with ep, nil when ep
// cannot be reached or accepts.
func (e Etcd) handshake(ctx context.Context, ep string, timeout time.Duration) error {
	addr := endpointAddr(ep)
	host, _, _ := net.SplitHostPort(addr)
	var cfg *tls.Config
	switch {
	case e.CA != nil:
		cfg = e.CA.configFor(e.TLS, host)
	case e.TLS != nil:
		cfg = e.TLS.Clone()
	default:
		cfg = &tls.Config{MinVersion: tls.VersionTLS12}
	}
	if cfg.ServerName == "" {
		cfg.ServerName = host
	}
	cfg.NextProtos = []string{"h2"}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	raw, err := (&net.Dialer{}).DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil
	}
	conn := tls.Client(raw, cfg)
	defer conn.Close()
	if err := conn.HandshakeContext(ctx); tlsRefusal(err) {
		return err
	} else if err != nil {
		return nil
	}
	// Nothing is written: data etcd never reads could make it reset the
	// connection and lose its alert. Silence or data means accepted.
	conn.SetReadDeadline(time.Now().Add(tlsAnswerWait))
	var one [1]byte
	if _, err = conn.Read(one[:]); tlsRefusal(err) {
		return err
	}
	return nil
}

// tlsRefusal reports whether err is TLS refusing: a certificate not
// verified, an alert from the other side, or a peer that speaks no TLS.
// A connection that merely broke is none.
func tlsRefusal(err error) bool {
	if _, ok := errors.AsType[*tls.CertificateVerificationError](err); ok {
		return true
	}
	if _, ok := errors.AsType[tls.RecordHeaderError](err); ok {
		return true
	}
	op, ok := errors.AsType[*net.OpError](err)
	return ok && op.Op == "remote error"
}
