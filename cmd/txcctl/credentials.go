package main

import (
	"fmt"
	"net"
	"net/http"
	"net/url"

	"github.com/spf13/cobra"

	"github.com/txcio/txc/client"
)

// credentials are how txcctl proves who it is to the admin API.
type credentials struct {
	token    string
	ca       string
	certFile string
	keyFile  string
}

func (c *credentials) flags(root *cobra.Command, getenv func(string) string) {
	pf := root.PersistentFlags()
	pf.StringVar(&c.token, "token", getenv("TXC_TOKEN"), "bearer token of the admin API (env TXC_TOKEN; prefer the env: flags show in ps)")
	pf.StringVar(&c.ca, "ca", getenv("TXC_TLS_CA"), "PEM CA of the coordinator's https certificate (env TXC_TLS_CA; default: the system's)")
	pf.StringVar(&c.certFile, "cert", getenv("TXC_TLS_CERT"), "PEM client certificate for mutual TLS (env TXC_TLS_CERT)")
	pf.StringVar(&c.keyFile, "key", getenv("TXC_TLS_KEY"), "PEM key of --cert (env TXC_TLS_KEY)")
}

// httpClient is the client for the admin API at u. It refuses to send a
// token in the clear anywhere but to a loopback address.
func (c *credentials) httpClient(u *url.URL) (*http.Client, error) {
	if c.token != "" && u.Scheme == "http" && !loopback(u.Hostname()) {
		return nil, fmt.Errorf("refusing to send the token over plain http to %s: use https", u.Host)
	}
	if u.Scheme != "https" {
		return &http.Client{}, nil
	}
	cfg, err := client.TLSFromFiles(c.ca, c.certFile, c.keyFile, "")
	if err != nil {
		return nil, err
	}
	return &http.Client{Transport: &http.Transport{TLSClientConfig: cfg, Proxy: http.ProxyFromEnvironment}}, nil
}

func loopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
