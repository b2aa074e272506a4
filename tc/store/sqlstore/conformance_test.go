package sqlstore

import (
	"database/sql"
	"testing"

	"github.com/txcio/txc/tc/store/storetest"
)

// TestConformance runs the store suite, the SIGKILL child included, on
// MariaDB and PostgreSQL.
func TestConformance(t *testing.T) {
	forEachDialect(t, func(t *testing.T, d Dialect, dsn string, db *sql.DB) {
		storetest.Run(t, harness(t, d, dsn, db))
	})
}

// BenchmarkApply measures Apply on the coordinator's write pattern; see
// storetest.Bench.
func BenchmarkApply(b *testing.B) {
	for _, c := range dialects {
		b.Run(c.d.String(), func(b *testing.B) { storetest.Bench(b, harness(b, c.d, c.dsn, c.db(b))) })
	}
}

// BenchmarkApplyLatency reports Apply's latency distribution; see
// storetest.BenchLatency.
func BenchmarkApplyLatency(b *testing.B) {
	for _, c := range dialects {
		b.Run(c.d.String(), func(b *testing.B) { storetest.BenchLatency(b, harness(b, c.d, c.dsn, c.db(b))) })
	}
}
