package pemfile

import (
	"bytes"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// upper parses the files as their upper-cased joined text; "bad" fails.
func upper(c [][]byte) (string, error) {
	s := string(bytes.Join(c, []byte("+")))
	if strings.Contains(s, "bad") {
		return "", errors.New("bad content")
	}
	return strings.ToUpper(s), nil
}

// TestWatchedFollowsChanges: a change is taken on the next Get; a file
// that cannot be read or parsed keeps the last good value, logged once
// per new failure; a good content after that is taken again.
func TestWatchedFollowsChanges(t *testing.T) {
	every := CheckEvery
	CheckEvery = 0
	t.Cleanup(func() { CheckEvery = every })
	dir := t.TempDir()
	a, b := filepath.Join(dir, "a"), filepath.Join(dir, "b")
	write := func(p, s string) {
		if err := os.WriteFile(p, []byte(s), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write(a, "one")
	write(b, "two")
	var logs bytes.Buffer
	w, err := Open(slog.New(slog.NewTextHandler(&logs, nil)), Messages{Failed: "FAILED", Changed: "CHANGED"}, upper, a, b)
	if err != nil {
		t.Fatal(err)
	}
	want := func(when, v string, failed, changed int) {
		t.Helper()
		if got := w.Get(); got != v {
			t.Fatalf("%s: Get = %q, want %q", when, got, v)
		}
		if n := strings.Count(logs.String(), "FAILED"); n != failed {
			t.Fatalf("%s: %d failures logged, want %d", when, n, failed)
		}
		if n := strings.Count(logs.String(), "CHANGED"); n != changed {
			t.Fatalf("%s: %d changes logged, want %d", when, n, changed)
		}
	}
	want("unchanged", "ONE+TWO", 0, 0)
	write(b, "three")
	want("changed", "ONE+THREE", 0, 1)
	write(a, "bad")
	want("unparsable", "ONE+THREE", 1, 1)
	want("unparsable again", "ONE+THREE", 1, 1)
	os.Remove(a)
	want("removed", "ONE+THREE", 2, 1)
	write(a, "four")
	want("good again", "FOUR+THREE", 2, 2)
}

// TestOpenRefuses: files that cannot be read or parsed fail Open.
func TestOpenRefuses(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad")
	os.WriteFile(bad, []byte("bad"), 0o600)
	for _, p := range []string{filepath.Join(dir, "missing"), bad} {
		if _, err := Open(nil, Messages{}, upper, p); err == nil {
			t.Errorf("Open(%s) succeeded", p)
		}
	}
}

// TestCheckEveryBoundsReads: within CheckEvery a change is not read.
func TestCheckEveryBoundsReads(t *testing.T) {
	p := filepath.Join(t.TempDir(), "f")
	os.WriteFile(p, []byte("one"), 0o600)
	w, err := Open(nil, Messages{}, upper, p)
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(p, []byte("two"), 0o600)
	if got := w.Get(); got != "ONE" {
		t.Fatalf("read again within CheckEvery: %q", got)
	}
}
