package main

import (
	"log/slog"

	"github.com/txcio/txc/tc/store"
	"github.com/txcio/txc/tc/store/logstore"
	"github.com/txcio/txc/tc/store/pebblestore"
)

// openStore opens the embedded store of the given engine in dir, creating
// it when missing.
func openStore(engine, dir string, log *slog.Logger) (store.Store, error) {
	if engine == "pebble" {
		return pebblestore.Open(dir, pebblestore.Options{Logger: log})
	}
	return logstore.Open(dir, logstore.Options{Logger: log})
}
