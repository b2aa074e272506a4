package server

import (
	"crypto/sha256"
	"crypto/subtle"
	"fmt"
	"os"

	"gopkg.in/yaml.v3"
)

// tokenSet maps bearer tokens to identities. Only the tokens' SHA-256
// digests are kept, and a lookup compares the presented token's digest
// with every entry in constant time, so neither timing nor a memory dump
// of the set tells a token.
type tokenSet []tokenEntry

type tokenEntry struct {
	identity string
	digest   [sha256.Size]byte
}

// loadTokens reads a tokens file: a YAML map of identity to token, e.g.
//
//	orders-service: "d2f9…"   # at least 16 characters
//	ops-alice: "7c1e…"
//
// Errors name the file and the identity, never a token.
func loadTokens(path string) (tokenSet, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("server: tokens file: %w", err)
	}
	raw := map[string]string{}
	if err := yaml.Unmarshal(data, &raw); err != nil {
		return nil, fmt.Errorf("server: tokens file %s: must be a YAML map of identity to token", path)
	}
	set := make(tokenSet, 0, len(raw))
	seen := map[[sha256.Size]byte]string{}
	for id, tok := range raw {
		if !validIdentity(id) {
			return nil, fmt.Errorf("server: tokens file %s: identity %q must be 1..128 printable characters", path, id)
		}
		if len(tok) < 16 {
			return nil, fmt.Errorf("server: tokens file %s: the token of %s is shorter than 16 characters", path, id)
		}
		d := sha256.Sum256([]byte(tok))
		if other, dup := seen[d]; dup {
			return nil, fmt.Errorf("server: tokens file %s: %s and %s have the same token", path, other, id)
		}
		seen[d] = id
		set = append(set, tokenEntry{identity: id, digest: d})
	}
	return set, nil
}

// lookup returns the identity of token; it looks at every entry whatever
// it finds.
func (ts tokenSet) lookup(token string) (string, bool) {
	d := sha256.Sum256([]byte(token))
	found := ""
	for i := range ts {
		if subtle.ConstantTimeCompare(d[:], ts[i].digest[:]) == 1 {
			found = ts[i].identity
		}
	}
	return found, found != ""
}

func validIdentity(id string) bool {
	if id == "" || len(id) > 128 {
		return false
	}
	for _, r := range id {
		if r < 0x21 || r == 0x7f {
			return false
		}
	}
	return true
}
