package server

import (
	"log/slog"

	"github.com/txcio/txc/internal/pemfile"
)

// fileWatch holds a value parsed from files and parses them again, on
// use, once their content changed (read at most once a second, see
// internal/pemfile). A reload that fails keeps the previous value and
// logs the failure once (never the files' content).
type fileWatch[T any] struct {
	w *pemfile.Watched[T]
}

var reloadMessages = pemfile.Messages{
	Failed:  "reload failed; keeping the previous one",
	Changed: "reloaded",
}

// newFileWatch parses the files once; an error there (parse's, which
// names the file) is returned. what names the files in log lines.
func newFileWatch[T any](what string, log *slog.Logger, parse func() (T, error), paths ...string) (*fileWatch[T], error) {
	if _, err := parse(); err != nil {
		return nil, err
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	w, err := pemfile.Open(log.With("what", what), reloadMessages, func([][]byte) (T, error) { return parse() }, paths...)
	if err != nil {
		return nil, err
	}
	return &fileWatch[T]{w: w}, nil
}

// get returns the current value, reloading it first if a file changed.
func (f *fileWatch[T]) get() T { return f.w.Get() }
