package main

import (
	"errors"
	"fmt"
	"net"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/pflag"
	"gopkg.in/yaml.v3"

	"github.com/txcio/txc"
	"github.com/txcio/txc/cluster"
	"github.com/txcio/txc/tc/server"
	"github.com/txcio/txc/tc/store/sqlstore"
)

// config is everything txc-server can be told. Each field is one setting,
// settable (lowest precedence first) by its default, the YAML file given
// with --config, a TXC_* environment variable, and a command-line flag.
type config struct {
	Node           string
	Listen         string
	AdminListen    string
	DataDir        string
	Store          string // embedded, mysql or postgres
	StoreDSN       string // secret: never printed
	StorePrefix    string
	DefaultTimeout time.Duration
	MaxTimeout     time.Duration
	RetryMin       time.Duration
	RetryMax       time.Duration
	AckTimeout     time.Duration
	Retention      time.Duration
	MaxMessageSize int
	LogLevel       string
	LogFormat      string
	Pprof          bool
	TLSCert        string
	TLSKey         string
	ClientCA       string
	TokensFile     string
	PolicyFile     string
	OpenAdminReads bool
	MaxStreams     int
	// LockQueryWorkers and LockQueryBacklog bound the lock queries a
	// cluster node answers from the shared lock table.
	LockQueryWorkers int
	LockQueryBacklog int
	MaxActive        int
	StoreTimeout     time.Duration
	EtcdEndpoints    []string
	EtcdPrefix       string
	AdvertiseAddr    string
	EtcdLeaseTTL     time.Duration
	EtcdCA           string // a PEM file, "system" or ""
	EtcdCert         string
	EtcdKey          string
	EtcdServerName   string
	EtcdUser         string
	EtcdPassword     string // secret: never printed
	EtcdPassFile     string
	Procs            int // 0: auto
}

// setting describes one configurable value.
type setting struct {
	key  string // YAML key; the flag is the key with '-' for '_', the env var TXC_ + upper-case key
	help string
	def  string
	set  func(c *config, v string) error
	// secret settings are never shown: errors name them without their
	// value.
	secret bool
	// noFlag settings have no command-line flag (a password would show in
	// the process list): only the config file and TXC_* set them.
	noFlag bool
}

func durationSetting(key, help, def string, field func(*config) *time.Duration) setting {
	return setting{key: key, help: help, def: def, set: func(c *config, v string) error {
		d, err := time.ParseDuration(v)
		if err != nil {
			return fmt.Errorf("not a duration like 30s or 5m")
		}
		if d <= 0 {
			return fmt.Errorf("must be positive")
		}
		*field(c) = d
		return nil
	}}
}

// intSetting is an integer setting from lo to hi.
func intSetting(key, help, def string, lo, hi int, field func(*config) *int) setting {
	return setting{key: key, help: help, def: def, set: func(c *config, v string) error {
		n, err := strconv.Atoi(v)
		if err != nil || n < lo || n > hi {
			return fmt.Errorf("must be an integer from %d to %d", lo, hi)
		}
		*field(c) = n
		return nil
	}}
}

func fileSetting(key, help string, field func(*config) *string) setting {
	return setting{key: key, help: help, set: func(c *config, v string) error {
		if v != "" {
			if err := readableFile(v); err != nil {
				return err
			}
		}
		*field(c) = v
		return nil
	}}
}

func readableFile(path string) error {
	if fi, err := os.Stat(path); err != nil || fi.IsDir() {
		return fmt.Errorf("not a readable file")
	}
	return nil
}

func boolSetting(key, help, def string, field func(*config) *bool) setting {
	return setting{key: key, help: help, def: def, set: func(c *config, v string) error {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return fmt.Errorf("must be true or false")
		}
		*field(c) = b
		return nil
	}}
}

func addrSetting(key, help, def string, field func(*config) *string) setting {
	return setting{key: key, help: help, def: def, set: func(c *config, v string) error {
		if _, _, err := net.SplitHostPort(v); err != nil {
			return fmt.Errorf("not a host:port address")
		}
		*field(c) = v
		return nil
	}}
}

