package main

import (
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"

	"github.com/txcio/txc/cluster"
	"github.com/txcio/txc/tc/server"
)

// checkEtcdAccess checks that the settings of TLS and auth to etcd agree
// and that their files load, and reads the password file. No error holds
// the password.
func checkEtcdAccess(c *config) error {
	if err := checkEtcdAccessSettings(c); err != nil {
		return err
	}
	if c.EtcdPassFile != "" {
		pw, err := os.ReadFile(c.EtcdPassFile)
		if err != nil {
			return fmt.Errorf("setting etcd_password_file: %w", err)
		}
		if c.EtcdPassword = strings.TrimRight(string(pw), "\r\n"); c.EtcdPassword == "" {
			return fmt.Errorf("setting etcd_password_file: %s is empty", c.EtcdPassFile)
		}
	}
	if c.EtcdCA != "" {
		if _, _, err := etcdTLS(c, nil); err != nil {
			return err
		}
	}
	return nil
}

// checkEtcdAccessSettings checks which etcd settings go together.
func checkEtcdAccessSettings(c *config) error {
	set := c.EtcdCA != "" || c.EtcdCert != "" || c.EtcdKey != "" || c.EtcdServerName != "" ||
		c.EtcdUser != "" || c.EtcdPassword != "" || c.EtcdPassFile != ""
	scheme, err := cluster.EndpointsScheme(c.EtcdEndpoints)
	switch {
	case len(c.EtcdEndpoints) == 0 && set:
		return errors.New("the etcd_ca, etcd_cert, etcd_key, etcd_server_name, etcd_user and etcd_password settings need etcd_endpoints")
	case err != nil:
		return fmt.Errorf("setting etcd_endpoints: %w", err)
	case scheme == "https" && c.EtcdCA == "":
		return errors.New("setting etcd_endpoints is https:// but etcd_ca is not set: set it to the CA file of etcd's certificate, or to 'system' to trust the host's CAs")
	case scheme == "http" && c.EtcdCA != "":
		return errors.New("setting etcd_ca turns on TLS to etcd but etcd_endpoints are http://: write them https:// or host:port")
	case (c.EtcdCert == "") != (c.EtcdKey == ""):
		return errors.New("settings etcd_cert and etcd_key go together: set both or neither")
	case (c.EtcdCert != "" || c.EtcdServerName != "") && c.EtcdCA == "":
		return errors.New("settings etcd_cert and etcd_server_name need TLS to etcd: set etcd_ca (a CA file, or 'system')")
	case c.EtcdPassword != "" && c.EtcdPassFile != "":
		return errors.New("settings etcd_password and etcd_password_file both give the etcd password: set one")
	case c.EtcdUser == "" && (c.EtcdPassword != "" || c.EtcdPassFile != ""):
		return errors.New("an etcd password is set (etcd_password or etcd_password_file) but etcd_user is not")
	case c.EtcdUser != "" && c.EtcdPassword == "" && c.EtcdPassFile == "":
		return errors.New("setting etcd_user needs a password: TXC_ETCD_PASSWORD, etcd_password in the config file, or etcd_password_file")
	case c.EtcdUser != "" && c.EtcdCA == "":
		return errors.New("setting etcd_user needs TLS to etcd (set etcd_ca): the password would cross the network in clear")
	}
	return nil
}

// etcdTLS is the TLS configuration of the connection to etcd (nil
// without etcd_ca), and the CA file that verifies etcd's certificate (nil
// with "system", the host's CAs). The client certificate is read again
// when its files change, as the server's own certificate is:
// server.NewTLSConfig watches them, and each handshake with etcd takes
// the certificate it last loaded. The CA file is read again when it
// changes too (cluster.CAFile), keeping the CAs last read while it is
// unreadable or invalid.
func etcdTLS(c *config, log *slog.Logger) (*tls.Config, *cluster.CAFile, error) {
	if c.EtcdCA == "" {
		return nil, nil, nil
	}
	cfg := &tls.Config{MinVersion: tls.VersionTLS12, ServerName: c.EtcdServerName}
	var ca *cluster.CAFile
	if c.EtcdCA != "system" {
		var err error
		if ca, err = cluster.OpenCAFile(c.EtcdCA, log); err != nil {
			return nil, nil, fmt.Errorf("setting etcd_ca: %w", err)
		}
	}
	if c.EtcdCert == "" {
		return cfg, ca, nil
	}
	watched, err := server.NewTLSConfig(server.TLSFiles{Cert: c.EtcdCert, Key: c.EtcdKey}, false, nil, log)
	if err != nil {
		return nil, nil, fmt.Errorf("settings etcd_cert and etcd_key: %w", err)
	}
	cfg.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
		cur, err := watched.GetConfigForClient(nil)
		if err != nil {
			return nil, err
		}
		return &cur.Certificates[0], nil
	}
	return cfg, ca, nil
}
