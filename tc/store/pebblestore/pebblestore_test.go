package pebblestore_test

import (
	"bytes"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/txcio/txc"
	"github.com/txcio/txc/tc/store"
	"github.com/txcio/txc/tc/store/pebblestore"
	"github.com/txcio/txc/tc/store/storetest"
)

func harness() storetest.Harness {
	return storetest.Harness{
		Open:       func(dir string) (store.Store, error) { return pebblestore.Open(dir, pebblestore.Options{}) },
		Subprocess: true,
	}
}

func TestConformance(t *testing.T) { storetest.Run(t, harness()) }

// BenchmarkApply measures Apply on the coordinator's write pattern; see
// storetest.Bench.
func BenchmarkApply(b *testing.B) { storetest.Bench(b, harness()) }

func TestOpenCreatesDir(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "a", "b")
	s, err := pebblestore.Open(dir, pebblestore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if fi, err := os.Stat(dir); err != nil || !fi.IsDir() {
		t.Fatalf("Open did not create %s: %v", dir, err)
	}
}

func TestOpenLocked(t *testing.T) {
	dir := t.TempDir()
	s, err := pebblestore.Open(dir, pebblestore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	_, err = pebblestore.Open(dir, pebblestore.Options{})
	if !errors.Is(err, pebblestore.ErrLocked) {
		t.Fatalf("second Open = %v, want ErrLocked", err)
	}
	if !strings.HasPrefix(err.Error(), "pebblestore: ") {
		t.Errorf("error %q does not start with the package name", err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s, err = pebblestore.Open(dir, pebblestore.Options{})
	if err != nil {
		t.Fatalf("Open after Close: %v", err)
	}
	_ = s.Close()
}

func TestOpenNotADir(t *testing.T) {
	f := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(f, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := pebblestore.Open(f, pebblestore.Options{}); err == nil || !strings.HasPrefix(err.Error(), "pebblestore: ") {
		t.Fatalf("Open(file) = %v, want a pebblestore error", err)
	}
}

// TestQuietLogger checks that a normal life cycle logs nothing at Info
// level or above.
func TestQuietLogger(t *testing.T) {
	var buf bytes.Buffer
	logger := slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelInfo}))
	dir := t.TempDir()
	for range 2 {
		s, err := pebblestore.Open(dir, pebblestore.Options{Logger: logger})
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Apply(t.Context(), &store.Batch{PutGlobals: []store.Global{{XID: "q:1", Status: txc.GlobalBegin}}}); err != nil {
			t.Fatal(err)
		}
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
	}
	if buf.Len() != 0 {
		t.Fatalf("logged at Info level or above:\n%s", buf.String())
	}
}