var settings = []setting{
	{key: "node", help: "name of this coordinator node in XIDs (unique within a cluster)", def: "txc1",
		set: func(c *config, v string) error {
			if !txc.ValidNodeName(v) {
				return fmt.Errorf("must be 1..63 characters of A-Z a-z 0-9 . _ -")
			}
			c.Node = v
			return nil
		}},
	addrSetting("listen", "gRPC listen address", "127.0.0.1:8091", func(c *config) *string { return &c.Listen }),
	addrSetting("admin_listen", "admin HTTP listen address (health, metrics, console)", "127.0.0.1:7091", func(c *config) *string { return &c.AdminListen }),
	{key: "data_dir", help: "directory of the embedded store", def: "./txc-data",
		set: func(c *config, v string) error {
			if strings.TrimSpace(v) == "" {
				return fmt.Errorf("must not be empty")
			}
			c.DataDir = v
			return nil
		}},
	{key: "store", help: "where the coordinator keeps its state: embedded (a log in --data-dir), mysql or postgres (a database shared by nodes, see --store-dsn)", def: "embedded",
		set: func(c *config, v string) error {
			switch v {
			case "embedded", "mysql", "postgres":
				c.Store = v
				return nil
			}
			return fmt.Errorf("must be embedded, mysql or postgres")
		}},
	{key: "store_dsn", help: "database of a mysql or postgres store: user:password@tcp(host:3306)/db or postgres://user:password@host:5432/db; never printed (prefer the env var or the config file to keep it out of ps)", def: "",
		secret: true,
		set: func(c *config, v string) error {
			if strings.TrimSpace(v) != v || strings.ContainsAny(v, "\n\r\x00") {
				return fmt.Errorf("must not begin or end with spaces or hold line breaks")
			}
			c.StoreDSN = v
			return nil
		}},
	{key: "store_table_prefix", help: "beginning of the names of a mysql or postgres store's tables; in a cluster, the base the nodes share: each node's partition adds its name, the shared lock table is <prefix>locks (at most 32 bytes then)", def: sqlstore.DefaultTablePrefix,
		set: func(c *config, v string) error {
			if err := sqlstore.CheckTablePrefix(v); err != nil {
				return fmt.Errorf("must be 1..40 of a-z 0-9 _ beginning with a letter or _")
			}
			c.StorePrefix = v
			return nil
		}},
	durationSetting("default_timeout", "timeout of a global transaction that asks for none", "60s", func(c *config) *time.Duration { return &c.DefaultTimeout }),
	durationSetting("max_timeout", "largest timeout a global transaction may ask for", "24h", func(c *config) *time.Duration { return &c.MaxTimeout }),
	durationSetting("retry_min", "first backoff between phase-2 attempts of a branch", "200ms", func(c *config) *time.Duration { return &c.RetryMin }),
	durationSetting("retry_max", "largest backoff between phase-2 attempts of a branch", "30s", func(c *config) *time.Duration { return &c.RetryMax }),
	durationSetting("ack_timeout", "resend a phase-2 command unanswered for this long", "30s", func(c *config) *time.Duration { return &c.AckTimeout }),
	durationSetting("finished_retention", "how long finished outcomes are remembered for late requests", "10m", func(c *config) *time.Duration { return &c.Retention }),
	intSetting("max_message_size", "largest frame accepted from a client, bytes", "16777216", 1<<16, 1<<30, func(c *config) *int { return &c.MaxMessageSize }),
	{key: "log_level", help: "debug, info, warn or error", def: "info",
		set: func(c *config, v string) error {
			switch v {
			case "debug", "info", "warn", "error":
				c.LogLevel = v
				return nil
			}
			return fmt.Errorf("must be debug, info, warn or error")
		}},
	boolSetting("pprof", "serve /debug/pprof/ on the admin address (true or false)", "false", func(c *config) *bool { return &c.Pprof }),
	fileSetting("tls_cert", "PEM certificate chain of both ports; with tls_key, turns TLS on (plaintext is then refused); reloaded when the file changes", func(c *config) *string { return &c.TLSCert }),
	fileSetting("tls_key", "PEM private key of tls_cert; reloaded when the file changes", func(c *config) *string { return &c.TLSKey }),
	fileSetting("client_ca", "PEM CA certificates of client certificates: the gRPC port then requires one (mutual TLS), the admin port verifies one if given; its URI SAN or common name is the client's identity", func(c *config) *string { return &c.ClientCA }),
	fileSetting("tokens_file", "YAML map of identity to bearer token (16+ characters); clients send 'authorization: Bearer TOKEN'; reloaded when the file changes", func(c *config) *string { return &c.TokensFile }),
	fileSetting("policy_file", "YAML policy of what each identity may do (identities: {NAME: {tm: true, resources: [ID, PREFIX*], admin: read|write}}); reloaded when the file changes; without it every authenticated identity may do everything", func(c *config) *string { return &c.PolicyFile }),
	boolSetting("admin_open_reads", "with credentials configured, let admin API views and /metrics through without one (actions always need one)", "false", func(c *config) *bool { return &c.OpenAdminReads }),
	{key: "max_active_per_client", help: "global transactions one client (an identity, or a stream without credentials) may have open, from begin to a final status; 0: no limit", def: "0",
		set: func(c *config, v string) error {
			n, err := strconv.Atoi(v)
			if err != nil || n < 0 {
				return fmt.Errorf("must be an integer, 0 or more")
			}
			c.MaxActive = n
			return nil
		}},
	{key: "procs", help: "GOMAXPROCS: auto (one P while the coordinator uses well under a core, the runtime's default from near one core on; a GOMAXPROCS environment variable wins) or a number of Ps", def: "auto",
		set: func(c *config, v string) error {
			if v == "auto" {
				c.Procs = 0
				return nil
			}
			n, err := strconv.Atoi(v)
			if err != nil || n < 1 || n > 1024 {
				return fmt.Errorf("must be auto or an integer from 1 to 1024")
			}
			c.Procs = n
			return nil
		}},
	intSetting("max_streams_per_conn", "concurrent gRPC streams one client connection may open", "16", 1, 1024, func(c *config) *int { return &c.MaxStreams }),
	intSetting("lock_query_workers", "in a cluster, lock queries answered from the shared lock table at once (each holds a store connection)",
		strconv.Itoa(server.DefaultLockQueryWorkers), 1, 256, func(c *config) *int { return &c.LockQueryWorkers }),
	intSetting("lock_query_backlog", "in a cluster, lock queries waiting for one of those; one more is refused at once as unavailable",
		strconv.Itoa(server.DefaultLockQueryBacklog), 1, 1<<20, func(c *config) *int { return &c.LockQueryBacklog }),
	durationSetting("store_timeout", "a store write unanswered this long is a store failure: the node stops deciding (and, in a cluster, hands over)", "10s", func(c *config) *time.Duration { return &c.StoreTimeout }),
	{key: "etcd_endpoints", help: "comma-separated etcd addresses (host:port, or https://host:port with etcd_ca); with them the node joins a cluster of active nodes: it drives the transactions it begins (its partition, in tables of its own) and adopts the partition of a node that is gone until it is back (needs store mysql or postgres)", def: "",
		set: func(c *config, v string) error {
			c.EtcdEndpoints = nil
			for _, ep := range strings.Split(v, ",") {
				if ep = strings.TrimSpace(ep); ep == "" {
					continue
				}
				if _, _, err := net.SplitHostPort(strings.TrimPrefix(strings.TrimPrefix(ep, "http://"), "https://")); err != nil {
					return fmt.Errorf("%q is not a host:port address", ep)
				}
				c.EtcdEndpoints = append(c.EtcdEndpoints, ep)
			}
			return nil
		}},
	{key: "etcd_prefix", help: "root of the cluster's etcd keys; nodes and clients of one cluster share it", def: cluster.DefaultPrefix,
		set: func(c *config, v string) error {
			if !strings.HasPrefix(v, "/") || strings.ContainsAny(v, " \n\x00") {
				return fmt.Errorf("must begin with / and hold no spaces")
			}
			c.EtcdPrefix = v
			return nil
		}},
	{key: "advertise_addr", help: "gRPC address clients reach this node at, registered in etcd; default: listen (which must then name a host)", def: "",
		set: func(c *config, v string) error {
			if v != "" {
				if _, _, err := net.SplitHostPort(v); err != nil {
					return fmt.Errorf("not a host:port address")
				}
			}
			c.AdvertiseAddr = v
			return nil
		}},
	durationSetting("etcd_lease_ttl", "lease of the node's etcd keys: a dead node's partition is adopted about this long after it died (whole seconds, 2s or more)", cluster.DefaultTTL.String(), func(c *config) *time.Duration { return &c.EtcdLeaseTTL }),
	{key: "etcd_ca", help: "PEM CA certificates of etcd's certificate: turns on TLS to etcd (needed with https:// endpoints); 'system' trusts the host's CAs instead",
		set: func(c *config, v string) error {
			if v != "" && v != "system" {
				if err := readableFile(v); err != nil {
					return err
				}
			}
			c.EtcdCA = v
			return nil
		}},
	fileSetting("etcd_cert", "PEM client certificate presented to etcd (mutual TLS), with etcd_key; reloaded when the file changes", func(c *config) *string { return &c.EtcdCert }),
	fileSetting("etcd_key", "PEM private key of etcd_cert; reloaded when the file changes", func(c *config) *string { return &c.EtcdKey }),
	{key: "etcd_server_name", help: "name to verify in etcd's certificate instead of each endpoint's host",
		set: func(c *config, v string) error { c.EtcdServerName = v; return nil }},
	{key: "etcd_user", help: "etcd user of an etcd with auth enabled (its role needs readwrite on etcd_prefix); needs etcd_ca and a password from TXC_ETCD_PASSWORD, etcd_password in the config file, or etcd_password_file",
		set: func(c *config, v string) error { c.EtcdUser = v; return nil }},
	{key: "etcd_password", help: "password of etcd_user; never printed", secret: true, noFlag: true,
		set: func(c *config, v string) error { c.EtcdPassword = v; return nil }},
	fileSetting("etcd_password_file", "file holding the password of etcd_user (a final line break is ignored); read at start", func(c *config) *string { return &c.EtcdPassFile }),
	{key: "log_format", help: "text or json", def: "text",
		set: func(c *config, v string) error {
			if v != "text" && v != "json" {
				return fmt.Errorf("must be text or json")
			}
			c.LogFormat = v
			return nil
		}},
}

