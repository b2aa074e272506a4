package server

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"log/slog"
	"os"
)

// TLSFiles names the PEM files of a TLS endpoint. They are read again,
// without a restart, once their modification time or size changes (looked
// at no more than once a second, on the next handshake).
type TLSFiles struct {
	// Cert and Key are the server's certificate chain and private key.
	Cert, Key string
	// ClientCA, when set, turns on mutual TLS: clients must present a
	// certificate signed by one of these CAs.
	ClientCA string
}

// tlsMaterial is what one load of TLSFiles gives.
type tlsMaterial struct {
	cert *tls.Certificate
	cas  *x509.CertPool
}

// NewTLSConfig loads files and returns a TLS configuration that reloads
// them when they change; nextProtos are its ALPN protocols ("h2" for
// gRPC, "http/1.1" for the admin port). With ClientCA, requireClientCert decides whether
// a handshake without a client certificate fails (the gRPC port) or goes
// on without an identity from TLS (the admin port, where a bearer token
// may give one and /healthz needs none); a certificate that is presented
// is always verified. Errors name the files, never their content.
func NewTLSConfig(files TLSFiles, requireClientCert bool, nextProtos []string, log *slog.Logger) (*tls.Config, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	paths := []string{files.Cert, files.Key}
	if files.ClientCA != "" {
		paths = append(paths, files.ClientCA)
	}
	w, err := newFileWatch("TLS certificate "+files.Cert, log, func() (tlsMaterial, error) { return loadTLS(files) }, paths...)
	if err != nil {
		return nil, err
	}
	clientAuth := tls.NoClientCert
	if files.ClientCA != "" {
		clientAuth = tls.VerifyClientCertIfGiven
		if requireClientCert {
			clientAuth = tls.RequireAndVerifyClientCert
		}
	}
	return &tls.Config{
		MinVersion: tls.VersionTLS12,
		NextProtos: nextProtos,
		GetConfigForClient: func(*tls.ClientHelloInfo) (*tls.Config, error) {
			m := w.get()
			return &tls.Config{
				MinVersion:   tls.VersionTLS12,
				Certificates: []tls.Certificate{*m.cert},
				ClientAuth:   clientAuth,
				ClientCAs:    m.cas,
				NextProtos:   nextProtos,
			}, nil
		},
	}, nil
}

func loadTLS(files TLSFiles) (tlsMaterial, error) {
	cert, err := tls.LoadX509KeyPair(files.Cert, files.Key)
	if err != nil {
		return tlsMaterial{}, fmt.Errorf("server: TLS certificate %s and key %s: %w", files.Cert, files.Key, err)
	}
	m := tlsMaterial{cert: &cert}
	if files.ClientCA != "" {
		if m.cas, err = LoadCertPool(files.ClientCA); err != nil {
			return tlsMaterial{}, err
		}
	}
	return m, nil
}

// LoadCertPool reads a PEM file of CA certificates.
func LoadCertPool(path string) (*x509.CertPool, error) {
	pem, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("server: CA file: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("server: CA file %s holds no PEM certificate", path)
	}
	return pool, nil
}
