package server

import (
	"fmt"
	"os"
	"strings"

	"gopkg.in/yaml.v3"
)

// Policy says what each identity may do. An identity it does not name may
// do nothing.
type Policy struct {
	Identities map[string]Grant `yaml:"identities"`
}

// Grant is one identity's rights.
type Grant struct {
	// TM: may begin, commit, roll back, reserve XIDs and read the status
	// of global transactions.
	TM bool `yaml:"tm"`
	// Resources the identity may serve (announce in Hello, and so get
	// their phase-2 commands) and register branches or query locks on.
	// An entry ending in * matches every resource ID it is a prefix of.
	Resources []string `yaml:"resources"`
	// Admin is "" (no admin API), "read" (views and metrics) or "write"
	// (views and the retry and resolve actions).
	Admin string `yaml:"admin"`
}

// loadPolicy reads a policy file, e.g.
//
//	identities:
//	  orders-service:
//	    tm: true
//	    resources: ["mysql:orders", "tcc:orders-*"]
//	  ops-alice:
//	    admin: write
func loadPolicy(path string) (*Policy, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("server: policy file: %w", err)
	}
	var p Policy
	dec := yaml.NewDecoder(strings.NewReader(string(data)))
	dec.KnownFields(true)
	if err := dec.Decode(&p); err != nil {
		return nil, fmt.Errorf("server: policy file %s: %w", path, err)
	}
	for id, g := range p.Identities {
		if !validIdentity(id) {
			return nil, fmt.Errorf("server: policy file %s: identity %q must be 1..128 printable characters", path, id)
		}
		if g.Admin != "" && g.Admin != "read" && g.Admin != "write" {
			return nil, fmt.Errorf("server: policy file %s: admin of %s must be read or write", path, id)
		}
		for _, r := range g.Resources {
			if r == "" {
				return nil, fmt.Errorf("server: policy file %s: %s has an empty resource", path, id)
			}
		}
	}
	return &p, nil
}

// tm reports whether id may act as a transaction manager.
func (p *Policy) tm(id string) bool { return p.Identities[id].TM }

// resource reports whether id may serve resource res.
func (p *Policy) resource(id, res string) bool {
	for _, pat := range p.Identities[id].Resources {
		if pre, ok := strings.CutSuffix(pat, "*"); ok && strings.HasPrefix(res, pre) || pat == res {
			return true
		}
	}
	return false
}

// anyResource reports whether id may serve some resource.
func (p *Policy) anyResource(id string) bool { return len(p.Identities[id].Resources) > 0 }

// admin reports whether id may read (write false) or act on (write true)
// through the admin API.
func (p *Policy) admin(id string, write bool) bool {
	a := p.Identities[id].Admin
	return a == "write" || a == "read" && !write
}