func flagName(key string) string { return strings.ReplaceAll(key, "_", "-") }
func envName(key string) string  { return "TXC_" + strings.ToUpper(key) }

// registerFlags adds one flag per setting, plus --config.
func registerFlags(fs *pflag.FlagSet) {
	fs.String("config", "", "YAML file of settings (keys as in the flag names, with _ for -)")
	for _, s := range settings {
		if s.noFlag {
			continue
		}
		fs.String(flagName(s.key), s.def, s.help+" (env "+envName(s.key)+")")
	}
}

// loadConfig resolves every setting. A bad value is refused with an error
// naming the setting and where the value came from.
func loadConfig(fs *pflag.FlagSet, getenv func(string) string) (*config, error) {
	file := map[string]string{}
	path, _ := fs.GetString("config")
	if path == "" {
		path = getenv("TXC_CONFIG")
	}
	if path != "" {
		var err error
		if file, err = readYAML(path); err != nil {
			return nil, err
		}
	}
	c := &config{}
	var errs []error
	for _, s := range settings {
		v, from := s.def, "default"
		if fv, ok := file[s.key]; ok {
			v, from = fv, "config file "+path
		}
		if ev := getenv(envName(s.key)); ev != "" {
			v, from = ev, envName(s.key)
		}
		if f := fs.Lookup(flagName(s.key)); f != nil && f.Changed {
			v, from = f.Value.String(), "--"+flagName(s.key)
		}
		if err := s.set(c, v); err != nil {
			shown := fmt.Sprintf("%q", v)
			if s.secret {
				shown = "(not shown)"
			}
			errs = append(errs, fmt.Errorf("setting %s = %s (from %s): %w", s.key, shown, from, err))
		}
	}
	if len(errs) == 0 {
		if c.RetryMax < c.RetryMin {
			errs = append(errs, fmt.Errorf("setting retry_max (%v) is below retry_min (%v)", c.RetryMax, c.RetryMin))
		}
		if c.DefaultTimeout > c.MaxTimeout {
			errs = append(errs, fmt.Errorf("setting default_timeout (%v) is above max_timeout (%v)", c.DefaultTimeout, c.MaxTimeout))
		}
		if err := checkStore(c); err != nil {
			errs = append(errs, err)
		}
		if err := checkSecurity(c); err != nil {
			errs = append(errs, err)
		}
		if err := checkCluster(c); err != nil {
			errs = append(errs, err)
		}
		if err := checkEtcdAccess(c); err != nil {
			errs = append(errs, err)
		}
		if c.Listen == c.AdminListen {
			errs = append(errs, fmt.Errorf("settings listen and admin_listen are both %s", c.Listen))
		}
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return c, nil
}

func readYAML(path string) (map[string]string, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("config file: %w", err)
	}
	raw := map[string]any{}
	if err := yaml.Unmarshal(data, &raw); err != nil {
		return nil, fmt.Errorf("config file %s: %w", path, err)
	}
	known := map[string]bool{}
	for _, s := range settings {
		known[s.key] = true
	}
	out := map[string]string{}
	var unknown []string
	for k, v := range raw {
		if !known[k] {
			unknown = append(unknown, k)
			continue
		}
		switch v.(type) {
		case map[string]any, []any:
			return nil, fmt.Errorf("config file %s: setting %s must be a single value", path, k)
		case nil:
			continue
		}
		out[k] = fmt.Sprint(v)
	}
	if len(unknown) > 0 {
		sort.Strings(unknown)
		return nil, fmt.Errorf("config file %s: unknown setting(s) %s", path, strings.Join(unknown, ", "))
	}
	return out, nil
}

