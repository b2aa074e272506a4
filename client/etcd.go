package client

import (
	"crypto/tls"
	"errors"

	"github.com/txcio/txc/cluster"
	clusterresolver "github.com/txcio/txc/cluster/resolver"
)

// WithEtcdTLS makes an etcd target ("etcd://host:port/prefix") reach etcd
// over TLS with cfg: its RootCAs verify etcd's certificate (nil: the
// system's CAs), a client certificate in it (Certificates or
// GetClientCertificate) is presented for mutual TLS, and ServerName, when
// set, is the name to verify instead of each endpoint's host.
// TLSFromFiles builds one from PEM files, whose CAs are read once
// (WithEtcdCAFile follows a CA file that changes). It is independent of
// WithTLS, which secures the connection to the coordinator. Without it
// the connection to etcd is plaintext.
func WithEtcdTLS(cfg *tls.Config) Option {
	return func(o *options) { o.etcdTLS = cfg.Clone() }
}

// WithEtcdCAFile makes an etcd target verify etcd's certificate against
// the CAs in the PEM file path, read again when its content changes (at
// most once a second, at a handshake), so that a rotated CA, usually a
// bundle of the old and the new CA first, takes effect for the next
// connections to etcd without a restart. A file that becomes unreadable
// or invalid keeps the CAs last read, logged at error level. It turns on
// TLS to etcd, with the rest of WithEtcdTLS's configuration when given
// (whose RootCAs it replaces). Dial fails with an invalid-argument error
// when the file cannot be read at first. See cluster.CAFile.
func WithEtcdCAFile(path string) Option {
	return func(o *options) { o.etcdCAFile = path }
}

// WithEtcdAuth makes an etcd target log in to etcd as user with password,
// for an etcd with auth enabled; the user's role needs read permission on
// the cluster's prefix. It needs WithEtcdTLS: Dial refuses to send the
// password in clear. The password is never logged nor put into an error.
func WithEtcdAuth(user, password string) Option {
	return func(o *options) { o.etcdUser, o.etcdPassword = user, password }
}

// etcdOptions are the options of a Conn's etcd Watcher.
func (o *options) etcdOptions() []clusterresolver.EtcdOption {
	opts := []clusterresolver.EtcdOption{clusterresolver.WithLogger(o.log)}
	if o.etcdTLS != nil {
		opts = append(opts, clusterresolver.WithTLS(o.etcdTLS))
	}
	if o.etcdCA != nil {
		opts = append(opts, clusterresolver.WithCA(o.etcdCA))
	}
	if o.etcdUser != "" || o.etcdPassword != "" {
		opts = append(opts, clusterresolver.WithAuth(o.etcdUser, o.etcdPassword))
	}
	return opts
}

// prepareEtcd refuses etcd options that cannot work with target (a user
// without password or the reverse, a password without TLS, a CA file
// that cannot be read, etcd options for a target that is not an etcd
// one) and opens the CA file.
func (o *options) prepareEtcd(target clusterresolver.Target) error {
	etcdSet := o.etcdTLS != nil || o.etcdCAFile != "" || o.etcdUser != "" || o.etcdPassword != ""
	if target.Endpoints == nil {
		if etcdSet {
			return errors.New("WithEtcdTLS, WithEtcdCAFile and WithEtcdAuth apply to etcd:// targets only")
		}
		return nil
	}
	if o.etcdCAFile != "" {
		ca, err := cluster.OpenCAFile(o.etcdCAFile, o.log)
		if err != nil {
			return err
		}
		o.etcdCA = ca
	}
	// The endpoints are checked by the resolver; any stand in here.
	return cluster.Etcd{Endpoints: []string{"etcd"}, TLS: o.etcdTLS, CA: o.etcdCA, Username: o.etcdUser, Password: o.etcdPassword}.Check()
}
