// Package pemfile follows files that rotate in place — certificates, their
// keys, CA bundles — for programs that run for months: a file is read
// again on use when its content changed, at most once per CheckEvery, and
// a read that fails (a file missing, unreadable or half written) never
// replaces the last good value: the failure is logged once, and the value
// last read stays in use.
package pemfile

import (
	"bytes"
	"log/slog"
	"os"
	"sync"
	"time"
)

// CheckEvery bounds how often a Watched reads its files. A variable for
// tests only.
var CheckEvery = time.Second

// Watched is the value parsed from one or more files, read again when
// their content changes. Safe for concurrent use.
type Watched[T any] struct {
	paths []string
	parse func(contents [][]byte) (T, error)
	msgs  Messages
	log   *slog.Logger

	mu      sync.Mutex
	val     T        // from the last good contents
	seen    [][]byte // the last good contents
	failed  string   // the failure last logged, "" after a good read
	checked time.Time
}

// Messages are the log lines of a Watched: Failed (at error level, with
// the error) when its files cannot be used, Changed (at info level) when
// a new content was taken.
type Messages struct {
	Failed, Changed string
}

// Open reads paths and parses their contents with parse; an error (naming
// the files, never their content) when they cannot be read or parsed.
// log, which may be nil, gets the later reloads and their failures.
func Open[T any](log *slog.Logger, msgs Messages, parse func(contents [][]byte) (T, error), paths ...string) (*Watched[T], error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	w := &Watched[T]{paths: paths, parse: parse, msgs: msgs, log: log}
	contents, val, err := w.read()
	if err != nil {
		return nil, err
	}
	w.val, w.seen, w.checked = val, contents, time.Now()
	return w, nil
}

// Get returns the value to use now, reading the files first when they
// were last read over CheckEvery ago.
func (w *Watched[T]) Get() T {
	w.mu.Lock()
	defer w.mu.Unlock()
	if time.Since(w.checked) < CheckEvery {
		return w.val
	}
	w.checked = time.Now()
	contents, val, err := w.read()
	switch {
	case err != nil:
		if err.Error() != w.failed {
			w.failed = err.Error()
			w.log.Error(w.msgs.Failed, "files", w.paths, "err", err)
		}
	case !sameContents(contents, w.seen):
		w.val, w.seen, w.failed = val, contents, ""
		w.log.Info(w.msgs.Changed, "files", w.paths)
	default:
		w.failed = ""
	}
	return w.val
}

func (w *Watched[T]) read() ([][]byte, T, error) {
	var zero T
	contents := make([][]byte, len(w.paths))
	for i, p := range w.paths {
		b, err := os.ReadFile(p)
		if err != nil {
			return nil, zero, err
		}
		contents[i] = b
	}
	val, err := w.parse(contents)
	if err != nil {
		return nil, zero, err
	}
	return contents, val, nil
}

func sameContents(a, b [][]byte) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if !bytes.Equal(a[i], b[i]) {
			return false
		}
	}
	return true
}