// checkStore checks that store and store_dsn agree and that the DSN
// parses, without ever quoting it.
func checkStore(c *config) error {
	if c.Store == "embedded" {
		if c.StoreDSN != "" {
			return fmt.Errorf("setting store_dsn is set but store is embedded (set store to mysql or postgres)")
		}
		return nil
	}
	if c.StoreDSN == "" {
		return fmt.Errorf("setting store is %s and needs store_dsn", c.Store)
	}
	d, err := sqlstore.ParseDialect(c.Store)
	if err == nil {
		_, err = sqlstore.Password(d, c.StoreDSN)
	}
	if err != nil {
		return fmt.Errorf("setting store_dsn: %w", err)
	}
	return nil
}

// checkSecurity checks that the TLS and access settings agree.
func checkSecurity(c *config) error {
	if (c.TLSCert == "") != (c.TLSKey == "") {
		return fmt.Errorf("settings tls_cert and tls_key go together: set both or neither")
	}
	if c.ClientCA != "" && c.TLSCert == "" {
		return fmt.Errorf("setting client_ca needs tls_cert and tls_key (mutual TLS is TLS)")
	}
	if c.PolicyFile != "" && c.TokensFile == "" && c.ClientCA == "" {
		return fmt.Errorf("setting policy_file needs a way to know identities: tokens_file or client_ca")
	}
	if c.TokensFile != "" && c.TLSCert == "" && !(loopbackAddr(c.Listen) && loopbackAddr(c.AdminListen)) {
		return fmt.Errorf("setting tokens_file needs tls_cert and tls_key when listen (%s) or admin_listen (%s) is not a loopback address: the tokens would cross the network in clear", c.Listen, c.AdminListen)
	}
	return nil
}

