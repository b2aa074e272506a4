package main

import (
	"log/slog"

	"github.com/txcio/txc/tc/store"
	"github.com/txcio/txc/tc/store/logstore"
)

// openStore opens the embedded store in dir, creating it when missing.
func openStore(dir string, log *slog.Logger) (store.Store, error) {
	return logstore.Open(dir, logstore.Options{Logger: log})
}
