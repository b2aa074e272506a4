package client

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"log/slog"
	"os"

	"github.com/txcio/txc/cluster"
	"github.com/txcio/txc/internal/pemfile"
)

// WithTLS makes Dial use TLS with cfg (a client certificate in it is
// presented for mutual TLS) instead of plaintext. See TLSFromFiles.
func WithTLS(cfg *tls.Config) Option {
	return func(o *options) { o.tls = cfg.Clone() }
}

// WithToken sends token as "authorization: Bearer TOKEN" on the session
// stream, for a coordinator configured with a tokens file. It needs TLS
// (WithTLS): Dial refuses to send a token over plaintext.
func WithToken(token string) Option {
	return func(o *options) { o.token = token }
}

// bearer is the per-stream credential of WithToken.
type bearer string

func (b bearer) GetRequestMetadata(context.Context, ...string) (map[string]string, error) {
	return map[string]string{"authorization": "Bearer " + string(b)}, nil
}

func (bearer) RequireTransportSecurity() bool { return true }

// TLSFromFiles builds a client TLS configuration: caFile (PEM) holds the
// CAs that may sign the coordinator's certificate (empty: the system's);
// certFile and keyFile, when set, are the client certificate for mutual
// TLS, read again when they change (at a handshake, at most once a
// second; a pair that cannot be used, say half rotated, keeps the last
// good one in use and is logged once through slog's default logger);
// serverName, when set, is the name to verify instead of the target's
// host.
func TLSFromFiles(caFile, certFile, keyFile, serverName string) (*tls.Config, error) {
	cfg := &tls.Config{MinVersion: tls.VersionTLS12, ServerName: serverName}
	if caFile != "" {
		pem, err := os.ReadFile(caFile)
		if err != nil {
			return nil, fmt.Errorf("client: CA file: %w", err)
		}
		cfg.RootCAs = x509.NewCertPool()
		if !cfg.RootCAs.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("client: CA file %s holds no PEM certificate", caFile)
		}
	}
	if (certFile == "") != (keyFile == "") {
		return nil, fmt.Errorf("client: a client certificate needs both its certificate and its key file")
	}
	if certFile != "" {
		w, err := pemfile.Open(slog.Default(), clientCertMessages, parseKeyPair, certFile, keyFile)
		if err != nil {
			return nil, fmt.Errorf("client: client certificate %s and key %s: %w", certFile, keyFile, err)
		}
		cfg.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return w.Get(), nil }
	}
	return cfg, nil
}

var clientCertMessages = pemfile.Messages{
	Failed:  "client: the client certificate files cannot be used; keeping the certificate last read from them",
	Changed: "client: the client certificate files changed; new connections present the new certificate",
}

// parseKeyPair is a certificate and its key from their PEM files' contents.
func parseKeyPair(c [][]byte) (*tls.Certificate, error) {
	cert, err := tls.X509KeyPair(c[0], c[1])
	return &cert, err
}

// OptionsFromEnv reads the security options of programs that take them
// from the environment (the examples, txcctl's gRPC peers):
//
//	TXC_TLS_CA          PEM CAs of the coordinator's certificate; set (or
//	                    TXC_TLS=true with the system's CAs) turns TLS on
//	TXC_TLS_CERT/_KEY   client certificate and key (mutual TLS)
//	TXC_TLS_SERVER_NAME name to verify instead of the target's host
//	                    (each node's own host with a list or etcd target)
//	TXC_TOKEN           bearer token (needs TLS)
//
// and, for an etcd:// target whose etcd requires them (the names
// txc-server reads too):
//
//	TXC_ETCD_CA          PEM CAs of etcd's certificate, read again when
//	                     the file changes (WithEtcdCAFile); "system": the
//	                     system's. Set turns TLS to etcd on
//	TXC_ETCD_CERT/_KEY   client certificate and key presented to etcd
//	TXC_ETCD_SERVER_NAME name to verify in etcd's certificate
//	TXC_ETCD_USER        etcd user, with TXC_ETCD_PASSWORD (needs TLS)
//
// getenv is os.Getenv in programs. Nothing set: no options, plaintext.
func OptionsFromEnv(getenv func(string) string) ([]Option, error) {
	var opts []Option
	ca, cert := getenv("TXC_TLS_CA"), getenv("TXC_TLS_CERT")
	if ca != "" || cert != "" || getenv("TXC_TLS") == "true" {
		cfg, err := TLSFromFiles(ca, cert, getenv("TXC_TLS_KEY"), getenv("TXC_TLS_SERVER_NAME"))
		if err != nil {
			return nil, err
		}
		opts = append(opts, WithTLS(cfg))
	}
	if tok := getenv("TXC_TOKEN"); tok != "" {
		opts = append(opts, WithToken(tok))
	}
	etcd, err := etcdOptionsFromEnv(getenv)
	if err != nil {
		return nil, err
	}
	return append(opts, etcd...), nil
}

// etcdOptionsFromEnv is OptionsFromEnv's TXC_ETCD_* part. Dial checks how
// the options combine (a user needs TLS and a password).
func etcdOptionsFromEnv(getenv func(string) string) ([]Option, error) {
	var opts []Option
	ca, cert, name := getenv("TXC_ETCD_CA"), getenv("TXC_ETCD_CERT"), getenv("TXC_ETCD_SERVER_NAME")
	if ca == "" && (cert != "" || getenv("TXC_ETCD_KEY") != "" || name != "") {
		return nil, fmt.Errorf("client: TXC_ETCD_CERT, TXC_ETCD_KEY and TXC_ETCD_SERVER_NAME need TXC_ETCD_CA (a CA file, or \"system\")")
	}
	if ca != "" {
		cfg, err := TLSFromFiles("", cert, getenv("TXC_ETCD_KEY"), name)
		if err != nil {
			return nil, fmt.Errorf("client: TXC_ETCD_*: %w", err)
		}
		opts = append(opts, WithEtcdTLS(cfg))
	}
	if ca != "" && ca != "system" {
		// Read now for an early error; Dial reads it again, and follows it.
		if _, err := cluster.OpenCAFile(ca, nil); err != nil {
			return nil, fmt.Errorf("client: TXC_ETCD_CA: %w", err)
		}
		opts = append(opts, WithEtcdCAFile(ca))
	}
	if user, pw := getenv("TXC_ETCD_USER"), getenv("TXC_ETCD_PASSWORD"); user != "" || pw != "" {
		opts = append(opts, WithEtcdAuth(user, pw))
	}
	return opts, nil
}
