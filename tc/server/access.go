package server

import (
	"context"
	"crypto/tls"
	"log/slog"
	"strings"

	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/peer"

	"github.com/txcio/txc"
	txcv1 "github.com/txcio/txc/proto/txc/v1"
)

// AccessFiles configures who may use the coordinator.
type AccessFiles struct {
	// TokensFile is a YAML map of identity to bearer token (see
	// loadTokens); empty: identities come from client certificates only.
	TokensFile string
	// PolicyFile is a YAML Policy; empty: every authenticated identity
	// may do everything.
	PolicyFile string
	// OpenAdminReads lets GET requests of the admin API and /metrics
	// through without a credential; actions always need one.
	OpenAdminReads bool
}

// Access authenticates clients and applies the policy. Both files are
// read again, without a restart, when their modification time or size
// changes (looked at no more than once a second, on use). A nil *Access
// lets everyone do everything, as when none is configured.
//
// An identity is, first, the URI SAN (else the common name) of a client
// certificate verified against the client CA, else the identity of the
// bearer token in the "authorization" metadata (gRPC) or header (admin
// HTTP).
type Access struct {
	tokens     *fileWatch[tokenSet]
	policy     *fileWatch[*Policy]
	openReads  bool
	log        *slog.Logger
	certIdents bool
}

// NewAccess loads files. certIdentities says whether client certificates
// are verified (a client CA is configured) and so may name identities.
func NewAccess(files AccessFiles, certIdentities bool, log *slog.Logger) (*Access, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	a := &Access{openReads: files.OpenAdminReads, log: log, certIdents: certIdentities}
	var err error
	if files.TokensFile != "" {
		if a.tokens, err = newFileWatch("tokens file "+files.TokensFile, log, func() (tokenSet, error) { return loadTokens(files.TokensFile) }, files.TokensFile); err != nil {
			return nil, err
		}
	}
	if files.PolicyFile != "" {
		if a.policy, err = newFileWatch("policy file "+files.PolicyFile, log, func() (*Policy, error) { return loadPolicy(files.PolicyFile) }, files.PolicyFile); err != nil {
			return nil, err
		}
	}
	return a, nil
}

// identify finds the caller's identity from its TLS state and the value
// of its authorization header; "" if it has none.
func (a *Access) identify(state *tls.ConnectionState, authorization string) string {
	if a.certIdents && state != nil && len(state.VerifiedChains) > 0 && len(state.VerifiedChains[0]) > 0 {
		leaf := state.VerifiedChains[0][0]
		if len(leaf.URIs) > 0 {
			return leaf.URIs[0].String()
		}
		if leaf.Subject.CommonName != "" {
			return leaf.Subject.CommonName
		}
	}
	tok, ok := strings.CutPrefix(authorization, "Bearer ")
	if !ok || a.tokens == nil {
		return ""
	}
	id, _ := a.tokens.get().lookup(strings.TrimSpace(tok))
	return id
}

// identifyStream finds the identity of a gRPC stream's caller.
func (a *Access) identifyStream(ctx context.Context) string {
	var state *tls.ConnectionState
	if p, ok := peer.FromContext(ctx); ok {
		if ti, ok := p.AuthInfo.(credentials.TLSInfo); ok {
			state = &ti.State
		}
	}
	auth := ""
	if md, ok := metadata.FromIncomingContext(ctx); ok {
		if v := md.Get("authorization"); len(v) > 0 {
			auth = v[0]
		}
	}
	return a.identify(state, auth)
}

func (a *Access) currentPolicy() *Policy {
	if a.policy == nil {
		return nil
	}
	return a.policy.get()
}

// permit checks one client message of identity id; it returns the
// refusal, or nil.
func (a *Access) permit(id string, m *txcv1.ClientMessage) *txc.Error {
	if id == "" {
		return txc.Errorf(txc.CodePermissionDenied, "server: no credential: present a client certificate or a bearer token")
	}
	p := a.currentPolicy()
	if p == nil {
		return nil
	}
	switch b := m.GetBody().(type) {
	case *txcv1.ClientMessage_Hello:
		for _, r := range b.Hello.GetResourceIds() {
			if !p.resource(id, r) {
				return denied(id, "serve resource %q", r)
			}
		}
	case *txcv1.ClientMessage_Begin, *txcv1.ClientMessage_Reserve, *txcv1.ClientMessage_Commit,
		*txcv1.ClientMessage_Rollback, *txcv1.ClientMessage_Status:
		if !p.tm(id) {
			return denied(id, "act as a transaction manager (%s)", messageKind(m))
		}
	case *txcv1.ClientMessage_Register:
		if r := b.Register.GetResourceId(); !p.resource(id, r) {
			return denied(id, "register branches on resource %q", r)
		}
	case *txcv1.ClientMessage_LockQuery:
		if r := b.LockQuery.GetResourceId(); !p.resource(id, r) {
			return denied(id, "query locks of resource %q", r)
		}
	case *txcv1.ClientMessage_Report, *txcv1.ClientMessage_BranchResult:
		if !p.anyResource(id) {
			return denied(id, "act as a resource manager (%s)", messageKind(m))
		}
	}
	return nil
}

// permitAdmin checks an admin request of identity id (write: an action).
func (a *Access) permitAdmin(id string, write bool) *txc.Error {
	if id == "" {
		return txc.Errorf(txc.CodePermissionDenied, "server: no credential: present a client certificate or a bearer token")
	}
	if p := a.currentPolicy(); p != nil && !p.admin(id, write) {
		what := "read through the admin API"
		if write {
			what = "act through the admin API"
		}
		return denied(id, "%s", what)
	}
	return nil
}

func denied(id, format string, args ...any) *txc.Error {
	e := txc.Errorf(txc.CodePermissionDenied, format, args...)
	e.Message = "server: " + id + " may not " + e.Message
	return e
}

// messageKind names a client message's request for logs and metrics.
func messageKind(m *txcv1.ClientMessage) string {
	switch m.GetBody().(type) {
	case *txcv1.ClientMessage_Hello:
		return "hello"
	case *txcv1.ClientMessage_Begin:
		return "begin"
	case *txcv1.ClientMessage_Reserve:
		return "reserve"
	case *txcv1.ClientMessage_Commit:
		return "commit"
	case *txcv1.ClientMessage_Rollback:
		return "rollback"
	case *txcv1.ClientMessage_Status:
		return "status"
	case *txcv1.ClientMessage_Register:
		return "register"
	case *txcv1.ClientMessage_Report:
		return "report"
	case *txcv1.ClientMessage_LockQuery:
		return "lock_query"
	case *txcv1.ClientMessage_BranchResult:
		return "branch_result"
	}
	return "unknown"
}
