package integration

import (
	"bufio"
	"fmt"
	"io"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// builds remembers, per testdata program, the outcome of building it.
var builds sync.Map // name → *built

type built struct {
	once sync.Once
	err  error
}

// buildTestdata builds testdata/<name> into binDir once per test binary
// (with -race, as the tests run); a failed build fails every test that
// needs the program.
func buildTestdata(t *testing.T, name string) {
	t.Helper()
	v, _ := builds.LoadOrStore(name, &built{})
	b := v.(*built)
	b.once.Do(func() {
		out, err := exec.Command("go", "build", "-race", "-o", binDir+"/", "./testdata/"+name).CombinedOutput()
		if err != nil {
			b.err = fmt.Errorf("building %s: %v\n%s", name, err, out)
		}
	})
	if b.err != nil {
		t.Fatal(b.err)
	}
}

// childProc is a helper program of these tests (built from
// testdata/<name> into binDir) that prints "ready <host:port>" on stdout
// once it serves HTTP there. Its stderr is kept for the test's log.
type childProc struct {
	t      *testing.T
	name   string
	args   []string
	cmd    *exec.Cmd
	url    string
	exited chan struct{}
	mu     sync.Mutex
	log    strings.Builder
}

// start runs the program and waits until it is ready; the test fails if
// it exits first or is not ready within 60 s.
func (p *childProc) start() {
	p.t.Helper()
	p.cmd = exec.Command(filepath.Join(binDir, p.name), p.args...)
	stdout, _ := p.cmd.StdoutPipe()
	stderr, _ := p.cmd.StderrPipe()
	if err := p.cmd.Start(); err != nil {
		p.t.Fatal(err)
	}
	p.exited = make(chan struct{})
	go func() {
		s := bufio.NewScanner(stderr)
		for s.Scan() {
			p.mu.Lock()
			p.log.WriteString(s.Text() + "\n")
			p.mu.Unlock()
		}
	}()
	ready := make(chan string, 1)
	go func() {
		s := bufio.NewScanner(stdout)
		for s.Scan() {
			if a, ok := strings.CutPrefix(s.Text(), "ready "); ok {
				ready <- a
			}
		}
		io.Copy(io.Discard, stdout)
	}()
	go func(c *exec.Cmd, done chan struct{}) { c.Wait(); close(done) }(p.cmd, p.exited)
	select {
	case a := <-ready:
		p.url = "http://" + a
	case <-p.exited:
		p.t.Fatalf("%s exited at start:\n%s", p.name, p.logText())
	case <-time.After(60 * time.Second):
		p.t.Fatalf("%s not ready within 60s", p.name)
	}
}

// kill9 kills the program with SIGKILL and waits for it to be gone.
func (p *childProc) kill9() {
	if p.cmd != nil {
		p.cmd.Process.Signal(syscall.SIGKILL)
		<-p.exited
		p.cmd = nil
	}
}

// logText is the program's stderr so far.
func (p *childProc) logText() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.log.String()
}
