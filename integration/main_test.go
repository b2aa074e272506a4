// Package integration runs end-to-end tests against real txc-server
// processes (built from this tree), with real resource managers over the
// protocol. Tests here never skip: every component they need is built or
// started by the tests themselves. Under go test -short (make test-short)
// the package runs nothing: every test needs a subprocess.
package integration

import (
	"context"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

var binDir string

func TestMain(m *testing.M) {
	flag.Parse()
	if testing.Short() {
		fmt.Println("integration: -short: every test needs txc-server processes; none run")
		os.Exit(0)
	}
	dir, err := os.MkdirTemp("", "txc-integration-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	build := exec.Command("go", "build", "-race", "-o", dir+"/", "../cmd/txc-server", "../cmd/txcctl")
	build.Stdout, build.Stderr = os.Stdout, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "integration: building txc-server and txcctl:", err)
		os.Exit(1)
	}
	binDir = dir
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// tcProcess is one txc-server process.
type tcProcess struct {
	t       *testing.T
	dataDir string
	addr    string
	admin   string
	args    []string
	cmd     *exec.Cmd
	logPath string
	exited  chan error
	// httpc and scheme reach the admin port (plain http by default; see
	// startTCWith for TLS).
	httpc  *http.Client
	scheme string
	// readyPath is where start waits for a 200: /readyz by default;
	// /healthz for a cluster node, which may stand by.
	readyPath string
}

func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// startTC starts a server on fresh ports and data dir and waits until ready.
func startTC(t *testing.T, extra ...string) *tcProcess {
	t.Helper()
	return startTCWith(t, nil, extra...)
}

// startTCWith is startTC with setup run on the process before it starts
// (to set its admin client and scheme, or arguments naming its ports).
func startTCWith(t *testing.T, setup func(*tcProcess), extra ...string) *tcProcess {
	t.Helper()
	p := &tcProcess{t: t, dataDir: t.TempDir(), addr: freeAddr(t), admin: freeAddr(t), args: extra,
		httpc: http.DefaultClient, scheme: "http", readyPath: "/readyz"}
	if setup != nil {
		setup(p)
	}
	p.logPath = filepath.Join(t.TempDir(), "txc-server.log")
	p.start()
	t.Cleanup(func() {
		p.kill()
		if t.Failed() {
			if b, err := os.ReadFile(p.logPath); err == nil {
				t.Logf("txc-server log:\n%s", tail(string(b), 4000))
			}
		}
	})
	return p
}

func tail(s string, n int) string {
	if len(s) > n {
		return "…" + s[len(s)-n:]
	}
	return s
}

func (p *tcProcess) start() {
	p.t.Helper()
	log, err := os.OpenFile(p.logPath, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		p.t.Fatal(err)
	}
	args := append([]string{"--listen", p.addr, "--admin-listen", p.admin, "--data-dir", p.dataDir, "--log-level", "debug"}, p.args...)
	p.cmd = exec.Command(filepath.Join(binDir, "txc-server"), args...)
	p.cmd.Stdout, p.cmd.Stderr = log, log
	if err := p.cmd.Start(); err != nil {
		p.t.Fatal(err)
	}
	p.exited = make(chan error, 1)
	go func() { p.exited <- p.cmd.Wait(); log.Close() }()
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case err := <-p.exited:
			b, _ := os.ReadFile(p.logPath)
			p.t.Fatalf("txc-server exited at start: %v\n%s", err, tail(string(b), 4000))
		default:
		}
		resp, err := p.httpc.Get(p.scheme + "://" + p.admin + p.readyPath)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	p.t.Fatal("txc-server not ready within 60s")
}

// kill9 kills the process with SIGKILL, as a crash would.
func (p *tcProcess) kill9() {
	p.t.Helper()
	if p.cmd == nil || p.cmd.Process == nil {
		return
	}
	p.cmd.Process.Signal(syscall.SIGKILL)
	<-p.exited
	p.cmd = nil
}

func (p *tcProcess) kill() {
	if p.cmd != nil && p.cmd.Process != nil {
		p.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-p.exited:
		case <-time.After(10 * time.Second):
			p.cmd.Process.Kill()
			<-p.exited
		}
		p.cmd = nil
	}
}

func (p *tcProcess) restart() {
	p.t.Helper()
	p.start()
}

func (p *tcProcess) get(path string) (int, string) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", "http://"+p.admin+path, nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	var b strings.Builder
	buf := make([]byte, 4096)
	for {
		n, err := resp.Body.Read(buf)
		b.Write(buf[:n])
		if err != nil {
			break
		}
	}
	return resp.StatusCode, b.String()
}

// waitLog waits until the server's log holds sub at least n times, and
// returns the log.
func (p *tcProcess) waitLog(t *testing.T, sub string, n int) string {
	t.Helper()
	var log string
	waitFor(t, 30*time.Second, func() bool {
		log = p.readLog()
		return strings.Count(log, sub) >= n
	}, fmt.Sprintf("the server to log %q %d times", sub, n))
	return log
}

// readLog returns the server's log so far ("" before it has one).
func (p *tcProcess) readLog() string {
	b, _ := os.ReadFile(p.logPath)
	return string(b)
}
