package main

import (
	"log/slog"

	"github.com/txcio/txc/tc/store"
	"github.com/txcio/txc/tc/store/pebblestore"
)

// openStore opens the embedded store in dir, creating it when missing.
func openStore(dir string, log *slog.Logger) (store.Store, error) {
	return pebblestore.Open(dir, pebblestore.Options{Logger: log})
}
