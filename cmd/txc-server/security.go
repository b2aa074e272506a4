package main

import (
	"crypto/tls"
	"log/slog"

	"github.com/txcio/txc/tc/server"
)

// security sets srvCfg's TLS and Access from cfg and returns the admin
// port's TLS configuration (nil: plaintext). Both ports share the
// certificate; the gRPC port requires a client certificate when client_ca
// is set, the admin port verifies one if given (a token may do instead,
// and /healthz needs neither).
func security(cfg *config, srvCfg *server.Config, log *slog.Logger) (*tls.Config, error) {
	var adminTLS *tls.Config
	if cfg.TLSCert != "" {
		files := server.TLSFiles{Cert: cfg.TLSCert, Key: cfg.TLSKey, ClientCA: cfg.ClientCA}
		var err error
		if srvCfg.TLS, err = server.NewTLSConfig(files, true, []string{"h2"}, log); err != nil {
			return nil, err
		}
		if adminTLS, err = server.NewTLSConfig(files, false, []string{"http/1.1"}, log); err != nil {
			return nil, err
		}
		log.Info("TLS on both ports", "mutual", cfg.ClientCA != "")
	}
	if cfg.accessConfigured() {
		a, err := server.NewAccess(server.AccessFiles{TokensFile: cfg.TokensFile, PolicyFile: cfg.PolicyFile,
			OpenAdminReads: cfg.OpenAdminReads}, cfg.ClientCA != "", log)
		if err != nil {
			return nil, err
		}
		srvCfg.Access = a
		log.Info("clients must authenticate", "tokens", cfg.TokensFile != "", "client_certificates", cfg.ClientCA != "", "policy", cfg.PolicyFile != "")
	}
	return adminTLS, nil
}
