package cluster

import (
	"bytes"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"

	"github.com/txcio/txc/internal/pemfile"
)

// CAFile is a PEM file of the CAs that verify etcd's certificate, read
// again when its content changes, so that a rotated CA (usually a bundle
// of the old and the new CA first, the new one alone later) takes effect
// for new connections without a restart. The file is read on use (each
// TLS handshake with etcd), at most once a second. A file that becomes
// unreadable or invalid never empties the trust: the CAs last read stay
// in use and the failure is logged at error level, once per new failure
// (see internal/pemfile). Safe for concurrent use.
type CAFile struct {
	w *pemfile.Watched[*x509.CertPool]
}

// OpenCAFile reads the CAs of path; an error (naming the file, never its
// content) when it cannot be read or holds no valid certificate. log,
// which may be nil, gets the later reloads and their failures.
func OpenCAFile(path string, log *slog.Logger) (*CAFile, error) {
	w, err := pemfile.Open(log, caMessages, func(c [][]byte) (*x509.CertPool, error) {
		return parseCAs(path, c[0])
	}, path)
	if pe := (*fs.PathError)(nil); errors.As(err, &pe) {
		return nil, fmt.Errorf("cluster: CA file: %w", err)
	}
	if err != nil {
		return nil, err
	}
	return &CAFile{w: w}, nil
}

var caMessages = pemfile.Messages{
	Failed:  "cluster: the CA file of etcd's certificate cannot be used; keeping the CAs last read from it",
	Changed: "cluster: the CA file of etcd's certificate changed; new connections to etcd trust its CAs",
}

// Pool returns the CAs to trust now, reading the file first when it was
// last read over a second ago.
func (f *CAFile) Pool() *x509.CertPool { return f.w.Get() }

// parseCAs parses content, the PEM file of CAs at path. Unlike
// x509.CertPool.AppendCertsFromPEM it refuses a file with a certificate
// that does not parse or a PEM block cut short (a bundle half written,
// say), instead of trusting what parsed of it; blocks of other types and
// text between blocks are skipped.
func parseCAs(path string, content []byte) (*x509.CertPool, error) {
	pool, n := x509.NewCertPool(), 0
	for rest := content; ; {
		var block *pem.Block
		if block, rest = pem.Decode(rest); block == nil {
			if bytes.Contains(rest, []byte("-----BEGIN")) {
				return nil, fmt.Errorf("cluster: CA file %s has a PEM block cut short", path)
			}
			break
		}
		if block.Type != "CERTIFICATE" {
			continue
		}
		cert, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("cluster: CA file %s: certificate %d: %w", path, n+1, err)
		}
		pool.AddCert(cert)
		n++
	}
	if n == 0 {
		return nil, fmt.Errorf("cluster: CA file %s holds no PEM certificate", path)
	}
	return pool, nil
}
