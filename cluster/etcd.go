package cluster

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"slices"
	"strings"

	pb "go.etcd.io/etcd/api/v3/etcdserverpb"
	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/txcio/txc"
)

// Etcd says how nodes and clients reach etcd: where, over what TLS, and
// as which etcd user.
type Etcd struct {
	// Endpoints are etcd's client addresses: host:port, http://host:port
	// or https://host:port, all of one form.
	Endpoints []string
	// TLS, when set, is used on every endpoint (a client certificate in
	// it, or from its GetClientCertificate, is presented for mutual TLS).
	// Nil: plaintext, except to https:// endpoints, which are verified
	// against the host's CAs.
	TLS *tls.Config
	// CA, when set, verifies etcd's certificate against the CAs of a file
	// that may change, for each connection (TLS.RootCAs is not used; TLS,
	// if nil, is taken as a default one): see CAFile.
	CA *CAFile
	// Username and Password, when set, authenticate to an etcd with auth
	// enabled. The password is never logged nor put into an error, and is
	// only sent over TLS.
	Username, Password string
}

// ErrEtcdAccess matches the errors of an etcd that was reached but
// refused this client: its TLS handshake, its user or password, or its
// permissions on the keys. Trying again with the same settings does not
// help.
var ErrEtcdAccess = errors.New("etcd refused access")

// tls is the TLS configuration of the connections to etcd: TLS, or a
// default one when only CA is set; nil for plaintext.
func (e Etcd) tls() *tls.Config {
	if e.TLS == nil && e.CA != nil {
		return &tls.Config{MinVersion: tls.VersionTLS12}
	}
	return e.TLS
}

// Check refuses settings that cannot work, naming what is wrong.
func (e Etcd) Check() error {
	if len(e.Endpoints) == 0 {
		return txc.Errorf(txc.CodeInvalidArgument, "cluster: no etcd endpoints")
	}
	scheme, err := EndpointsScheme(e.Endpoints)
	if err != nil {
		return err
	}
	if scheme == "http" && e.tls() != nil {
		return txc.Errorf(txc.CodeInvalidArgument, "cluster: etcd endpoints are http:// but TLS is configured: use https:// or host:port")
	}
	if (e.Username == "") != (e.Password == "") {
		return txc.Errorf(txc.CodeInvalidArgument, "cluster: an etcd user and its password go together")
	}
	if e.Username != "" && e.tls() == nil && scheme != "https" {
		return txc.Errorf(txc.CodeInvalidArgument, "cluster: the etcd password would cross the network in clear: reach etcd over TLS")
	}
	return nil
}

// EndpointsScheme returns the form of etcd endpoints: "http", "https",
// or "" for host:port; an invalid-argument error when they mix forms (the
// etcd client would use the first one's for all).
func EndpointsScheme(endpoints []string) (string, error) {
	form := func(ep string) string {
		if s, _, ok := strings.Cut(ep, "://"); ok {
			return s
		}
		return ""
	}
	if len(endpoints) == 0 {
		return "", nil
	}
	scheme := form(endpoints[0])
	for _, ep := range endpoints[1:] {
		if form(ep) != scheme {
			return "", txc.Errorf(txc.CodeInvalidArgument, "cluster: etcd endpoints %s mix forms: write every one as host:port, http:// or https://", strings.Join(endpoints, ","))
		}
	}
	return scheme, nil
}

// Connect returns a client of etcd that has shown it can talk to etcd:
// the TLS handshake went through and, with a user, the password was
// accepted. base sets the timeouts (DialTimeout bounds each step);
// Connect sets the endpoints, TLS, user and logger. An error wrapping
// ErrEtcdAccess means etcd refused this client; any other, that etcd was
// not reached in time.
func (e Etcd) Connect(ctx context.Context, base clientv3.Config) (*clientv3.Client, error) {
	base.Endpoints, base.TLS, base.Logger = e.Endpoints, e.tls(), zap.NewNop()
	if e.CA != nil {
		// Given after the etcd client's own credentials, these are used.
		base.DialOptions = append(slices.Clip(base.DialOptions), grpc.WithTransportCredentials(&caCreds{f: e.CA, base: base.TLS.Clone()}))
	}
	cli, err := clientv3.New(base)
	if err != nil {
		return nil, e.Explain(err)
	}
	// A request that does not wait for a ready connection fails with the
	// transport's error (a refused handshake, say) instead of the
	// deadline's; any answer of etcd, even one refusing it, shows that
	// the connection works.
	pctx, cancel := context.WithTimeout(ctx, base.DialTimeout)
	_, err = pb.NewMaintenanceClient(cli.ActiveConnection()).Status(pctx, &pb.StatusRequest{}, grpc.WaitForReady(false))
	cancel()
	if err = e.Explain(err); err != nil && !answered(err) {
		cli.Close()
		// gRPC tells a refused handshake from an unreachable etcd only in
		// its messages, and not always (a connection etcd closed after
		// refusing the certificate may fail on a write first): ask TLS.
		if terr := e.checkTLS(ctx, base.DialTimeout); terr != nil {
			return nil, terr
		}
		return nil, err
	}
	if e.Username == "" {
		return cli, nil
	}
	// With a user, the client authenticates as it is made: a second
	// client, now that the connection is known to work.
	cli.Close()
	base.Username, base.Password = e.Username, e.Password
	if cli, err = clientv3.New(base); err != nil {
		return nil, e.Explain(err)
	}
	return cli, nil
}

// Explain returns err with what it means for this client: an error
// wrapping ErrEtcdAccess, naming the endpoints and what to check, when
// etcd refused the client; err naming the endpoints otherwise; nil for
// nil. etcd's errors never hold the password.
func (e Etcd) Explain(err error) error {
	var done explained
	if err == nil || errors.As(err, &done) {
		return err
	}
	where := strings.Join(e.Endpoints, ",")
	refused := func(what string) error { return e.refused(where, what, err) }
	switch rpctypes.Error(err) {
	case rpctypes.ErrAuthFailed:
		return refused(fmt.Sprintf("user %q or its password was refused", e.Username))
	case rpctypes.ErrUserEmpty, rpctypes.ErrInvalidAuthToken:
		return refused("etcd has auth enabled and needs a user and password (or a client certificate naming a user)")
	case rpctypes.ErrPermissionDenied:
		if e.Username == "" {
			return refused("no permission on the cluster's keys without a user (etcd then takes the client certificate's common name as the user): set a user and password, or grant that user's role readwrite on the prefix")
		}
		return refused(fmt.Sprintf("user %q lacks permission on the cluster's keys (grant its role readwrite on the prefix)", e.Username))
	}
	return explained{fmt.Errorf("cluster: etcd %s: %w", where, err)}
}

// refused is the error of etcd at where refusing this client for what.
func (e Etcd) refused(where, what string, err error) error {
	return explained{fmt.Errorf("cluster: %w: etcd %s: %s: %w", ErrEtcdAccess, where, what, err)}
}

// explained is an error Explain made: explaining it again keeps it.
type explained struct{ error }

func (e explained) Unwrap() error { return e.error }

// answered reports whether err is etcd's answer to a request that reached
// it, refusing nothing about this client's access.
func answered(err error) bool {
	switch status.Code(err) {
	case codes.Unavailable, codes.DeadlineExceeded, codes.Canceled, codes.Unknown:
		return false
	}
	return !errors.Is(err, ErrEtcdAccess)
}
