package memstore_test

import (
	"sync"
	"testing"

	"github.com/txcio/txc/tc/store"
	"github.com/txcio/txc/tc/store/memstore"
	"github.com/txcio/txc/tc/store/storetest"
)

// harness keeps one memstore per directory, so that the suite's reopen
// finds the contents it left.
func harness() storetest.Harness {
	var mu sync.Mutex
	stores := map[string]*memstore.Store{}
	return storetest.Harness{
		Open: func(dir string) (store.Store, error) {
			mu.Lock()
			defer mu.Unlock()
			s, ok := stores[dir]
			if !ok {
				s = memstore.New()
				stores[dir] = s
			}
			s.Reopen()
			return s, nil
		},
		FailNext: func(s store.Store, err error, keepAll bool) {
			keep := memstore.KeepNone
			if keepAll {
				keep = memstore.KeepAll
			}
			s.(*memstore.Store).Fail(err, keep)
		},
	}
}

func TestConformance(t *testing.T) { storetest.Run(t, harness()) }

func BenchmarkApply(b *testing.B) { storetest.Bench(b, harness()) }
