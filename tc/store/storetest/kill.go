package storetest

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/txcio/txc"
	"github.com/txcio/txc/tc/store"
)

// killDirEnv, when set in the environment of a test binary, makes Run act
// as the child of the kill test: it opens the store in the named dir and
// applies batches until it is killed.
const killDirEnv = "TXC_STORETEST_KILL_DIR"

func crashChildDir() (string, bool) { return os.LookupEnv(killDirEnv) }

// killBatch returns batch n (n ≥ 1) of the kill test. It is deterministic,
// so the parent can rebuild what batches 1..n add up to. Batch n begins
// transaction n with three branches (every eighth with 256 KiB of
// application data each, so that writes take a while and a kill is likely
// to land in one), moves transaction n-1 to Committing and updates one of
// its branches, deletes transaction n-4, and sets NextID to n, which tells
// the parent how many batches the store holds.
func killBatch(n uint64) *store.Batch {
	x := txc.NewXID("kill", n)
	g := global(x, txc.GlobalBegin)
	g.Begun = ms.Add(time.Duration(n) * time.Millisecond)
	b := &store.Batch{PutGlobals: []store.Global{g}, NextID: n}
	size := 48
	if n%8 == 0 {
		size = 256 << 10
	}
	for i := range uint64(3) {
		br := branch(x, txc.BranchID(4*n+i), txc.BranchRegistered)
		br.ApplicationData = make([]byte, size)
		r := rand.New(rand.NewPCG(n, i))
		for j := range br.ApplicationData {
			br.ApplicationData[j] = byte(r.Uint32())
		}
		b.PutBranches = append(b.PutBranches, br)
	}
	if n > 1 {
		prev := txc.NewXID("kill", n-1)
		b.PutGlobals = append(b.PutGlobals, global(prev, txc.GlobalCommitting))
		b.SetBranchStatus = append(b.SetBranchStatus, store.BranchStatus{XID: prev, ID: txc.BranchID(4 * (n - 1)), Status: txc.BranchPhaseOneDone})
	}
	if n > 4 {
		b.DeleteGlobals = append(b.DeleteGlobals, txc.NewXID("kill", n-4))
	}
	return b
}

// runCrashChild is the child of the kill test. It reports each batch on
// stdout ("ack N") only after Apply returned nil for it.
func runCrashChild(t *testing.T, h Harness, dir string) {
	fail := func(format string, args ...any) {
		fmt.Fprintf(os.Stderr, "storetest child: "+format+"\n", args...)
		os.Exit(2)
	}
	ctx := t.Context()
	s, err := h.Open(dir)
	if err != nil {
		fail("open %s: %v", dir, err)
	}
	st, err := s.Load(ctx)
	if err != nil {
		fail("load: %v", err)
	}
	// Stop by ourselves if the parent never kills us.
	for n, stop := st.NextID+1, time.Now().Add(30*time.Second); time.Now().Before(stop); n++ {
		if err := s.Apply(ctx, killBatch(n)); err != nil {
			fail("apply %d: %v", n, err)
		}
		if _, err := fmt.Fprintf(os.Stdout, "ack %d\n", n); err != nil {
			fail("write ack: %v", err)
		}
	}
	fail("not killed within 30s")
}

// runPattern returns a -test.run pattern that selects exactly the test
// called name.
func runPattern(name string) string {
	parts := strings.Split(name, "/")
	for i, p := range parts {
		parts[i] = "^" + regexp.QuoteMeta(p) + "$"
	}
	return strings.Join(parts, "/")
}

func testKillProcess(t *testing.T, e *env, testName string) {
	if !e.h.Subprocess {
		t.Skip("the store does not outlive its process")
	}
	exe, err := os.Executable()
	if err != nil {
		t.Skipf("cannot re-execute the test binary: %v", err)
	}
	if testing.Short() {
		t.Skip("storetest: -short: the kill test needs a subprocess")
	}
	rounds := 5
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	r := rand.New(rand.NewPCG(seed, 0))

	var applied uint64 // batches the store holds, as of the last reopen
	for round := range rounds {
		target := 1 + r.IntN(300)
		acked := killChild(t, exe, testName, e.dir, target, time.Duration(r.Int64N(int64(2*time.Millisecond))))
		acked = max(acked, applied)

		s := e.open(t)
		st, err := s.Load(t.Context())
		if err != nil {
			t.Fatalf("round %d: Load after kill: %v", round, err)
		}
		n := st.NextID
		if n < acked || n > acked+1 {
			t.Fatalf("round %d: the store holds %d batches; %d were acknowledged (one more may have been in flight)", round, n, acked)
		}
		for e.model.Applies() < int(n) {
			if err := e.model.Apply(t.Context(), killBatch(uint64(e.model.Applies()+1))); err != nil {
				t.Fatal(err)
			}
		}
		e.check(t)
		t.Logf("round %d: killed after %d acknowledged batches; store holds %d", round, acked, n)
		if err := s.Close(); err != nil {
			t.Fatalf("Close: %v", err)
		}
		applied = n
	}
}

// killChild starts the child on dir, waits until it has acknowledged
// target batches, waits delay more, kills it with SIGKILL and returns the
// highest batch number it acknowledged.
func killChild(t *testing.T, exe, testName, dir string, target int, delay time.Duration) uint64 {
	t.Helper()
	// The bounds are for a hung child, not a slow one: on a loaded
	// machine a SQL store's child has taken over 20 s for 300 batches.
	ctx, cancel := context.WithTimeout(t.Context(), 4*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, exe, "-test.run="+runPattern(testName), "-test.count=1")
	cmd.Env = append(os.Environ(), killDirEnv+"="+dir)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start child: %v", err)
	}
	var (
		mu      sync.Mutex
		last    uint64
		count   int
		reached = make(chan struct{})
		done    = make(chan struct{})
		junk    []string
	)
	go func() {
		defer close(done)
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			line := sc.Text()
			n, ok := strings.CutPrefix(line, "ack ")
			v, err := strconv.ParseUint(n, 10, 64)
			mu.Lock()
			if !ok || err != nil {
				junk = append(junk, line)
			} else {
				last = v
				count++
				if count == target {
					close(reached)
				}
			}
			mu.Unlock()
		}
	}()
	select {
	case <-reached:
		time.Sleep(delay)
	case <-done:
	case <-time.After(3 * time.Minute):
		t.Errorf("child acknowledged fewer than %d batches in 3 minutes", target)
	}
	_ = cmd.Process.Kill()
	<-done
	err = cmd.Wait()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.Exited() {
		t.Fatalf("child ended by itself (%v) before it was killed; stderr:\n%s\nother output:\n%s",
			err, stderr.String(), strings.Join(junk, "\n"))
	}
	mu.Lock()
	defer mu.Unlock()
	return last
}
