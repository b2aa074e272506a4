package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/spf13/pflag"
	"github.com/txcio/txc/tc/server"
	"gopkg.in/yaml.v3"
)

func parse(t *testing.T, args []string, env map[string]string) (*config, error) {
	t.Helper()
	fs := pflag.NewFlagSet("test", pflag.ContinueOnError)
	registerFlags(fs)
	if err := fs.Parse(args); err != nil {
		t.Fatal(err)
	}
	return loadConfig(fs, func(k string) string { return env[k] })
}

func writeFile(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "txc.yaml")
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestDefaults(t *testing.T) {
	c, err := parse(t, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if c.Listen != "127.0.0.1:8091" || c.AdminListen != "127.0.0.1:7091" || c.DataDir != "./txc-data" ||
		c.DefaultTimeout != time.Minute || c.Node != "txc1" || c.Procs != 0 {
		t.Fatalf("defaults = %+v", c)
	}
}

func TestPrecedenceFileEnvFlag(t *testing.T) {
	file := writeFile(t, "listen: 127.0.0.1:1001\nadmin_listen: 127.0.0.1:2001\ndefault_timeout: 5s\nretry_min: 1s\n")
	c, err := parse(t, []string{"--config", file, "--listen", "127.0.0.1:1003"},
		map[string]string{"TXC_LISTEN": "127.0.0.1:1002", "TXC_DEFAULT_TIMEOUT": "7s"})
	if err != nil {
		t.Fatal(err)
	}
	if c.Listen != "127.0.0.1:1003" || c.AdminListen != "127.0.0.1:2001" || c.DefaultTimeout != 7*time.Second || c.RetryMin != time.Second {
		t.Fatalf("got %+v", c)
	}
}

// badSetting is a configuration that must be refused with an error
// mentioning every string of want and never secret (if set).
type badSetting struct {
	args []string
	env  map[string]string
	file string
	want []string
}

// checkRefused parses each case and checks its error.
func checkRefused(t *testing.T, cases []badSetting, secret string) {
	t.Helper()
	for _, c := range cases {
		args := c.args
		if c.file != "" {
			args = append(args, "--config", writeFile(t, c.file))
		}
		_, err := parse(t, args, c.env)
		if err == nil {
			t.Errorf("%v %v %q: accepted", c.args, c.env, c.file)
			continue
		}
		if secret != "" && strings.Contains(err.Error(), secret) {
			t.Errorf("%v %v %q: the error shows the secret: %v", c.args, c.env, c.file, err)
		}
		for _, w := range c.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%v %v %q: error %q does not mention %q", c.args, c.env, c.file, err, w)
			}
		}
	}
}

func TestBadSettingsAreNamed(t *testing.T) {
	checkRefused(t, []badSetting{
		{args: []string{"--default-timeout", "soon"}, want: []string{"default_timeout", "--default-timeout"}},
		{env: map[string]string{"TXC_LISTEN": "nowhere"}, want: []string{"listen", "TXC_LISTEN"}},
		{args: []string{"--node", "a:b"}, want: []string{"node"}},
		{args: []string{"--retry-min", "10s", "--retry-max", "1s"}, want: []string{"retry_max"}},
		{args: []string{"--admin-listen", "127.0.0.1:8091"}, want: []string{"admin_listen"}},
		{args: []string{"--max-message-size", "12"}, want: []string{"max_message_size"}},
		{args: []string{"--log-level", "loud"}, want: []string{"log_level"}},
		{args: []string{"--procs", "0"}, want: []string{"procs", "auto"}},
		{env: map[string]string{"TXC_PROCS": "many"}, want: []string{"procs", "TXC_PROCS"}},
		{file: "listen: 127.0.0.1:1\nlisten_adress: x\n", want: []string{"unknown setting", "listen_adress"}},
		{file: "retry_min: [1, 2]\n", want: []string{"retry_min", "single value"}},
		{file: "max_timeout: -5s\n", want: []string{"max_timeout", "positive", "config file"}},
		{file: ": : :\n", want: []string{"config file"}},
		{args: []string{"--lock-query-workers", "0"}, want: []string{"lock_query_workers", "from 1 to 256"}},
		{env: map[string]string{"TXC_LOCK_QUERY_BACKLOG": "lots"}, want: []string{"lock_query_backlog", "TXC_LOCK_QUERY_BACKLOG"}},
	}, "")
}

