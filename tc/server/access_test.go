package server

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	txcv1 "github.com/txcio/txc/proto/txc/v1"
)

func writeTemp(t *testing.T, name, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestTokensFileErrorsNeverQuoteATokenAndLookupIsExact(t *testing.T) {
	for _, body := range []string{"a: sh0rtSecret\n", "a: dupSecret-0123456789\nb: dupSecret-0123456789\n", "[dupSecret-0123456789]\n"} {
		_, err := loadTokens(writeTemp(t, "tokens.yaml", body))
		if err == nil || strings.Contains(err.Error(), "Secret") {
			t.Errorf("%q: %v, want an error without the token", body, err)
		}
	}
	ts, err := loadTokens(writeTemp(t, "tokens.yaml", "orders: orders-token-0123456789\nops: ops-token-0123456789\n"))
	if err != nil {
		t.Fatal(err)
	}
	for tok, want := range map[string]string{"orders-token-0123456789": "orders", "ops-token-0123456789": "ops", "orders-token-012345678": "", "": ""} {
		if id, _ := ts.lookup(tok); id != want {
			t.Errorf("lookup(%q) = %q, want %q", tok, id, want)
		}
	}
}

func TestPolicyGrants(t *testing.T) {
	if _, err := loadPolicy(writeTemp(t, "p.yaml", "identities:\n  a:\n    admin: root\n")); err == nil {
		t.Error("admin: root accepted")
	}
	if _, err := loadPolicy(writeTemp(t, "p.yaml", "identities:\n  a:\n    tm: yes\n    resorces: [x]\n")); err == nil {
		t.Error("a misspelt key accepted")
	}
	path := writeTemp(t, "p.yaml", "identities:\n  a:\n    tm: true\n    resources: [db1, \"tcc:a-*\"]\n    admin: read\n")
	a := &Access{}
	var err error
	if a.policy, err = newFileWatch("policy", nil, func() (*Policy, error) { return loadPolicy(path) }, path); err != nil {
		t.Fatal(err)
	}
	reg := func(res string) *txcv1.ClientMessage {
		return &txcv1.ClientMessage{Body: &txcv1.ClientMessage_Register{Register: &txcv1.RegisterRequest{ResourceId: res}}}
	}
	begin := &txcv1.ClientMessage{Body: &txcv1.ClientMessage_Begin{Begin: &txcv1.BeginRequest{}}}
	for _, c := range []struct {
		id   string
		m    *txcv1.ClientMessage
		want bool
	}{
		{"a", begin, true}, {"b", begin, false}, {"", begin, false},
		{"a", reg("db1"), true}, {"a", reg("db10"), false}, {"a", reg("tcc:a-x"), true}, {"a", reg("tcc:b"), false},
	} {
		if got := a.permit(c.id, c.m) == nil; got != c.want {
			t.Errorf("permit(%q, %s) = %v, want %v", c.id, messageKind(c.m), got, c.want)
		}
	}
	if a.permitAdmin("a", false) != nil || a.permitAdmin("a", true) == nil {
		t.Error("admin: read must allow reads only")
	}
}