// loopbackAddr reports whether listen address addr (host:port) takes
// connections from this machine only.
func loopbackAddr(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	ip := net.ParseIP(host)
	return host == "localhost" || ip != nil && ip.IsLoopback()
}

// accessConfigured reports whether clients must authenticate.
func (c *config) accessConfigured() bool {
	return c.TokensFile != "" || c.PolicyFile != "" || c.ClientCA != ""
}

// checkCluster checks the cluster settings: a cluster needs a shared
// store and an address clients can reach.
func checkCluster(c *config) error {
	if len(c.EtcdEndpoints) == 0 {
		return nil
	}
	if c.Store == "embedded" {
		return fmt.Errorf("setting etcd_endpoints needs a store the nodes share: set store to mysql or postgres")
	}
	if c.EtcdLeaseTTL < 2*time.Second || c.EtcdLeaseTTL%time.Second != 0 {
		return fmt.Errorf("setting etcd_lease_ttl (%v) must be whole seconds, 2s or more", c.EtcdLeaseTTL)
	}
	if c.AdvertiseAddr == "" {
		host, _, _ := net.SplitHostPort(c.Listen)
		if ip := net.ParseIP(host); host == "" || ip != nil && ip.IsUnspecified() {
			return fmt.Errorf("setting listen (%s) names no host clients can reach: set advertise_addr", c.Listen)
		}
		c.AdvertiseAddr = c.Listen
	}
	return nil
}