// TestLockQuerySettings: the lock-query pool's bounds default to the
// server's and are set from the file, the environment and flags.
func TestLockQuerySettings(t *testing.T) {
	c, err := parse(t, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if c.LockQueryWorkers != server.DefaultLockQueryWorkers || c.LockQueryBacklog != server.DefaultLockQueryBacklog {
		t.Fatalf("defaults %d, %d", c.LockQueryWorkers, c.LockQueryBacklog)
	}
	file := writeFile(t, "lock_query_workers: 2\nlock_query_backlog: 10\n")
	c, err = parse(t, []string{"--config", file, "--lock-query-workers", "8"}, map[string]string{"TXC_LOCK_QUERY_BACKLOG": "64"})
	if err != nil {
		t.Fatal(err)
	}
	if c.LockQueryWorkers != 8 || c.LockQueryBacklog != 64 {
		t.Fatalf("got %d, %d; want 8, 64", c.LockQueryWorkers, c.LockQueryBacklog)
	}
}

func TestMissingConfigFile(t *testing.T) {
	if _, err := parse(t, []string{"--config", "/nonexistent/txc.yaml"}, nil); err == nil || !strings.Contains(err.Error(), "config file") {
		t.Fatalf("err = %v", err)
	}
}

const dsnPassword = "pw-Secret-42"

func TestStoreSettings(t *testing.T) {
	c, err := parse(t, nil, nil)
	if err != nil || c.Store != "embedded" || c.StoreDSN != "" || c.StorePrefix != "txc_tc_" {
		t.Fatalf("default store = %q %q, %v", c.Store, c.StoreDSN, err)
	}
	pg := "postgres://txc:" + dsnPassword + "@db:5432/txc"
	c, err = parse(t, []string{"--store", "postgres", "--store-dsn", pg}, nil)
	if err != nil || c.Store != "postgres" || c.StoreDSN != pg {
		t.Fatalf("flags: %+v, %v", c, err)
	}
	my := "txc:" + dsnPassword + "@tcp(db:3306)/txc"
	c, err = parse(t, nil, map[string]string{"TXC_STORE": "mysql", "TXC_STORE_DSN": my})
	if err != nil || c.Store != "mysql" || c.StoreDSN != my {
		t.Fatalf("env: %+v, %v", c, err)
	}
	c, err = parse(t, []string{"--config", writeFile(t, "store: postgres\nstore_dsn: "+pg+"\nstore_table_prefix: blue_\n")}, nil)
	if err != nil || c.Store != "postgres" || c.StoreDSN != pg || c.StorePrefix != "blue_" {
		t.Fatalf("file: %+v, %v", c, err)
	}
}

// TestStoreSettingsRefused: bad store settings are named, and the DSN's
// password never shows in the error.
func TestStoreSettingsRefused(t *testing.T) {
	checkRefused(t, []badSetting{
		{args: []string{"--store", "sqlite"}, want: []string{"store", "embedded, mysql or postgres"}},
		{args: []string{"--store-table-prefix", "Blue-"}, want: []string{"store_table_prefix", "a-z"}},
		{args: []string{"--store", "postgres"}, want: []string{"store", "needs store_dsn"}},
		{args: []string{"--store-dsn", "postgres://u:" + dsnPassword + "@db/x"}, want: []string{"store_dsn", "store is embedded"}},
		{args: []string{"--store", "mysql", "--store-dsn", "u:" + dsnPassword + "@tcp(db:3306/x"}, want: []string{"store_dsn", "malformed mysql DSN"}},
		{env: map[string]string{"TXC_STORE": "postgres", "TXC_STORE_DSN": "postgres://u:" + dsnPassword + "@db:port/x"}, want: []string{"store_dsn", "malformed postgres DSN"}},
		{file: "store: mysql\nstore_dsn: \"u:" + dsnPassword + "@tcp(db\"\n", want: []string{"store_dsn", "malformed"}},
		{file: "store_dsn: [\"" + dsnPassword + "\"]\n", want: []string{"store_dsn", "single value"}},
		{args: []string{"--store", "postgres", "--store-dsn", "postgres://u:" + dsnPassword + "@db/x "}, want: []string{"store_dsn", "--store-dsn", "not shown", "spaces"}},
		{env: map[string]string{"TXC_STORE": "mysql", "TXC_STORE_DSN": "u:" + dsnPassword + "@tcp(db)/x\n"}, want: []string{"store_dsn", "TXC_STORE_DSN", "line breaks"}},
	}, dsnPassword)
}

func TestClusterSettings(t *testing.T) {
	pg := "postgres://txc:pw@db:5432/txc"
	c, err := parse(t, []string{"--store", "postgres", "--etcd-endpoints", "e1:2379, e2:2379", "--listen", "10.0.0.5:8091"},
		map[string]string{"TXC_STORE_DSN": pg})
	if err != nil {
		t.Fatal(err)
	}
	if len(c.EtcdEndpoints) != 2 || c.EtcdEndpoints[1] != "e2:2379" || c.AdvertiseAddr != "10.0.0.5:8091" ||
		c.EtcdPrefix != "/txc" || c.EtcdLeaseTTL != 5*time.Second {
		t.Fatalf("cluster settings = %+v", c)
	}
	for _, bad := range []struct {
		args []string
		want string
	}{
		{[]string{"--etcd-endpoints", "e1:2379"}, "needs a store the nodes share"},
		{[]string{"--store", "postgres", "--etcd-endpoints", "e1:2379", "--listen", "0.0.0.0:8091"}, "set advertise_addr"},
		{[]string{"--store", "postgres", "--etcd-endpoints", "e1"}, "not a host:port"},
		{[]string{"--store", "postgres", "--etcd-endpoints", "e1:2379", "--etcd-lease-ttl", "1500ms"}, "whole seconds"},
		{[]string{"--store", "postgres", "--etcd-endpoints", "e1:2379", "--etcd-prefix", "txc"}, "must begin with /"},
	} {
		_, err := parse(t, bad.args, map[string]string{"TXC_STORE_DSN": pg})
		if err == nil || !strings.Contains(err.Error(), bad.want) {
			t.Errorf("%v: err = %v, want %q", bad.args, err, bad.want)
		}
		if err != nil && strings.Contains(err.Error(), "pw") {
			t.Errorf("%v: error shows the DSN's password: %v", bad.args, err)
		}
	}
}

// TestComposeNodesSettings reads docker/compose.yaml (no Docker engine
// here to run it) and checks that each txc node's environment is a
// setting txc-server accepts, and that the three nodes form one cluster.
func TestComposeNodesSettings(t *testing.T) {
	data, err := os.ReadFile("../../docker/compose.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var file struct {
		Services map[string]struct {
			Environment map[string]string `yaml:"environment"`
		} `yaml:"services"`
	}
	if err := yaml.Unmarshal(data, &file); err != nil {
		t.Fatal(err)
	}
	nodes := map[string]bool{}
	for name, svc := range file.Services {
		if !strings.HasPrefix(name, "txc") {
			continue
		}
		env := svc.Environment
		// The image's own settings (docker/Dockerfile).
		env["TXC_LISTEN"], env["TXC_ADMIN_LISTEN"] = "0.0.0.0:8091", "0.0.0.0:7091"
		c, err := parse(t, nil, env)
		if err != nil {
			t.Fatalf("service %s: %v", name, err)
		}
		if len(c.EtcdEndpoints) == 0 || c.Store == "embedded" {
			t.Fatalf("service %s is not a cluster node: %+v", name, c)
		}
		nodes[c.Node] = true
	}
	if len(nodes) != 3 {
		t.Fatalf("compose file runs nodes %v, want three distinct", nodes)
	}
}
