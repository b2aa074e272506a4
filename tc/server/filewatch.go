package server

import (
	"log/slog"
	"os"
	"sync"
	"time"
)

// reloadCheckEvery bounds how often a fileWatch looks at its files'
// modification times. A variable for tests only.
var reloadCheckEvery = time.Second

// fileWatch holds a value parsed from files and parses them again, on
// use, once any of them has a new modification time or size (checked at
// most every reloadCheckEvery). A reload that fails keeps the previous
// value and logs the failure (never the files' content).
type fileWatch[T any] struct {
	what  string
	paths []string
	parse func() (T, error)
	log   *slog.Logger

	mu      sync.Mutex
	cur     T
	stamps  []fileStamp
	checked time.Time
}

type fileStamp struct {
	mod  time.Time
	size int64
}

// newFileWatch parses the files once; an error there is returned.
func newFileWatch[T any](what string, log *slog.Logger, parse func() (T, error), paths ...string) (*fileWatch[T], error) {
	w := &fileWatch[T]{what: what, paths: paths, parse: parse, log: log}
	w.stamps = w.stat()
	v, err := parse()
	if err != nil {
		return nil, err
	}
	w.cur, w.checked = v, time.Now()
	return w, nil
}

func (w *fileWatch[T]) stat() []fileStamp {
	out := make([]fileStamp, len(w.paths))
	for i, p := range w.paths {
		if fi, err := os.Stat(p); err == nil {
			out[i] = fileStamp{mod: fi.ModTime(), size: fi.Size()}
		}
	}
	return out
}

// get returns the current value, reloading it first if a file changed.
func (w *fileWatch[T]) get() T {
	w.mu.Lock()
	defer w.mu.Unlock()
	if time.Since(w.checked) < reloadCheckEvery {
		return w.cur
	}
	w.checked = time.Now()
	st := w.stat()
	changed := false
	for i := range st {
		changed = changed || st[i] != w.stamps[i]
	}
	if !changed {
		return w.cur
	}
	w.stamps = st
	v, err := w.parse()
	if err != nil {
		w.log.Error("reload failed; keeping the previous one", "what", w.what, "err", err)
		return w.cur
	}
	w.cur = v
	w.log.Info("reloaded", "what", w.what)
	return w.cur
}
