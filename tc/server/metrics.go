package server

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/txcio/txc"
	"github.com/txcio/txc/tc"
	"github.com/txcio/txc/tc/store"
)

// Metrics are the server's Prometheus instruments. A nil *Metrics counts
// nothing.
type Metrics struct {
	begun      prometheus.Counter
	finished   *prometheus.CounterVec
	requests   *prometheus.CounterVec
	conflicts  prometheus.Counter
	commands   prometheus.Counter
	retries    prometheus.Counter
	manual     prometheus.Counter
	timeouts   prometheus.Counter
	streams    prometheus.Gauge
	syncs      prometheus.Histogram
	batchItems prometheus.Histogram
}

// NewMetrics creates the instruments and registers them with reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		begun: prometheus.NewCounter(prometheus.CounterOpts{Name: "txc_transactions_begun_total",
			Help: "Global transactions begun."}),
		finished: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "txc_transactions_finished_total",
			Help: "Global transactions that reached a final status, by status."}, []string{"status"}),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "txc_requests_total",
			Help: "Requests answered, by kind and error code."}, []string{"kind", "code"}),
		conflicts: prometheus.NewCounter(prometheus.CounterOpts{Name: "txc_lock_conflicts_total",
			Help: "Branch registrations refused for a lock held by another transaction."}),
		commands: prometheus.NewCounter(prometheus.CounterOpts{Name: "txc_phase2_commands_total",
			Help: "Phase-2 commands sent to resource managers."}),
		retries: prometheus.NewCounter(prometheus.CounterOpts{Name: "txc_phase2_retries_total",
			Help: "Phase-2 attempts that failed or found no resource manager and will be retried."}),
		manual: prometheus.NewCounter(prometheus.CounterOpts{Name: "txc_manual_action_total",
			Help: "Transactions parked as needing manual action."}),
		timeouts: prometheus.NewCounter(prometheus.CounterOpts{Name: "txc_timeouts_total",
			Help: "Transactions rolled back because their deadline passed."}),
		streams: prometheus.NewGauge(prometheus.GaugeOpts{Name: "txc_streams",
			Help: "Client sessions connected."}),
		syncs: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "txc_store_sync_seconds",
			Help: "Time to make one batch durable.", Buckets: prometheus.ExponentialBuckets(0.00005, 2, 16)}),
		batchItems: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "txc_store_batch_items",
			Help: "Changes per durable batch (group commit).", Buckets: prometheus.ExponentialBuckets(1, 2, 14)}),
	}
	reg.MustRegister(m.begun, m.finished, m.requests, m.conflicts, m.commands, m.retries, m.manual,
		m.timeouts, m.streams, m.syncs, m.batchItems)
	return m
}

func (m *Metrics) observeSync(d time.Duration, b *store.Batch) {
	if m == nil {
		return
	}
	m.syncs.Observe(d.Seconds())
	m.batchItems.Observe(float64(len(b.PutGlobals) + len(b.PutBranches) + len(b.SetBranchStatus) +
		len(b.DeleteBranches) + len(b.DeleteGlobals)))
}

func (m *Metrics) observeReply(r *tc.Reply) {
	if m == nil {
		return
	}
	code := txc.CodeOf(r.Err)
	m.requests.WithLabelValues(r.Kind.String(), code.String()).Inc()
	switch {
	case r.Kind == tc.KindBegin && code == txc.CodeOK:
		m.begun.Inc()
	case code == txc.CodeLockConflict:
		m.conflicts.Inc()
	}
}

func (m *Metrics) observeCommand() {
	if m != nil {
		m.commands.Inc()
	}
}

func (m *Metrics) observeEvent(e *tc.Event) {
	if m == nil {
		return
	}
	switch e.Kind {
	case tc.EventFinished:
		m.finished.WithLabelValues(e.Status.String()).Inc()
	case tc.EventRetry:
		m.retries.Inc()
	case tc.EventManualAction:
		m.manual.Inc()
	case tc.EventTimeout:
		m.timeouts.Inc()
	}
}

func (m *Metrics) connected(delta float64) {
	if m != nil {
		m.streams.Add(delta)
	}
}
