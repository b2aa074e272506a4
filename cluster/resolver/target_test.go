package resolver

import (
	"errors"
	"net/url"
	"slices"
	"testing"

	"github.com/txcio/txc"
)

func TestParseTarget(t *testing.T) {
	for in, want := range map[string]Target{
		"127.0.0.1:8091":                    {Addrs: []string{"127.0.0.1:8091"}},
		"dns:///tc.example:8091":            {Addrs: []string{"dns:///tc.example:8091"}},
		"passthrough:///127.0.0.1:8091":     {Addrs: []string{"passthrough:///127.0.0.1:8091"}},
		"unix:///run/txc.sock":              {Addrs: []string{"unix:///run/txc.sock"}},
		"127.0.0.1:8091,127.0.0.1:8092":     {Addrs: []string{"127.0.0.1:8091", "127.0.0.1:8092"}},
		"tc1:8091, tc2:8091 ,[::1]:8091":    {Addrs: []string{"tc1:8091", "tc2:8091", "[::1]:8091"}},
		"tc1:8091,tc1:8091":                 {Addrs: []string{"tc1:8091"}},
		"txc-list:///127.0.0.1:8091,h:8092": {Addrs: []string{"127.0.0.1:8091", "h:8092"}},
		"etcd://127.0.0.1:2379/txc":         {Endpoints: []string{"127.0.0.1:2379"}, Prefix: "/txc"},
		"etcd://e1:2379,e2:2379/a/b/":       {Endpoints: []string{"e1:2379", "e2:2379"}, Prefix: "/a/b"},
	} {
		got, err := ParseTarget(in)
		if err != nil || !slices.Equal(got.Addrs, want.Addrs) || !slices.Equal(got.Endpoints, want.Endpoints) || got.Prefix != want.Prefix {
			t.Errorf("ParseTarget(%q) = %+v, %v; want %+v", in, got, err, want)
		}
	}
	for _, in := range []string{"a:1,,b:2", "a:1,b", "a:1,b:", "etcd:///txc", "etcd://e1:2379,e2/txc", "etcd://e1:2379%zz/", "txc-list:///a:1,b"} {
		if got, err := ParseTarget(in); !errors.Is(err, txc.ErrInvalidArgument) {
			t.Errorf("ParseTarget(%q) = %+v, %v; want ErrInvalidArgument", in, got, err)
		}
	}
}

func TestParseEtcd(t *testing.T) {
	for in, want := range map[string]struct {
		endpoints []string
		prefix    string
	}{
		"etcd://e1:2379":             {[]string{"e1:2379"}, "/txc"},
		"etcd://e1:2379/":            {[]string{"e1:2379"}, "/txc"},
		"etcd://e1:2379,e2:2379/a/b": {[]string{"e1:2379", "e2:2379"}, "/a/b"},
		"etcd://e1:2379/a/":          {[]string{"e1:2379"}, "/a"},
	} {
		u, err := url.Parse(in)
		if err != nil {
			t.Fatal(err)
		}
		eps, prefix, err := parseEtcd(u)
		if err != nil || !slices.Equal(eps, want.endpoints) || prefix != want.prefix {
			t.Errorf("parseEtcd(%q) = %v %q %v, want %v %q", in, eps, prefix, err, want.endpoints, want.prefix)
		}
	}
}
