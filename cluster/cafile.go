package cluster

import (
	"bytes"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"time"
)

// caCheckEvery bounds how often a CAFile reads its file. A variable for
// tests only.
var caCheckEvery = time.Second

// CAFile is a PEM file of the CAs that verify etcd's certificate, read
// again when its content changes, so that a rotated CA (usually a bundle
// of the old and the new CA first, the new one alone later) takes effect
// for new connections without a restart. The file is read on use (each
// TLS handshake with etcd), at most once a second. A file that becomes
// unreadable or invalid never empties the trust: the CAs last read stay
// in use and the failure is logged at error level, once per new failure.
// Safe for concurrent use.
type CAFile struct {
	path string
	log  *slog.Logger

	mu      sync.Mutex
	pool    *x509.CertPool // from the last good content
	seen    []byte         // the last good content
	failed  string         // the failure last logged, "" after a good read
	checked time.Time
}

// OpenCAFile reads the CAs of path; an error (naming the file, never its
// content) when it cannot be read or holds no valid certificate. log,
// which may be nil, gets the later reloads and their failures.
func OpenCAFile(path string, log *slog.Logger) (*CAFile, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	content, pool, err := readCAs(path)
	if err != nil {
		return nil, err
	}
	return &CAFile{path: path, log: log, pool: pool, seen: content, checked: time.Now()}, nil
}

// Pool returns the CAs to trust now, reading the file first when it was
// last read over a second ago.
func (f *CAFile) Pool() *x509.CertPool {
	f.mu.Lock()
	defer f.mu.Unlock()
	if time.Since(f.checked) < caCheckEvery {
		return f.pool
	}
	f.checked = time.Now()
	content, pool, err := readCAs(f.path)
	switch {
	case err != nil:
		if err.Error() != f.failed {
			f.failed = err.Error()
			f.log.Error("cluster: the CA file of etcd's certificate cannot be used; keeping the CAs last read from it", "file", f.path, "err", err)
		}
	case !bytes.Equal(content, f.seen):
		f.pool, f.seen, f.failed = pool, content, ""
		f.log.Info("cluster: the CA file of etcd's certificate changed; new connections to etcd trust its CAs", "file", f.path)
	default:
		f.failed = ""
	}
	return f.pool
}

// readCAs reads the PEM file of CAs at path. Unlike
// x509.CertPool.AppendCertsFromPEM it refuses a file with a certificate
// that does not parse or a PEM block cut short (a bundle half written,
// say), instead of trusting what parsed of it; blocks of other types and
// text between blocks are skipped.
func readCAs(path string) ([]byte, *x509.CertPool, error) {
	content, err := os.ReadFile(path)
	if err != nil {
		return nil, nil, fmt.Errorf("cluster: CA file: %w", err)
	}
	pool, n := x509.NewCertPool(), 0
	for rest := content; ; {
		var block *pem.Block
		if block, rest = pem.Decode(rest); block == nil {
			if bytes.Contains(rest, []byte("-----BEGIN")) {
				return nil, nil, fmt.Errorf("cluster: CA file %s has a PEM block cut short", path)
			}
			break
		}
		if block.Type != "CERTIFICATE" {
			continue
		}
		cert, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, nil, fmt.Errorf("cluster: CA file %s: certificate %d: %w", path, n+1, err)
		}
		pool.AddCert(cert)
		n++
	}
	if n == 0 {
		return nil, nil, fmt.Errorf("cluster: CA file %s holds no PEM certificate", path)
	}
	return content, pool, nil
}
